-- Steps at the door (issue 11). Append only.
-- parcels.door: the methods the parcel may be handed over by, each with the steps the policy
-- asks for (JSON list of DoorMethod, as the manifest carries it); '[]' for parcels made before,
-- which then take their own method with the stop's code and their photo rule.
-- parcels.safe_places: where the shipper allows the parcel to be left (JSON list of strings).
ALTER TABLE parcels ADD COLUMN door TEXT NOT NULL DEFAULT '[]';
ALTER TABLE parcels ADD COLUMN safe_places TEXT NOT NULL DEFAULT '[]';
-- The recipient's language for messages and the customer page ('en' or 'es'); NULL: English.
ALTER TABLE stops ADD COLUMN language TEXT;
