-- The console's numbers (issue 19): the history a stop's code counter forgets, and a daily
-- roll-up of the numbers that is dropped whenever what it was made from changes.

-- Wrong codes the server counted at the stop (online checks and offline records), and how
-- often the stop locked. `failed_attempts` is the live counter and starts again at 0 with the
-- fleet's new code; these two never go down. Filled from the counter for the stops already
-- stored (a lock undone by a new code before this migration is not known).
ALTER TABLE stops ADD COLUMN wrong_codes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE stops ADD COLUMN lockouts BIGINT NOT NULL DEFAULT 0;
UPDATE stops SET wrong_codes = failed_attempts,
                 lockouts = CASE WHEN code_required <> 0 AND failed_attempts >= max_attempts THEN 1 ELSE 0 END;

-- A record's parcels, from the record (the numbers read a day's records with their parcels).
CREATE INDEX event_parcels_event ON event_parcels(event_id);

-- The roll-up: the numbers of one closed delivery day, per courier and postcode area
-- (`cell`: JSON of crate::domain::numbers::Cell; courier_id '' for stops on no route). A day
-- counts as rolled up only while its row in numbers_days exists.
CREATE TABLE numbers_days (
    day      TEXT PRIMARY KEY,
    built_at BIGINT NOT NULL
);
CREATE TABLE numbers_cells (
    day        TEXT NOT NULL,
    courier_id TEXT NOT NULL,
    area       TEXT NOT NULL,
    cell       TEXT NOT NULL,
    PRIMARY KEY (day, courier_id, area)
);

-- Whatever changes what a day's numbers are made from drops the roll-up of that day and of
-- every later one (a late record can make a later attempt no longer the parcel's first, and
-- a failed attempt moves its parcels to a later day). The next read rolls them up again.
-- Today's records find no roll-up (only closed days are rolled up), so on the hot paths
-- these are one index probe that deletes nothing. (The SQLite triggers of the same names do
-- the same.)
CREATE FUNCTION numbers_event_stored() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM numbers_days WHERE day >= NEW.delivery_date;
    RETURN NULL;
END $$;
CREATE TRIGGER numbers_event_stored AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION numbers_event_stored();

CREATE FUNCTION numbers_parcel_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM numbers_days WHERE day >= (SELECT delivery_date FROM stops WHERE id = NEW.stop_id);
    RETURN NULL;
END $$;
CREATE TRIGGER numbers_parcel_added AFTER INSERT ON parcels
    FOR EACH ROW EXECUTE FUNCTION numbers_parcel_added();

CREATE FUNCTION numbers_parcel_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM numbers_days
     WHERE day >= (SELECT MIN(delivery_date) FROM stops WHERE id IN (OLD.stop_id, NEW.stop_id));
    RETURN NULL;
END $$;
CREATE TRIGGER numbers_parcel_changed AFTER UPDATE OF stop_id, code_required, reasons ON parcels
    FOR EACH ROW EXECUTE FUNCTION numbers_parcel_changed();

CREATE FUNCTION numbers_stop_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM numbers_days WHERE day >= NEW.delivery_date;
    RETURN NULL;
END $$;
CREATE TRIGGER numbers_stop_changed AFTER UPDATE OF courier_id, postal_code, code_required, wrong_codes, lockouts ON stops
    FOR EACH ROW EXECUTE FUNCTION numbers_stop_changed();

CREATE FUNCTION numbers_code_made() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM numbers_days WHERE day >= (SELECT delivery_date FROM stops WHERE id = NEW.stop_id);
    RETURN NULL;
END $$;
CREATE TRIGGER numbers_code_made AFTER INSERT ON codes
    FOR EACH ROW EXECUTE FUNCTION numbers_code_made();
