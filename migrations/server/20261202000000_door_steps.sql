-- Steps at the door (issue 11). Append only.
-- parcels.door: the methods the parcel may be handed over by, each with the steps the policy
-- asks for (JSON list of DoorMethod, as the manifest carries it); '[]' for parcels made before,
-- which then take their own method with the stop's code and their photo rule.
-- parcels.safe_places: where the shipper allows the parcel to be left (JSON list of strings).
ALTER TABLE parcels ADD COLUMN door TEXT NOT NULL DEFAULT '[]';
ALTER TABLE parcels ADD COLUMN safe_places TEXT NOT NULL DEFAULT '[]';
-- The recipient's language for messages and the customer page ('en' or 'es'); NULL: English.
ALTER TABLE stops ADD COLUMN language TEXT;

-- Failed attempts (issue 11): what the policy says happens after a failed delivery
-- ('reattempt' on the next delivery day, or 'return' to the depot), how many failed attempts a
-- parcel may have before it goes back, how many it had, and the day of the last one.
ALTER TABLE parcels ADD COLUMN on_failure TEXT NOT NULL DEFAULT 'reattempt';
ALTER TABLE parcels ADD COLUMN max_delivery_attempts INTEGER NOT NULL DEFAULT 2;
ALTER TABLE parcels ADD COLUMN failed_deliveries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE parcels ADD COLUMN last_attempt_date TEXT;
-- The stop a reattempt moved the parcel from: that day's manifest still lists it (as failed),
-- so the courier can try again the same day, and a record on that stop is still its own.
ALTER TABLE parcels ADD COLUMN moved_from TEXT;

-- Parcels a courier found that are not on their route, as reported (one per record), and
-- whether the fleet manager put them on a route.
CREATE TABLE unexpected_parcels (
    event_id     TEXT PRIMARY KEY,
    courier_id   TEXT NOT NULL REFERENCES couriers(id),
    device_id    TEXT NOT NULL REFERENCES devices(id),
    barcode_key  TEXT NOT NULL,
    barcode_raw  TEXT NOT NULL,
    photo_sha256 TEXT,
    note         TEXT,
    report_date  TEXT NOT NULL,
    reported_at  INTEGER NOT NULL,
    assigned_at  INTEGER,
    assigned_by  TEXT
);
CREATE INDEX unexpected_parcels_open ON unexpected_parcels(reported_at) WHERE assigned_at IS NULL;

-- The end-of-day depot check-in of a courier's van: the labels scanned (JSON list of
-- normalised barcodes); the latest check-in of the day counts.
CREATE TABLE depot_checkins (
    courier_id    TEXT NOT NULL REFERENCES couriers(id),
    checkin_date  TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    checked_in_at INTEGER NOT NULL,
    scanned       TEXT NOT NULL,
    PRIMARY KEY (courier_id, checkin_date)
);
