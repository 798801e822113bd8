-- Many server nodes on one database (issue 10).
-- fleet_settings: facts every node must agree on, e.g. the fingerprint of the secrets the
-- database was set up with (a node with other secrets would answer wrongly, so it refuses to
-- start).
CREATE TABLE fleet_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
