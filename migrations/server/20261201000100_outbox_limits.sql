-- Outbox hardening (issue 9): bounded retries, wiped bodies, signed webhooks at send time.
-- Append only.

-- A message that will never be sent: given up after the last try ('gave_up'), its code
-- replaced or expired before it went out ('void'), or held back because its recipient got
-- too many code messages ('rate_limited'). Its body is wiped; last_error says why.
ALTER TABLE outbox ADD COLUMN dropped_at INTEGER;
ALTER TABLE outbox ADD COLUMN drop_reason TEXT;
-- The delivery code a customer message carries, so the message is voided when that code
-- expires or is replaced.
ALTER TABLE outbox ADD COLUMN code_id TEXT;
-- The shipper a webhook is for: its signature is made at send time with the shipper's
-- secret, so each retry carries a fresh timestamp.
ALTER TABLE outbox ADD COLUMN shipper_id TEXT;

-- Webhooks queued before this migration carry a precomputed signature; sign them anew.
UPDATE outbox
   SET shipper_id = (SELECT p.shipper_id FROM parcels p
                      WHERE p.id = json_extract(outbox.body, '$.parcel_id')),
       headers = NULL
 WHERE channel = 'webhook' AND sent_at IS NULL AND json_valid(body);

-- Customer messages queued before this migration carry the code their stop had then.
UPDATE outbox
   SET code_id = (SELECT c.id FROM codes c
                   WHERE c.stop_id = outbox.stop_id AND c.created_at <= outbox.created_at
                   ORDER BY c.created_at DESC LIMIT 1)
 WHERE stop_id IS NOT NULL AND channel IN ('email', 'sms');

CREATE INDEX outbox_pending ON outbox(next_attempt_at)
    WHERE sent_at IS NULL AND dropped_at IS NULL;
CREATE INDEX outbox_pending_codes ON outbox(code_id)
    WHERE sent_at IS NULL AND dropped_at IS NULL AND code_id IS NOT NULL;
CREATE INDEX outbox_recipient ON outbox(lower(recipient), created_at)
    WHERE code_id IS NOT NULL;
