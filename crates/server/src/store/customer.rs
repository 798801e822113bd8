//! The customer's page: what it shows (the delivery, its code while one is needed, the choices
//! the policy allows, when the courier comes) and the customer's changes — each in one
//! transaction with its audit entries, the shipper's webhook and, for another day, a new code
//! — and the "your courier is near" message, sent from a sync.

use doorstep_protocol::wire::{
    CustomerChoice, DeliveryMethod, ParcelStatus, PreferenceChange, WebhookEvent, WebhookPayload,
};
use doorstep_protocol::{EventId, ParcelId, TokenClaims, TokenSubject};

use super::backend::sql::{Db, OptionalExt, exec, params, qrow};
use super::error::StoreError;
use super::handle::Store;
use super::outbox::{enqueue_webhook, tell_customer};
use super::rows::{CodeEnd, load_stop, method_str, new_id, parse_enum};
use crate::domain::customer::{Choice, ChoiceOutcome, Closed, Progress, Refusal, Standing, Window};
use crate::domain::messages::{Lang, NearMessage};
use crate::domain::policy::ParcelFacts;

/// What a customer's link opens.
#[derive(Debug)]
pub enum CustomerPage {
    /// No stop has this link (mistyped or tampered with).
    Unknown,
    /// The link is older than the fleet keeps it working.
    Expired(Lang),
    /// Every parcel moved to another stop (a reattempt on another day): its page.
    Moved(String),
    /// The page.
    Page(Box<CustomerView>),
}

/// A parcel on the customer's page.
#[derive(Debug, Clone)]
pub struct CustomerParcel {
    /// The label's value as the shipper sent it.
    pub barcode: String,
    /// What the shipper says it is.
    pub description: Option<String>,
    /// Where it stands.
    pub status: ParcelStatus,
}

/// Everything the customer's page shows.
#[derive(Debug, Clone)]
pub struct CustomerView {
    /// The page's language.
    pub language: Lang,
    /// The recipient.
    pub recipient_name: String,
    /// The address.
    pub address: String,
    /// The delivery day.
    pub delivery_date: String,
    /// The fleet's date today.
    pub today: String,
    /// The parcels.
    pub parcels: Vec<CustomerParcel>,
    /// Whether the handover needs the code.
    pub code_required: bool,
    /// A freshly signed handover token for the QR, while the code is valid and something is
    /// left to hand over.
    pub token: Option<String>,
    /// Every parcel was delivered.
    pub delivered: bool,
    /// The customer's choice as the courier's manifest carries it.
    pub choice: CustomerChoice,
    /// How the parcels go when the customer chooses nothing: the method the sender planned
    /// (as the policy offers it), or into the recipient's hands when the parcels differ.
    pub planned: DeliveryMethod,
    /// Whether they want the "courier is near" message, and can get it (an email or phone).
    pub notify_near: bool,
    /// Whether the stop has an email address or a phone number for messages.
    pub reachable: bool,
    /// The revision a form must carry.
    pub rev: i64,
    /// Whether choices may still change.
    pub open: Result<(), Closed>,
    /// The methods the customer may not ask for, and why.
    pub refusals: Vec<(DeliveryMethod, Refusal)>,
    /// The shipper's safe places (those every parcel of the stop allows).
    pub safe_places: Vec<String>,
    /// The days the delivery may move to.
    pub other_days: Vec<String>,
    /// The fleet's pickup points.
    pub pickup_points: Vec<crate::domain::customer::PickupPoint>,
    /// On the delivery day, on a route: the courier's progress.
    pub progress: Option<Progress>,
    /// And the arrival window.
    pub window: Option<Window>,
}

impl CustomerView {
    /// Why the customer may not ask for `method`, if they may not.
    pub fn refusal(&self, method: DeliveryMethod) -> Option<Refusal> {
        self.refusals
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, r)| *r)
    }
}

