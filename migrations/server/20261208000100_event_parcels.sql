-- Which records cover which parcel, for a parcel's proof of delivery: a parcel moved to a
-- later day (a failed attempt) has records under more than one stop, and a record's
-- `parcel_ids` is JSON. Filled for the records already stored.
CREATE TABLE event_parcels (
    event_id  TEXT NOT NULL REFERENCES events(id),
    parcel_id TEXT NOT NULL,
    PRIMARY KEY (parcel_id, event_id)
);
INSERT INTO event_parcels (event_id, parcel_id)
    SELECT e.id, j.value FROM events e, json_each(e.parcel_ids) j WHERE j.value IS NOT NULL;
