//! The console's CSV import and export: parcels checked against what is stored (a barcode
//! already there is "already imported"), then stored all or nothing through the shipper API's
//! own [`Store::create_parcel_in`]; and the accepted delivery records of a date range with
//! their evidence, in one query.

use std::cell::RefCell;

use doorstep_protocol::ParcelId;

use super::backend::sql::{Db, OptionalExt, params, qrow};
use super::error::StoreError;
use super::handle::Store;
use super::parcels::check_courier;
use super::proofs::{Point, ProofRecord, RECORD_COLUMNS, record_from};
use super::rows::new_id;
use crate::domain::parcel::NewParcel;

/// A checked row of an import file, with its shipper.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// Its row number in the file (the header is row 1).
    pub line: u64,
    /// The shipper it is for.
    pub shipper_id: String,
    /// The parcel, checked by [`NewParcel::check`].
    pub parcel: NewParcel,
}

/// What an import does (or did) with a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// A new parcel: in a preview, to be made; after the import, made with this id.
    New(Option<String>),
    /// A parcel with this barcode exists (this id): skipped.
    AlreadyImported(String),
    /// The store refuses it (an unknown courier, ...): nothing of the file is stored.
    Refused(String),
}

/// What [`Store::import_parcels`] did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// One per row, in order.
    pub outcomes: Vec<ImportOutcome>,
    /// Whether the new parcels were stored (no row was refused).
    pub stored: bool,
}

/// One accepted delivery record (`delivered` or `failed`) of one parcel, for the export.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    /// The record's delivery day.
    pub delivery_date: String,
    /// Parcel id.
    pub parcel_id: String,
    /// Barcode as printed.
    pub barcode: String,
    /// The parcel's status now.
    pub parcel_status: String,
    /// Recipient.
    pub recipient_name: String,
    /// Address.
    pub address: String,
    /// Postal code.
    pub postal_code: String,
    /// The address on the map, if known.
    pub stop_location: Option<Point>,
    /// The record and its evidence, as the proof of delivery shows it.
    pub record: ProofRecord,
}

/// The parcel already stored under a barcode key, if any.
fn parcel_with_barcode(db: &Db<'_>, key: &str) -> Result<Option<String>, StoreError> {
    Ok(qrow(
        db,
        "SELECT id FROM parcels WHERE barcode_key = ?1",
        [key],
        |r| r.get(0),
    )
    .optional()?)
}

