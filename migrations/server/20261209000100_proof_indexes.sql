-- A parcel's proof of delivery finds the phones' reports of its label as not on their route.
CREATE INDEX unexpected_parcels_barcode ON unexpected_parcels(barcode_key);
