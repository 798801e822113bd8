-- Evidence belongs to its record: the record that names a photo or signature (set when the
-- record is accepted); another record naming it is refused.
ALTER TABLE photos ADD COLUMN used_by_event TEXT;
