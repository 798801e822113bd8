-- The fleet's release channel (issue 8): builds the fleet manager publishes per platform, with a
-- staged rollout, pause and withdraw; the minimum supported version per platform; tokens that
-- may only publish.
CREATE TABLE releases (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    platform        TEXT NOT NULL,
    version         TEXT NOT NULL,
    -- An uploaded file (stored as releases/<sha256>) or a link (store, TestFlight).
    sha256          TEXT,
    size            INTEGER,
    url             TEXT,
    rollout_percent INTEGER NOT NULL,
    paused          INTEGER NOT NULL DEFAULT 0,
    withdrawn       INTEGER NOT NULL DEFAULT 0,
    published_at    INTEGER NOT NULL,
    published_by    TEXT NOT NULL,
    UNIQUE (platform, version)
);
CREATE INDEX releases_sha256 ON releases (sha256) WHERE sha256 IS NOT NULL;

CREATE TABLE release_minimums (
    platform   TEXT PRIMARY KEY,
    version    TEXT NOT NULL,
    set_at     INTEGER NOT NULL,
    set_by     TEXT NOT NULL
);

CREATE TABLE release_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash  TEXT NOT NULL UNIQUE,
    label       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
