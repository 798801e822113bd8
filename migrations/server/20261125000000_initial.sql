-- Doorstep dispatch server: initial schema.
-- Times are Unix milliseconds (INTEGER) unless the column name says otherwise.

CREATE TABLE shippers (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    api_key_hash  BLOB NOT NULL UNIQUE,
    webhook_url   TEXT,
    webhook_secret TEXT,
    created_at    INTEGER NOT NULL
);

CREATE TABLE couriers (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE enrollments (
    code_hash  BLOB PRIMARY KEY,
    courier_id TEXT NOT NULL REFERENCES couriers(id),
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    created_at INTEGER NOT NULL
);

CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    courier_id   TEXT NOT NULL REFERENCES couriers(id),
    token_hash   BLOB NOT NULL UNIQUE,
    public_key   TEXT NOT NULL,
    app_version  TEXT NOT NULL,
    platform     TEXT NOT NULL,
    enrolled_at  INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_seen_at INTEGER,
    last_seq     INTEGER NOT NULL DEFAULT 0,
    last_hash    TEXT NOT NULL
);

-- A stop: one recipient at one address on one day. Its parcels share one code and one
-- failed-attempt counter (the counter survives resends).
CREATE TABLE stops (
    id              TEXT PRIMARY KEY,
    delivery_date   TEXT NOT NULL,
    recipient_key   TEXT NOT NULL,
    courier_id      TEXT REFERENCES couriers(id),
    recipient_name  TEXT NOT NULL,
    phone           TEXT,
    email           TEXT,
    address         TEXT NOT NULL,
    postal_code     TEXT NOT NULL,
    lat             REAL,
    lon             REAL,
    sequence        INTEGER NOT NULL,
    code_required   INTEGER NOT NULL,
    code_digits     INTEGER NOT NULL,
    max_attempts    INTEGER NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    offline_allowed INTEGER NOT NULL,
    validity_days   INTEGER NOT NULL,
    reasons         TEXT NOT NULL,
    public_ref      TEXT NOT NULL UNIQUE,
    recipient_ref   BLOB NOT NULL,
    last_resend_at  INTEGER,
    resends         INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    UNIQUE (delivery_date, recipient_key)
);

CREATE TABLE parcels (
    id                    TEXT PRIMARY KEY,
    shipper_id            TEXT NOT NULL REFERENCES shippers(id),
    stop_id               TEXT NOT NULL REFERENCES stops(id),
    barcode_key           TEXT NOT NULL UNIQUE,
    barcode_raw           TEXT NOT NULL,
    description           TEXT,
    declared_value_minor  INTEGER,
    currency              TEXT,
    method                TEXT NOT NULL,
    age_restricted        INTEGER NOT NULL,
    recipient_opt_in      INTEGER NOT NULL,
    shipper_requires_code INTEGER NOT NULL,
    code_required         INTEGER NOT NULL,
    photo_required        INTEGER NOT NULL,
    offline_allowed       INTEGER NOT NULL,
    reasons               TEXT NOT NULL,
    status                TEXT NOT NULL DEFAULT 'pending',
    created_at            INTEGER NOT NULL
);
CREATE INDEX parcels_stop ON parcels(stop_id);

-- Delivery codes, only as HMAC-SHA256(server secret, stop id + code). One active per stop.
CREATE TABLE codes (
    id            TEXT PRIMARY KEY,
    stop_id       TEXT NOT NULL REFERENCES stops(id),
    code_hash     BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    superseded_at INTEGER
);
CREATE INDEX codes_stop ON codes(stop_id);

CREATE TABLE verifications (
    id         TEXT PRIMARY KEY,
    stop_id    TEXT NOT NULL REFERENCES stops(id),
    code_id    TEXT NOT NULL REFERENCES codes(id),
    device_id  TEXT NOT NULL REFERENCES devices(id),
    created_at INTEGER NOT NULL
);

-- Handover tokens accepted at sync, by nonce: each token is accepted once.
CREATE TABLE used_tokens (
    nonce      BLOB PRIMARY KEY,
    stop_id    TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    used_at    INTEGER NOT NULL
);

-- Delivery events, each id stored once with the answer it got.
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    device_id   TEXT NOT NULL REFERENCES devices(id),
    seq         INTEGER NOT NULL,
    stop_id     TEXT NOT NULL,
    parcel_ids  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    body_hash   TEXT NOT NULL,
    body        TEXT NOT NULL,
    status      TEXT NOT NULL,
    reject_code TEXT,
    result      TEXT NOT NULL,
    delivery_date TEXT,
    received_at INTEGER NOT NULL
);
CREATE INDEX events_date ON events(delivery_date);

CREATE TABLE photos (
    sha256     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    device_id  TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Messages to send (email, SMS, webhooks). Bodies that contain a code are wiped once sent.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT,
    headers         TEXT,
    stop_id         TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    sent_at         INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox(sent_at, next_attempt_at);

-- Demo mode only: what "would have been sent", for QA.
CREATE TABLE dev_messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    channel    TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    stop_id    TEXT,
    sent_at    INTEGER NOT NULL
);
