-- Per-device quotas (issue 9). Append only. PostgreSQL 15 twin of
-- migrations/server/20261201000200_limits.sql (identical statement).

-- The per-device photo quota sums a device's photos of the last 24 hours on every upload.
CREATE INDEX photos_by_device ON photos(device_id, created_at);
