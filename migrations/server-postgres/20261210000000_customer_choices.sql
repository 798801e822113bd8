-- The customer's side (choices on the customer's page, "when is it coming", the near message).
-- Append only.

-- What the shipper allows the customer: how many delivery days later they may move the
-- parcel (0: not at all), and the other methods the shipper allows at the door (JSON list of
-- DeliveryMethod), kept so the policy can be asked again when the customer picks a method.
ALTER TABLE parcels ADD COLUMN reschedule_days BIGINT NOT NULL DEFAULT 5;
ALTER TABLE parcels ADD COLUMN alternatives TEXT NOT NULL DEFAULT '[]';

-- The customer's choice for the stop: the method ('neighbour', 'safe_place', 'pickup_point',
-- 'hand_to_recipient'; NULL: the shipper's), where (neighbour "name, house number", the safe
-- place, the pickup point's name and address), the pickup point's id, instructions for the
-- courier (text), whether they want the "courier is near" message and the day it was sent,
-- and the choice's revision: a form carries the revision it was made from, so a replayed or
-- doubled form changes nothing twice.
ALTER TABLE stops ADD COLUMN choice_method TEXT;
ALTER TABLE stops ADD COLUMN choice_place TEXT;
ALTER TABLE stops ADD COLUMN instructions TEXT;
ALTER TABLE stops ADD COLUMN notify_near BIGINT NOT NULL DEFAULT 0;
ALTER TABLE stops ADD COLUMN near_sent_on TEXT;
ALTER TABLE stops ADD COLUMN choice_rev BIGINT NOT NULL DEFAULT 0;

-- The stops of a courier's day in route order (the customer's "n stops before yours").
CREATE INDEX stops_route ON stops(delivery_date, courier_id, sequence);
-- A stop's code checks (whether the courier has started it; its proof-of-delivery timeline).
CREATE INDEX verifications_stop ON verifications(stop_id);

-- The release channel (issue 20): the SHA-256 of the certificate an Android release's APK is
-- signed with (read from its APK Signing Block), so a build signed by someone else is refused.
ALTER TABLE releases ADD COLUMN signing_cert TEXT;
