-- Outbox hardening (issue 9): bounded retries, wiped bodies, signed webhooks at send time.
-- Append only. PostgreSQL 15 twin of migrations/server/20261201000100_outbox_limits.sql
-- (INTEGER -> BIGINT; SQLite's json_valid/json_extract have no PostgreSQL 15 equivalent
-- usable in plain SQL, so the webhook back-fill is a DO block: see below).

-- A message that will never be sent: given up after the last try ('gave_up'), its code
-- replaced or expired before it went out ('void'), or held back because its recipient got
-- too many code messages ('rate_limited'). Its body is wiped; last_error says why.
ALTER TABLE outbox ADD COLUMN dropped_at BIGINT;
ALTER TABLE outbox ADD COLUMN drop_reason TEXT;
-- The delivery code a customer message carries, so the message is voided when that code
-- expires or is replaced.
ALTER TABLE outbox ADD COLUMN code_id TEXT;
-- The shipper a webhook is for: its signature is made at send time with the shipper's
-- secret, so each retry carries a fresh timestamp.
ALTER TABLE outbox ADD COLUMN shipper_id TEXT;

-- Webhooks queued before this migration carry a precomputed signature; sign them anew.
-- SQLite:
--   UPDATE outbox
--      SET shipper_id = (SELECT p.shipper_id FROM parcels p
--                         WHERE p.id = json_extract(outbox.body, '$.parcel_id')),
--          headers = NULL
--    WHERE channel = 'webhook' AND sent_at IS NULL AND json_valid(body);
-- PostgreSQL 15 has no json_valid (nor `IS JSON`, which came in 16), and a cast of a body
-- that is not JSON raises instead of yielding false, so each candidate row is tried on its
-- own: a body that does not parse is skipped (json_valid = 0 or NULL), a body that parses is
-- updated. `->> 'parcel_id'` gives what json_extract gives for a top-level key (text of a
-- string, number or nested value; NULL when absent, JSON null, or not an object); a value it
-- cannot turn into text (\u0000, lone surrogates) matches no parcel, so shipper_id is NULL.
-- A no-op on a new database (the PostgreSQL backend starts empty).
DO $$
DECLARE
    r   record;
    doc json;
    pid text;
BEGIN
    FOR r IN SELECT id, body FROM outbox
              WHERE channel = 'webhook' AND sent_at IS NULL AND body IS NOT NULL
    LOOP
        BEGIN
            doc := r.body::json;
        EXCEPTION WHEN invalid_text_representation THEN
            CONTINUE;
        END;
        BEGIN
            pid := doc ->> 'parcel_id';
        EXCEPTION WHEN invalid_text_representation OR untranslatable_character THEN
            pid := NULL;
        END;
        UPDATE outbox
           SET shipper_id = (SELECT p.shipper_id FROM parcels p WHERE p.id = pid),
               headers = NULL
         WHERE id = r.id;
    END LOOP;
END
$$;

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
