-- The stops a parcel was moved from (a failed attempt, tried again another day): the day's map
-- and a courier's manifest find them by `moved_from` (without this index, by reading every
-- parcel once per stop).
CREATE INDEX parcels_moved_from ON parcels(moved_from) WHERE moved_from IS NOT NULL;
