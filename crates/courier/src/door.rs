//! Records at the door that are not a handover (issue 11): reporting a parcel that is not on
//! the route, the end-of-day depot check-in of the van, and the correction of a handover made
//! by mistake. Each is a signed record in the device's chain, synced exactly once like a
//! delivery.

use std::path::Path;

use doorstep_protocol::barcode::Barcode;
use doorstep_protocol::ids::{EventId, StopId};
use doorstep_protocol::wire::{CorrectionReason, EventBody, ManifestStop};

use crate::device::Device;
use crate::error::CourierError;
use crate::view::{DepotParcel, DepotView, ParcelState};

/// The longest label a report or a check-in takes.
const MAX_LABEL_CHARS: usize = 200;

/// The key a label is compared by: the parsed barcode's, or the trimmed text.
fn label_key(raw: &str) -> String {
    Barcode::parse(raw)
        .map(|b| b.key())
        .unwrap_or_else(|_| raw.trim().to_string())
}

fn note_text(note: Option<&str>) -> Option<String> {
    note.map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(500).collect())
}

/// A stop for records that belong to none, for the queue screen's address line.
/// What a correction reads of a stored record: its stop and parcels. Not the whole
/// [`DeliveryEvent`], whose code or token the store redacts once the server has the record.
#[derive(serde::Deserialize)]
struct StoredRecord {
    stop_id: doorstep_protocol::StopId,
    parcel_ids: Vec<doorstep_protocol::ParcelId>,
}

impl StoredRecord {
    fn of(body: &str) -> Result<Self, CourierError> {
        serde_json::from_str(body)
            .map_err(|e| CourierError::Internal(format!("stored record: {e}")))
    }
}

fn no_stop(address: &str) -> ManifestStop {
    ManifestStop {
        stop_id: StopId::NIL,
        sequence: 0,
        recipient_name: String::new(),
        address: address.to_string(),
        location: None,
        code_required: false,
        code_length: None,
        offline_allowed: true,
        reasons: Vec::new(),
        parcels: Vec::new(),
        customer: None,
    }
}

impl Device {
    /// `report_unexpected`: a signed record of a parcel that is not on today's route, with
    /// its label (and a photo if the courier took one), for the fleet manager, who can put it
    /// on this courier's route; the app shows it at the next manifest refresh. Answers the
    /// record's id.
    pub async fn report_unexpected(
        &self,
        barcode: &str,
        photo_path: Option<&Path>,
        note: Option<&str>,
    ) -> Result<String, CourierError> {
        self.enrollment()?;
        let raw = barcode.trim();
        if raw.is_empty() || raw.chars().count() > MAX_LABEL_CHARS {
            return Err(CourierError::BarcodeInvalid(
                "scan or type the parcel's label (up to 200 characters)".into(),
            ));
        }
        let photo = match photo_path {
            Some(path) => Some(self.keep_photo(path)?),
            None => None,
        };
        let body = EventBody::Unexpected {
            barcode: raw.to_string(),
            photo_sha256: photo.as_ref().map(|(sha, _)| sha.clone()),
            note: note_text(note),
        };
        let stop = no_stop("Not on the route");
        let id =
            self.commit_labelled(&stop, body, photo.into_iter().collect(), vec![raw.into()])?;
        Ok(id.to_string())
    }

    /// `depot_view`: the end-of-day check-in so far: every parcel of today's route that was
    /// not delivered (it should be in the van), each ticked once scanned, and labels scanned
    /// that were not expected.
    pub async fn depot_view(&self) -> Result<DepotView, CourierError> {
        let scanned = self.depot.lock().await.clone();
        self.build_depot_view(&scanned, None)
    }

    /// `depot_scan`: one label scanned at the depot (a repeat is counted once).
    pub async fn depot_scan(&self, barcode: &str) -> Result<DepotView, CourierError> {
        self.enrollment()?;
        let raw = barcode.trim();
        if raw.is_empty() || raw.chars().count() > MAX_LABEL_CHARS {
            return Err(CourierError::BarcodeInvalid(
                "scan or type the parcel's label (up to 200 characters)".into(),
            ));
        }
        let key = label_key(raw);
        let mut scanned = self.depot.lock().await;
        if !scanned.contains(&key) {
            scanned.push(key.clone());
        }
        let scanned = scanned.clone();
        self.build_depot_view(&scanned, Some(key))
    }

