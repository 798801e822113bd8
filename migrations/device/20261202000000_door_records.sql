-- Records that are not a handover (issue 11): an unexpected parcel, a depot check-in, a
-- correction of a handover. SQLite cannot change a CHECK constraint, so `event` and
-- `delivery` are rebuilt with the wider ones (new table, copy, drop, rename), their rows and
-- order kept. The new delivery table refers to the new event table from the start, and the old
-- tables are dropped child first, so no foreign key is ever broken (the migration runs in one
-- transaction, where foreign keys cannot be switched off); renaming event_v2 to event renames
-- the reference with it.

CREATE TABLE event_v2 (
    seq             INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    stop_id         TEXT    NOT NULL,
    kind            TEXT    NOT NULL
                            CHECK (kind IN ('delivered', 'failed', 'unexpected', 'depot_check_in', 'correction')),
    -- The signed DeliveryEvent JSON, byte for byte as it is sent.
    body            TEXT    NOT NULL,
    chain_hash      TEXT    NOT NULL,
    photo_sha256    TEXT    REFERENCES photo (sha256),
    stop_address    TEXT    NOT NULL,
    recipient_name  TEXT    NOT NULL,
    barcodes        TEXT    NOT NULL,
    committed_at_ms INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'synced', 'disputed')),
    reason          TEXT,
    -- The server's closed reason code for a refused record (the UI translates it).
    reject_code     TEXT
) STRICT;
INSERT INTO event_v2 (seq, id, stop_id, kind, body, chain_hash, photo_sha256, stop_address,
    recipient_name, barcodes, committed_at_ms, state, reason)
    SELECT seq, id, stop_id, kind, body, chain_hash, photo_sha256, stop_address, recipient_name,
    barcodes, committed_at_ms, state, reason FROM event;

-- 'corrected': a correction record put the parcel back to deliver.
CREATE TABLE delivery_v2 (
    parcel_id TEXT    NOT NULL,
    event_seq INTEGER NOT NULL REFERENCES event_v2 (seq),
    outcome   TEXT    NOT NULL CHECK (outcome IN ('delivered', 'exception', 'corrected')),
    PRIMARY KEY (parcel_id, event_seq)
) STRICT;
INSERT INTO delivery_v2 SELECT * FROM delivery;

DROP TABLE delivery;
DROP TABLE event;
ALTER TABLE event_v2 RENAME TO event;
ALTER TABLE delivery_v2 RENAME TO delivery;
CREATE INDEX event_by_state ON event (state, seq);
