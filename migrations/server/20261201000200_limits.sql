-- Per-device quotas (issue 9). Append only.

-- The per-device photo quota sums a device's photos of the last 24 hours on every upload.
CREATE INDEX photos_by_device ON photos(device_id, created_at);