/// The stop as the page reads it.
struct StopFacts {
    id: String,
    delivery_date: String,
    courier_id: Option<String>,
    sequence: i64,
    recipient_name: String,
    address: String,
    postal_code: String,
    location: Option<(f64, f64)>,
    code_required: bool,
    language: Lang,
    choice_method: Option<DeliveryMethod>,
    choice_place: Option<String>,
    instructions: Option<String>,
    notify_near: bool,
    rev: i64,
    reachable: bool,
    recipient_ref: [u8; 8],
}

/// A parcel as the page's rules need it.
struct ParcelFactsRow {
    id: String,
    barcode: String,
    description: Option<String>,
    status: ParcelStatus,
    value: Option<i64>,
    currency: Option<String>,
    method: DeliveryMethod,
    age_restricted: bool,
    recipient_opt_in: bool,
    shipper_requires_code: bool,
    safe_places: Vec<String>,
    reschedule_days: u8,
    alternatives: Vec<DeliveryMethod>,
    /// The first method offered at the door: the parcel's own when the policy offers it.
    door_first: Option<DeliveryMethod>,
}

impl ParcelFactsRow {
    fn facts<'a>(&'a self, stop: &'a StopFacts) -> ParcelFacts<'a> {
        ParcelFacts {
            declared_value_minor: self.value,
            currency: self.currency.as_deref(),
            method: self.method,
            postal_code: &stop.postal_code,
            location: stop.location,
            age_restricted: self.age_restricted,
            recipient_opt_in: self.recipient_opt_in,
            shipper_requires_code: self.shipper_requires_code,
            alternatives: &self.alternatives,
        }
    }
}

/// The methods a customer may pick (into their own hands is always open).
const CHOSEN_METHODS: [DeliveryMethod; 3] = [
    DeliveryMethod::Neighbour,
    DeliveryMethod::SafePlace,
    DeliveryMethod::PickupPoint,
];

fn load_stop_facts(c: &Db<'_>, public_ref: &str) -> Result<Option<StopFacts>, StoreError> {
    Ok(qrow(
        c,
        "SELECT id, delivery_date, courier_id, sequence, recipient_name, address, postal_code, lat, lon, \
         code_required, language, choice_method, choice_place, instructions, notify_near, choice_rev, \
         email IS NOT NULL OR phone IS NOT NULL, recipient_ref FROM stops WHERE public_ref = ?1",
        [public_ref],
        |r| {
            let lat: Option<f64> = r.get(7)?;
            let lon: Option<f64> = r.get(8)?;
            let rref: Vec<u8> = r.get(17)?;
            let mut recipient_ref = [0u8; 8];
            recipient_ref.copy_from_slice(&rref[..8.min(rref.len())]);
            Ok(StopFacts {
                id: r.get(0)?,
                delivery_date: r.get(1)?,
                courier_id: r.get(2)?,
                sequence: r.get(3)?,
                recipient_name: r.get(4)?,
                address: r.get(5)?,
                postal_code: r.get(6)?,
                location: lat.zip(lon),
                code_required: r.get(9)?,
                language: Lang::for_tag(r.get::<_, Option<String>>(10)?.as_deref().unwrap_or("")),
                choice_method: r
                    .get::<_, Option<String>>(11)?
                    .as_deref()
                    .and_then(parse_enum),
                choice_place: r.get(12)?,
                instructions: r.get(13)?,
                notify_near: r.get(14)?,
                rev: r.get(15)?,
                reachable: r.get(16)?,
                recipient_ref,
            })
        },
    )
    .optional()?)
}

