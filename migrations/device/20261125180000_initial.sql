-- The courier device's local store. Append-only: add a new file for every change.

-- This device's enrollment: at most one row.
CREATE TABLE enrollment (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    server_url     TEXT    NOT NULL,
    device_id      TEXT    NOT NULL,
    device_token   TEXT    NOT NULL,
    courier_id     TEXT    NOT NULL,
    courier_name   TEXT    NOT NULL,
    fleet_name     TEXT    NOT NULL,
    -- Ed25519 secret key (32 bytes) that signs this device's event chain.
    signing_key    BLOB    NOT NULL,
    -- Pinned public token keys, JSON array of PublicTokenKey.
    token_keys     TEXT    NOT NULL,
    -- The fleet's app version policy from the last sync, JSON AppVersionPolicy.
    app_policy     TEXT,
    enrolled_at_ms INTEGER NOT NULL
) STRICT;

-- Downloaded manifests, one per day, with the ETag for conditional requests.
CREATE TABLE manifest (
    date          TEXT    PRIMARY KEY,
    etag          TEXT,
    body          TEXT    NOT NULL,
    fetched_at_ms INTEGER NOT NULL
) STRICT;

-- Proof photos, copied into the data directory, uploaded before the events that use them.
CREATE TABLE photo (
    sha256   TEXT    PRIMARY KEY,
    path     TEXT    NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The outbox and the signed audit chain in one: one row per delivery event, in chain order.
CREATE TABLE event (
    seq             INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    stop_id         TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('delivered', 'failed')),
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
    reason          TEXT
) STRICT;

CREATE INDEX event_by_state ON event (state, seq);

-- What each event did to each parcel, for the route's local status.
CREATE TABLE delivery (
    parcel_id TEXT    NOT NULL,
    event_seq INTEGER NOT NULL REFERENCES event (seq),
    outcome   TEXT    NOT NULL CHECK (outcome IN ('delivered', 'exception')),
    PRIMARY KEY (parcel_id, event_seq)
) STRICT;

-- Local audit log of what the courier did (never holds codes or tokens).
CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    at_ms  INTEGER NOT NULL,
    action TEXT    NOT NULL,
    detail TEXT    NOT NULL
) STRICT;
