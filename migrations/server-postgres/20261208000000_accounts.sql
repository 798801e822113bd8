-- The fleet console's named accounts: users with a role (owner, admin, dispatcher, depot,
-- viewer) and an Argon2id password hash (PHC string); their sessions, by a keyed hash of
-- the cookie's token (a copy of the database holds no session a browser could use); the
-- one-time setup links for the first owner, by a keyed hash of their token.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT
);

CREATE TABLE sessions (
    token_hash   BYTEA PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE setup_links (
    token_hash BYTEA PRIMARY KEY,
    created_at BIGINT NOT NULL,
    used_at    BIGINT
);