fn load_parcels(c: &Db<'_>, stop: &str) -> Result<Vec<ParcelFactsRow>, StoreError> {
    let rows: Vec<ParcelFactsRow> = c.query_map(
        "SELECT id, barcode_raw, description, status, declared_value_minor, currency, method, \
         age_restricted, recipient_opt_in, shipper_requires_code, safe_places, reschedule_days, \
         alternatives, door FROM parcels WHERE stop_id = ?1 ORDER BY created_at, id",
        [stop],
        |r| {
            let status: String = r.get(3)?;
            let method: String = r.get(6)?;
            let places: String = r.get(10)?;
            let alternatives: String = r.get(12)?;
            let door: String = r.get(13)?;
            let door: Vec<doorstep_protocol::wire::DoorMethod> =
                serde_json::from_str(&door).unwrap_or_default();
            Ok(ParcelFactsRow {
                id: r.get(0)?,
                barcode: r.get(1)?,
                description: r.get(2)?,
                status: parse_enum(&status).unwrap_or(ParcelStatus::Pending),
                value: r.get(4)?,
                currency: r.get(5)?,
                method: parse_enum(&method).unwrap_or(DeliveryMethod::HandToRecipient),
                age_restricted: r.get(7)?,
                recipient_opt_in: r.get(8)?,
                shipper_requires_code: r.get(9)?,
                safe_places: serde_json::from_str(&places).unwrap_or_default(),
                reschedule_days: r.get::<_, i64>(11)?.clamp(0, 7) as u8,
                alternatives: serde_json::from_str(&alternatives).unwrap_or_default(),
                door_first: door.first().map(|d| d.method),
            })
        },
    )?;
    Ok(rows)
}

/// The method every pending parcel goes by when the customer chooses nothing.
fn planned(pending: &[&ParcelFactsRow]) -> DeliveryMethod {
    let mut methods = pending.iter().map(|p| p.door_first.unwrap_or(p.method));
    let first = methods.next().unwrap_or(DeliveryMethod::HandToRecipient);
    if methods.all(|m| m == first) {
        first
    } else {
        DeliveryMethod::HandToRecipient
    }
}