impl Store {
    /// Every shipper, (id, name), by name.
    pub fn shippers(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|db| {
            Ok(db.query_map(
                "SELECT id, name FROM shippers ORDER BY name, id",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
    }

    /// What an import of `rows` would do now, changing nothing: each barcode already stored is
    /// "already imported", a courier that is not the fleet's is refused, the rest are new.
    pub fn import_preview(&self, rows: &[ImportRow]) -> Result<Vec<ImportOutcome>, StoreError> {
        self.read(|db| {
            rows.iter()
                .map(|row| {
                    if let Some(id) = parcel_with_barcode(db, &row.parcel.barcode_key)? {
                        return Ok(ImportOutcome::AlreadyImported(id));
                    }
                    if let Some(c) = row.parcel.courier_id {
                        match check_courier(db, &c.to_string()) {
                            Err(StoreError::Validation(m)) => {
                                return Ok(ImportOutcome::Refused(m));
                            }
                            other => other?,
                        }
                    }
                    Ok(ImportOutcome::New(None))
                })
                .collect()
        })
    }

    /// Imports `rows` in one transaction, all or nothing: a barcode already stored is skipped;
    /// every other row is created as the shipper API creates a parcel ([`Self::create_parcel_in`]:
    /// policy, stop, code, the customer's message) and audited with `actor` (the parcel's
    /// timeline shows who imported it), and one entry for the file names how many. When a row
    /// is refused, nothing is stored and the report says which.
    pub fn import_parcels(
        &self,
        rows: &[ImportRow],
        actor: &str,
        file_sha256: &str,
        now: i64,
    ) -> Result<ImportReport, StoreError> {
        let ids: Vec<ParcelId> = rows
            .iter()
            .map(|_| ParcelId::from_uuid(new_id(&self.settings.random, now)))
            .collect();
        // The outcomes of a run that refused a row, kept past its rollback.
        let refused: RefCell<Option<Vec<ImportOutcome>>> = RefCell::new(None);
        let result = self.write(|tx| {
            *refused.borrow_mut() = None;
            let mut outcomes = Vec::with_capacity(rows.len());
            let mut any_refused = false;
            for (row, id) in rows.iter().zip(&ids) {
                if let Some(existing) = parcel_with_barcode(tx, &row.parcel.barcode_key)? {
                    outcomes.push(ImportOutcome::AlreadyImported(existing));
                    continue;
                }
                match self.create_parcel_in(tx, *id, &row.shipper_id, &row.parcel, now) {
                    Ok(created) => {
                        let id = created.view.parcel_id.to_string();
                        self.audit(
                            tx,
                            now,
                            actor,
                            "imported",
                            &id,
                            &format!("from a CSV file, row {}", row.line),
                        )?;
                        outcomes.push(ImportOutcome::New(Some(id)));
                    }
                    Err(StoreError::Validation(m) | StoreError::Conflict(m)) => {
                        any_refused = true;
                        outcomes.push(ImportOutcome::Refused(m));
                    }
                    Err(e) => return Err(e),
                }
            }
            if any_refused {
                *refused.borrow_mut() = Some(outcomes);
                return Err(StoreError::Validation("the import was refused".into()));
            }
            let new = outcomes
                .iter()
                .filter(|o| matches!(o, ImportOutcome::New(_)))
                .count();
            self.audit(
                tx,
                now,
                actor,
                "parcels_imported",
                "parcels",
                &format!(
                    "{new} parcels from a CSV file of {} rows ({} already imported), SHA-256 {file_sha256}",
                    rows.len(),
                    rows.len() - new
                ),
            )?;
            Ok(outcomes)
        });
        match (result, refused.into_inner()) {
            (Ok(outcomes), _) => Ok(ImportReport {
                outcomes,
                stored: true,
            }),
            (Err(StoreError::Validation(_)), Some(outcomes)) => Ok(ImportReport {
                outcomes,
                stored: false,
            }),
            (Err(e), _) => Err(e),
        }
    }

    /// The accepted `delivered` and `failed` records whose delivery day is `from` to `to`
    /// (`YYYY-MM-DD`, both included), one per record and parcel, by day and time received;
    /// at most `limit`.
    pub fn deliveries_between(
        &self,
        from: &str,
        to: &str,
        limit: u32,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        self.read(|db| {
            Ok(db.query_map(
                &format!(
                    "SELECT e.delivery_date, p.id, p.barcode_raw, p.status, s.recipient_name, \
                     s.address, s.postal_code, s.lat, s.lon, {RECORD_COLUMNS} \
                     FROM events e JOIN event_parcels ep ON ep.event_id = e.id \
                     JOIN parcels p ON p.id = ep.parcel_id \
                     JOIN stops s ON s.id = p.stop_id \
                     JOIN devices d ON d.id = e.device_id JOIN couriers c ON c.id = d.courier_id \
                     WHERE e.kind IN ('delivered', 'failed') AND e.status = 'accepted' \
                       AND e.delivery_date >= ?1 AND e.delivery_date <= ?2 \
                     ORDER BY e.delivery_date, e.received_at, e.id, p.id LIMIT ?3"
                ),
                params![from, to, i64::from(limit)],
                |r| {
                    let (lat, lon): (Option<f64>, Option<f64>) = (r.get(7)?, r.get(8)?);
                    Ok(DeliveryRow {
                        delivery_date: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                        parcel_id: r.get(1)?,
                        barcode: r.get(2)?,
                        parcel_status: r.get(3)?,
                        recipient_name: r.get(4)?,
                        address: r.get(5)?,
                        postal_code: r.get(6)?,
                        stop_location: lat.zip(lon).map(|(lat, lon)| Point { lat, lon }),
                        record: record_from(r, 9)?,
                    })
                },
            )?)
        })
    }
}
