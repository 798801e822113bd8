-- Hardening of proofs (issue 9): single-use bound verifications, consumed codes, keyed
-- chain hashes, chain-break review. Append only.

-- An online verification is bound to its device and the parcels it covered, used by one
-- record, and expires.
ALTER TABLE verifications ADD COLUMN parcel_ids TEXT NOT NULL DEFAULT '[]';
ALTER TABLE verifications ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE verifications ADD COLUMN used_by_event TEXT;

-- Why a code stopped being the stop's code: 'resend' (the customer asked), 'reset' (the fleet
-- manager made a new one; the old one is void for every record), 'joined' (a parcel joined
-- the stop), 'consumed' (the stop was handed over). Consumed codes keep no hash.
ALTER TABLE codes ADD COLUMN ended_by TEXT;

-- The chain head as a keyed hash (a plain hash of an event that holds an offline code lets a
-- copy of the database recover the code in a million trials), the time of the last record,
-- and the state of a broken chain waiting for the fleet manager.
ALTER TABLE devices ADD COLUMN chain_mac BLOB;
ALTER TABLE devices ADD COLUMN last_occurred_at INTEGER;
ALTER TABLE devices ADD COLUMN chain_broken_at INTEGER;
ALTER TABLE devices ADD COLUMN chain_broken_event TEXT;
ALTER TABLE devices ADD COLUMN chain_broken_reason TEXT;
ALTER TABLE devices ADD COLUMN chain_broken_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN chain_broken_max_seq INTEGER;
ALTER TABLE devices ADD COLUMN reanchor_allowed_at INTEGER;
ALTER TABLE devices ADD COLUMN review_until_seq INTEGER;
ALTER TABLE devices ADD COLUMN bad_signatures INTEGER NOT NULL DEFAULT 0;

-- Events: the keyed hash replaces body_hash (kept empty for new rows); records accepted
-- after a chain was re-anchored are marked for the fleet manager's review.
ALTER TABLE events ADD COLUMN body_mac BLOB;
ALTER TABLE events ADD COLUMN review INTEGER NOT NULL DEFAULT 0;
-- The fleet page lists the records to review on every load: only those, not every event.
CREATE INDEX events_review ON events(received_at) WHERE review = 1;

-- Who did what, for the fleet manager's actions that change trust.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  TEXT NOT NULL
);