/// Open stops (a parcel still pending) before `sequence` on the courier's route of `date`,
/// and the route's stops finished.
fn route_counts(
    c: &Db<'_>,
    date: &str,
    courier: &str,
    sequence: i64,
) -> Result<(u32, u32), StoreError> {
    let (before, done): (Option<i64>, Option<i64>) = qrow(
        c,
        "SELECT SUM(CASE WHEN is_open AND sequence < ?3 THEN 1 ELSE 0 END), \
                SUM(CASE WHEN is_open THEN 0 ELSE 1 END) \
         FROM (SELECT s.sequence, EXISTS (SELECT 1 FROM parcels p WHERE p.stop_id = s.id AND p.status = 'pending') AS is_open \
               FROM stops s WHERE s.delivery_date = ?1 AND s.courier_id = ?2 \
               AND EXISTS (SELECT 1 FROM parcels p WHERE p.stop_id = s.id OR p.moved_from = s.id)) route",
        params![date, courier, sequence],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((
        before.unwrap_or(0).max(0) as u32,
        done.unwrap_or(0).max(0) as u32,
    ))
}

impl Store {
    /// The customer's page behind `public_ref` at `now`.
    pub fn customer_page(&self, public_ref: &str, now: i64) -> Result<CustomerPage, StoreError> {
        self.read(|c| self.customer_page_in(c, public_ref, now, true))
    }

    /// [`Self::customer_page`] without the QR's token, for what refreshes the page's live
    /// part every minute (nothing there shows the token; signing one would be wasted).
    pub fn customer_status(&self, public_ref: &str, now: i64) -> Result<CustomerPage, StoreError> {
        self.read(|c| self.customer_page_in(c, public_ref, now, false))
    }

    /// The page; `with_token`: sign the QR's handover token (only a page that is shown needs
    /// one — a change's checks do not).
    fn customer_page_in(
        &self,
        c: &Db<'_>,
        public_ref: &str,
        now: i64,
        with_token: bool,
    ) -> Result<CustomerPage, StoreError> {
        let rules = &self.settings.customers;
        let tz = &self.settings.time_zone;
        let Some(stop) = load_stop_facts(c, public_ref)? else {
            return Ok(CustomerPage::Unknown);
        };
        let today = tz.date_of(now);
        let link_end =
            crate::domain::zone::days_before(&stop.delivery_date, -i64::from(rules.link_days));
        if today > link_end {
            return Ok(CustomerPage::Expired(stop.language));
        }
        let parcels = load_parcels(c, &stop.id)?;
        if parcels.is_empty() {
            let moved: Option<String> = qrow(
                c,
                "SELECT s.public_ref FROM parcels p JOIN stops s ON s.id = p.stop_id \
                 WHERE p.moved_from = ?1 ORDER BY s.delivery_date DESC LIMIT 1",
                [&stop.id],
                |r| r.get(0),
            )
            .optional()?;
            return Ok(match moved {
                Some(r) => CustomerPage::Moved(r),
                None => CustomerPage::Unknown,
            });
        }
        let pending: Vec<&ParcelFactsRow> = parcels
            .iter()
            .filter(|p| p.status == ParcelStatus::Pending)
            .collect();
        let delivered = parcels.iter().all(|p| p.status == ParcelStatus::Delivered);
        let started: bool = qrow(
            c,
            // The day's records (by the day's index), or a code check at the stop.
            "SELECT EXISTS (SELECT 1 FROM events WHERE delivery_date = ?2 AND stop_id = ?1) \
                 OR EXISTS (SELECT 1 FROM verifications WHERE stop_id = ?1)",
            params![stop.id, stop.delivery_date],
            |r| r.get(0),
        )?;
        let on_the_day = stop.delivery_date == today;
        let counts = match (&stop.courier_id, on_the_day) {
            (Some(courier), true) => Some(route_counts(c, &today, courier, stop.sequence)?),
            _ => None,
        };
        let open = rules.open(&Standing {
            today: &today,
            delivery_date: &stop.delivery_date,
            delivered,
            finished: pending.is_empty(),
            started,
            stops_before: counts.map(|(before, _)| before),
        });
        let mut refusals = Vec::new();
        for method in CHOSEN_METHODS {
            let refused = pending.iter().find_map(|p| {
                Refusal::of(
                    &self.settings.policy,
                    &p.facts(&stop),
                    method,
                    stop.code_required,
                )
            });
            let refused = refused.or_else(|| {
                (method == DeliveryMethod::PickupPoint && rules.pickup_points.is_empty())
                    .then_some(Refusal::NoPickupPoints)
            });
            if let Some(r) = refused {
                refusals.push((method, r));
            }
        }
        // The places every parcel's shipper allows (a parcel without a list allows any).
        let listing: Vec<&Vec<String>> = pending
            .iter()
            .map(|p| &p.safe_places)
            .filter(|l| !l.is_empty())
            .collect();
        let mut safe_places: Vec<String> = listing.first().map(|l| l.to_vec()).unwrap_or_default();
        safe_places.retain(|s| listing.iter().all(|l| l.contains(s)));
        let limit = pending.iter().map(|p| p.reschedule_days).min().unwrap_or(0);
        let other_days: Vec<String> = rules
            .other_days(&stop.delivery_date, limit)
            .into_iter()
            .filter(|d| *d > today)
            .collect();
        let progress = match (&stop.courier_id, counts) {
            (Some(courier), Some((before, done))) if !pending.is_empty() => {
                let (first, last): (Option<i64>, Option<i64>) = qrow(
                    c,
                    // The day's records by the day's index (events has none by stop).
                    "SELECT MIN(e.received_at), MAX(e.received_at) FROM events e \
                     JOIN stops s ON s.id = e.stop_id WHERE e.delivery_date = ?1 AND s.courier_id = ?2",
                    params![today, courier],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                Some(Progress {
                    stops_before: before,
                    stops_done: done,
                    first_record_ms: first,
                    last_record_ms: last,
                })
            }
            _ => None,
        };
        let window = progress.as_ref().and_then(|p| {
            let start = tz.day_start_ms(&today)? + i64::from(rules.day_start_minutes) * 60_000;
            Some(rules.window(p, start, now))
        });
        // The code is shown while something is left to hand over: a parcel waiting, or one
        // whose record was refused (the courier comes back with the code).
        let to_hand_over = parcels
            .iter()
            .any(|p| matches!(p.status, ParcelStatus::Pending | ParcelStatus::Disputed));
        let token = if !with_token || !to_hand_over || !stop.code_required {
            None
        } else {
            let expires: Option<i64> = qrow(
                c,
                "SELECT expires_at FROM codes WHERE stop_id = ?1 AND superseded_at IS NULL",
                [&stop.id],
                |r| r.get(0),
            )
            .optional()?;
            expires.filter(|e| *e > now).map(|e| {
                TokenClaims {
                    key_id: self.secrets.key_id(),
                    subject: TokenSubject::Stop(stop.id.parse().unwrap_or_else(|_| {
                        doorstep_protocol::StopId::from_uuid(uuid::Uuid::nil())
                    })),
                    recipient_ref: stop.recipient_ref,
                    not_before: ((now / 1000) - 60).max(0) as u32,
                    expires: (e / 1000) as u32,
                    nonce: self.settings.random.bytes::<8>(),
                }
                .sign(self.secrets.signing_key())
                .expose_text()
                .to_string()
            })
        };
        Ok(CustomerPage::Page(Box::new(CustomerView {
            language: stop.language,
            recipient_name: stop.recipient_name.clone(),
            address: stop.address.clone(),
            delivery_date: stop.delivery_date.clone(),
            today,
            parcels: parcels
                .iter()
                .map(|p| CustomerParcel {
                    barcode: p.barcode.clone(),
                    description: p.description.clone(),
                    status: p.status,
                })
                .collect(),
            code_required: stop.code_required,
            token,
            delivered,
            planned: planned(&pending),
            choice: CustomerChoice {
                method: stop.choice_method,
                place: stop.choice_place.clone(),
                instructions: stop.instructions.clone(),
            },
            notify_near: stop.notify_near,
            reachable: stop.reachable,
            rev: stop.rev,
            open,
            refusals,
            safe_places,
            other_days,
            pickup_points: rules.pickup_points.clone(),
            progress,
            window,
        })))
    }

    /// Applies a customer's change made on the page at revision `rev`; nothing changes unless
    /// it is [`ChoiceOutcome::Saved`].
    pub fn customer_choice(
        &self,
        public_ref: &str,
        rev: i64,
        choice: &Choice,
        now: i64,
    ) -> Result<ChoiceOutcome, StoreError> {
        self.write(|tx| {
            let page = match self.customer_page_in(tx, public_ref, now, false)? {
                CustomerPage::Page(p) => p,
                _ => return Err(StoreError::NotFound("page")),
            };
            let stop = load_stop_facts(tx, public_ref)?.ok_or(StoreError::NotFound("page"))?;
            if rev != stop.rev {
                return Ok(ChoiceOutcome::Stale);
            }
            if let Err(closed) = page.open {
                return Ok(ChoiceOutcome::Closed(closed));
            }
            let parcels: Vec<ParcelFactsRow> = load_parcels(tx, &stop.id)?
                .into_iter()
                .filter(|p| p.status == ParcelStatus::Pending)
                .collect();
            let rules = &self.settings.customers;
            let detail = match choice {
                Choice::InPerson
                | Choice::Neighbour { .. }
                | Choice::SafePlace(_)
                | Choice::PickupPoint(_) => {
                    let method = choice.method().unwrap_or(DeliveryMethod::HandToRecipient);
                    if let Some(r) = page.refusal(method) {
                        return Ok(ChoiceOutcome::Refused(r));
                    }
                    let place = match choice {
                        Choice::Neighbour { name, house } => Some(format!("{name}, {house}")),
                        Choice::SafePlace(p) => {
                            if !page.safe_places.is_empty() && !page.safe_places.contains(p) {
                                return Ok(ChoiceOutcome::NotOnList);
                            }
                            Some(p.clone())
                        }
                        Choice::PickupPoint(id) => match rules.pickup_point(id) {
                            Some(point) => Some(point.place()),
                            None => return Ok(ChoiceOutcome::NotOnList),
                        },
                        _ => None,
                    };
                    self.redecide(tx, &stop, &parcels, Some(method), now)?;
                    // Into the recipient's hands when the sender planned it is no choice.
                    let chosen = Some(method).filter(|m| {
                        *m != DeliveryMethod::HandToRecipient
                            || parcels
                                .iter()
                                .any(|p| p.method != DeliveryMethod::HandToRecipient)
                    });
                    exec(
                        tx,
                        "UPDATE stops SET choice_method = ?2, choice_place = ?3 WHERE id = ?1",
                        params![stop.id, chosen.map(method_str), place],
                    )?;
                    match (chosen, &place) {
                        (Some(m), Some(p)) => format!("{}: {p}", method_str(m)),
                        _ => "as planned, into the recipient's hands".to_string(),
                    }
                }
                Choice::Day(day) => {
                    if !page.other_days.contains(day) {
                        return Ok(ChoiceOutcome::DayNotOffered);
                    }
                    let taken: Option<i64> = qrow(
                        tx,
                        "SELECT 1 FROM stops s JOIN stops f ON f.recipient_key = s.recipient_key \
                         WHERE f.id = ?1 AND s.delivery_date = ?2",
                        params![stop.id, day],
                        |r| r.get(0),
                    )
                    .optional()?;
                    if taken.is_some() {
                        return Ok(ChoiceOutcome::DayTaken);
                    }
                    exec(
                        tx,
                        "UPDATE stops SET delivery_date = ?2, near_sent_on = NULL, sequence = \
                         (SELECT COUNT(*) + 1 FROM stops o WHERE o.delivery_date = ?2 \
                          AND o.courier_id IS NOT DISTINCT FROM ?3) WHERE id = ?1",
                        params![stop.id, day, stop.courier_id],
                    )?;
                    // The old code ends with its day; the customer gets one for the new day.
                    let moved = load_stop(tx, &stop.id)?.ok_or(StoreError::NotFound("stop"))?;
                    if moved.code_required {
                        self.issue_code(
                            tx,
                            &moved,
                            now,
                            &self.settings.time_zone,
                            Some(CodeEnd::Rescheduled),
                        )?;
                    }
                    format!("another day: {day} instead of {}", stop.delivery_date)
                }
                Choice::Instructions(text) => {
                    exec(
                        tx,
                        "UPDATE stops SET instructions = ?2 WHERE id = ?1",
                        params![stop.id, text.as_deref()],
                    )?;
                    match text {
                        Some(t) => format!("instructions for the courier: {t}"),
                        None => "instructions for the courier removed".to_string(),
                    }
                }
                Choice::NotifyNear(on) => {
                    exec(
                        tx,
                        "UPDATE stops SET notify_near = ?2 WHERE id = ?1",
                        params![stop.id, *on],
                    )?;
                    format!(
                        "\"courier is near\" message {}",
                        if *on { "on" } else { "off" }
                    )
                }
            };
            exec(
                tx,
                "UPDATE stops SET choice_rev = choice_rev + 1 WHERE id = ?1",
                [&stop.id],
            )?;
            let after = load_stop_facts(tx, public_ref)?.ok_or(StoreError::NotFound("page"))?;
            for p in &parcels {
                self.audit(
                    tx,
                    now,
                    "customer",
                    &format!("customer.{}", choice.kind()),
                    &p.id,
                    &detail,
                )?;
                if !matches!(choice, Choice::NotifyNear(_)) {
                    self.preference_webhook(tx, p, &after, now)?;
                }
            }
            Ok(ChoiceOutcome::Saved)
        })
    }

    /// Asks the policy again for each parcel with the customer's method (`None`: the
    /// shipper's own) and stores the answer: the methods at the door with their steps, the
    /// photo and offline rules, the reasons. The stop only ever gets stricter: a code the
    /// new answer asks for is made and sent; one it no longer asks for stays.
    fn redecide(
        &self,
        tx: &Db<'_>,
        stop: &StopFacts,
        parcels: &[ParcelFactsRow],
        method: Option<DeliveryMethod>,
        now: i64,
    ) -> Result<(), StoreError> {
        for p in parcels {
            let facts = ParcelFacts {
                method: method.unwrap_or(p.method),
                ..p.facts(stop)
            };
            let decision = self.settings.policy.decide(&facts);
            exec(
                tx,
                "UPDATE parcels SET door = ?2, code_required = ?3, photo_required = ?4, \
                 offline_allowed = ?5, reasons = ?6 WHERE id = ?1",
                params![
                    p.id,
                    serde_json::to_string(&decision.methods).unwrap_or_default(),
                    decision.code_required,
                    decision.photo_required,
                    decision.offline_allowed,
                    serde_json::to_string(&decision.reasons).unwrap_or_default()
                ],
            )?;
            super::parcels::join_stop(tx, &stop.id, &decision, None)?;
        }
        let row = load_stop(tx, &stop.id)?.ok_or(StoreError::NotFound("stop"))?;
        let has_code: Option<String> = qrow(
            tx,
            "SELECT id FROM codes WHERE stop_id = ?1 AND superseded_at IS NULL",
            [&stop.id],
            |r| r.get(0),
        )
        .optional()?;
        if row.code_required && has_code.is_none() {
            self.issue_code(tx, &row, now, &self.settings.time_zone, None)?;
        }
        Ok(())
    }

    /// Queues `parcel.preference_changed` for a parcel, if its shipper has a webhook.
    fn preference_webhook(
        &self,
        tx: &Db<'_>,
        parcel: &ParcelFactsRow,
        stop: &StopFacts,
        now: i64,
    ) -> Result<(), StoreError> {
        let row: Option<(String, Option<String>)> = qrow(
            tx,
            "SELECT s.id, s.webhook_url FROM parcels p JOIN shippers s ON s.id = p.shipper_id WHERE p.id = ?1",
            [&parcel.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
        let Some((shipper_id, Some(url))) = row else {
            return Ok(());
        };
        let Ok(parcel_id) = parcel.id.parse::<ParcelId>() else {
            return Ok(());
        };
        let event = WebhookEvent::PreferenceChanged;
        let body = serde_json::to_string(&WebhookPayload {
            event,
            parcel_id,
            barcode: parcel.barcode.clone(),
            event_id: EventId::from_uuid(new_id(&self.settings.random, now)),
            occurred_at_ms: now,
            reject_code: None,
            preference: Some(PreferenceChange {
                method: stop.choice_method.unwrap_or(parcel.method),
                place: stop.choice_place.clone(),
                delivery_date: stop.delivery_date.clone(),
                has_instructions: stop.instructions.is_some(),
            }),
        })
        .expect("serialising plain data cannot fail");
        enqueue_webhook(tx, &url, event.as_str(), &body, &shipper_id, now)
    }

    /// After a sync of `courier`'s records: the "your courier is about n stops away" message
    /// to each customer of today's route who asked for it and whose stop is now that near,
    /// once per stop and day.
    pub(super) fn near_messages(
        &self,
        tx: &Db<'_>,
        courier: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let rules = &self.settings.customers;
        let today = self.settings.time_zone.date_of(now);
        let waiting: Vec<(String, i64, String)> = tx.query_map(
            "SELECT s.id, s.sequence, s.public_ref FROM stops s WHERE s.delivery_date = ?1 AND s.courier_id = ?2 \
             AND s.notify_near = 1 AND (s.near_sent_on IS NULL OR s.near_sent_on <> ?1) \
             AND EXISTS (SELECT 1 FROM parcels p WHERE p.stop_id = s.id AND p.status = 'pending')",
            params![today, courier],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        for (id, sequence, public_ref) in waiting {
            let (before, _) = route_counts(tx, &today, courier, sequence)?;
            if before > rules.near_stops {
                continue;
            }
            let stop = load_stop(tx, &id)?.ok_or(StoreError::NotFound("stop"))?;
            let link = format!(
                "{}/c/{}",
                self.settings.public_url.trim_end_matches('/'),
                public_ref
            );
            let texts = NearMessage {
                name: &stop.recipient_name,
                stops: before,
                link: &link,
                code: stop.code_required,
            }
            .texts(stop.language);
            tell_customer(tx, &stop, &texts, None, now)?;
            exec(
                tx,
                "UPDATE stops SET near_sent_on = ?2 WHERE id = ?1",
                params![id, today],
            )?;
        }
        Ok(())
    }
}