    /// `depot_finish`: records the check-in (every label scanned, for today's route) as a
    /// signed record, and starts a new, empty one. Answers the view with its record id.
    pub async fn depot_finish(&self) -> Result<DepotView, CourierError> {
        self.enrollment()?;
        let mut scanned = self.depot.lock().await;
        let date = self.today();
        let body = EventBody::DepotCheckIn {
            date,
            barcodes: scanned.clone(),
        };
        let id = self.commit_labelled(
            &no_stop("Depot check-in"),
            body,
            Vec::new(),
            scanned.clone(),
        )?;
        let mut view = self.build_depot_view(&scanned, None)?;
        view.recorded_event_id = Some(id.to_string());
        scanned.clear();
        Ok(view)
    }

    fn build_depot_view(
        &self,
        scanned: &[String],
        last: Option<String>,
    ) -> Result<DepotView, CourierError> {
        let date = self.today();
        let store = self.store();
        let manifest = store.manifest(&date)?.map(|m| m.manifest);
        let mut expected = Vec::new();
        if let Some(m) = &manifest {
            let local = store.local_parcel_states(
                m.stops
                    .iter()
                    .flat_map(|s| &s.parcels)
                    .map(|p| &p.parcel_id),
            )?;
            for stop in &m.stops {
                for p in &stop.parcels {
                    let delivered = matches!(local.get(&p.parcel_id), Some(ParcelState::Delivered))
                        || p.status == doorstep_protocol::wire::ParcelStatus::Delivered;
                    if !delivered {
                        expected.push(DepotParcel {
                            checked: scanned.contains(&p.barcode),
                            barcode: p.barcode.clone(),
                            address: stop.address.clone(),
                        });
                    }
                }
            }
        }
        let extra = scanned
            .iter()
            .filter(|k| !expected.iter().any(|e| &e.barcode == *k))
            .cloned()
            .collect();
        Ok(DepotView {
            date,
            expected,
            extra,
            last_scanned: last,
            recorded_event_id: None,
        })
    }

    /// `correct_delivery`: a correction of one of today's handovers of this phone (a
    /// committed record is signed and chained and cannot be undone): a new record that refers
    /// to it; the parcels are to deliver again. Refused for a record that is not a handover of
    /// today, or was corrected already.
    pub async fn correct_delivery(
        &self,
        event_id: &str,
        reason: CorrectionReason,
        note: Option<&str>,
    ) -> Result<String, CourierError> {
        self.enrollment()?;
        let id: EventId = event_id
            .parse()
            .map_err(|_| CourierError::CorrectionNotAllowed)?;
        let today = self.today();
        let offset = self.shared.config.utc_offset_secs;
        let original = {
            let store = self.store();
            let Some(row) = store.event_row(&id)? else {
                return Err(CourierError::CorrectionNotAllowed);
            };
            let still_delivered = {
                let event = StoredRecord::of(&row.body)?;
                let states = store.local_parcel_states(&event.parcel_ids)?;
                event
                    .parcel_ids
                    .iter()
                    .all(|p| states.get(p) == Some(&ParcelState::Delivered))
            };
            let same_day = crate::date::date_at(row.committed_at_ms, offset) == today;
            if row.kind != "delivered" || !same_day || !still_delivered {
                return Err(CourierError::CorrectionNotAllowed);
            }
            row
        };
        let event = StoredRecord::of(&original.body)?;
        let stop = ManifestStop {
            stop_id: event.stop_id,
            recipient_name: original.recipient_name.clone(),
            ..no_stop(&original.stop_address)
        };
        let body = EventBody::Correction {
            corrects: id,
            reason,
            note: note_text(note),
        };
        let new_id = self.commit_with_parcels(
            &stop,
            &event.parcel_ids,
            body,
            original.barcodes.clone(),
            &original.recipient_name,
        )?;
        Ok(new_id.to_string())
    }
}
