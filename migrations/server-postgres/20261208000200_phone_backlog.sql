-- What each phone still holds: the records it has not sent yet and when the oldest was made
-- (the phone reports both with each manifest request; NULL until it does), when it reported
-- that, and when it last sent records (a sync).
ALTER TABLE devices ADD COLUMN unsent_records BIGINT;
ALTER TABLE devices ADD COLUMN oldest_unsent_at BIGINT;
ALTER TABLE devices ADD COLUMN backlog_reported_at BIGINT;
ALTER TABLE devices ADD COLUMN last_sync_at BIGINT;
