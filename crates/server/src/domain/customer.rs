//! The customer's side, pure: what a customer may choose on their page (a neighbour, a safe
//! place, a pickup point, another day, instructions for the courier, the "courier is near"
//! message) and until when, the checks of their form, and "when is it coming".
//!
//! Choices stay open until the courier has started the stop or is [`CustomerRules::cutoff_stops`]
//! stops away on the delivery day: after that the courier may already be on the way to the
//! door with the manifest they have.

use doorstep_protocol::wire::{DeliveryMethod, MAX_INSTRUCTIONS_CHARS, MAX_PLACE_CHARS};
use serde::Deserialize;

use super::calendar::Calendar;
use super::policy::{ParcelFacts, Policy};

/// The longest neighbour's name, in characters.
pub const MAX_NEIGHBOUR_NAME_CHARS: usize = 80;
/// The longest house number (or flat), in characters.
pub const MAX_HOUSE_CHARS: usize = 20;
/// The longest safe place a customer describes in their own words, in characters.
pub const MAX_SAFE_PLACE_CHARS: usize = 100;
/// The most delivery days a shipper may let a customer move a parcel by (a code is valid at
/// most seven days).
pub const MAX_RESCHEDULE_DAYS: u8 = 7;

/// A pickup point of the fleet (a shop or a locker the couriers bring parcels to).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PickupPoint {
    /// Short id, unique in the list (what the form sends).
    pub id: String,
    /// Its name, e.g. "Kiosk Central".
    pub name: String,
    /// Its address.
    pub address: String,
}

impl PickupPoint {
    /// The place a delivery record and the manifest name: "Kiosk Central, 1 Station Rd".
    pub fn place(&self) -> String {
        format!("{}, {}", self.name, self.address)
    }
}

/// A pickup-points file or a rule value that cannot be used; the message says why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct RulesError(pub String);

/// The fleet's pickup points from a TOML file:
///
/// ```toml
/// [[point]]
/// id = "kiosk-central"
/// name = "Kiosk Central"
/// address = "1 Station Road"
/// ```
pub fn parse_pickup_points(text: &str, source: &str) -> Result<Vec<PickupPoint>, RulesError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        point: Vec<PickupPoint>,
    }
    let file: File =
        toml::from_str(text).map_err(|e| RulesError(format!("{source}: {}", e.message())))?;
    let mut seen = std::collections::HashSet::new();
    for p in &file.point {
        let ok = |s: &str, max: usize| !s.trim().is_empty() && s.chars().count() <= max;
        if !ok(&p.id, 40) || !ok(&p.name, 80) || !ok(&p.address, 100) {
            return Err(RulesError(format!(
                "{source}: pickup point {:?} needs an id (at most 40 characters), a name (80) and an address (100)",
                p.id
            )));
        }
        if !seen.insert(p.id.as_str()) {
            return Err(RulesError(format!(
                "{source}: the pickup point id {:?} is used twice",
                p.id
            )));
        }
    }
    Ok(file.point)
}

/// What the fleet lets customers do, and how the page estimates the courier's arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRules {
    /// The fleet's delivery days.
    pub calendar: Calendar,
    /// The fleet's pickup points.
    pub pickup_points: Vec<PickupPoint>,
    /// Choices close when the courier has this many stops or fewer before the customer's.
    pub cutoff_stops: u32,
    /// The "your courier is about n stops away" message goes at this many stops.
    pub near_stops: u32,
    /// When the routes start, minutes after midnight in the fleet's time zone.
    pub day_start_minutes: u32,
    /// Minutes a stop takes until the courier's own pace of the day is known.
    pub minutes_per_stop: u32,
    /// Days after the delivery day the customer's link keeps working.
    pub link_days: u32,
}

impl Default for CustomerRules {
    fn default() -> Self {
        Self {
            calendar: Calendar::default(),
            pickup_points: Vec::new(),
            cutoff_stops: 2,
            near_stops: 3,
            day_start_minutes: 8 * 60,
            minutes_per_stop: 6,
            link_days: 14,
        }
    }
}

impl CustomerRules {
    /// The pickup point with this id.
    pub fn pickup_point(&self, id: &str) -> Option<&PickupPoint> {
        self.pickup_points.iter().find(|p| p.id == id)
    }
}

/// One change a customer makes on their page (one form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Into my own hands after all (undoes a neighbour, safe place or pickup point).
    InPerson,
    /// To a neighbour, who will need the code.
    Neighbour {
        /// Their name.
        name: String,
        /// Their house number (or flat).
        house: String,
    },
    /// Left in a safe place: one of the shipper's, or described.
    SafePlace(String),
    /// Taken to the fleet's pickup point with this id.
    PickupPoint(String),
    /// Another delivery day, `YYYY-MM-DD`.
    Day(String),
    /// Instructions for the courier; `None` clears them.
    Instructions(Option<String>),
    /// Whether to send the "courier is near" message.
    NotifyNear(bool),
}

impl Choice {
    /// The delivery method the choice asks for, if it is one.
    pub fn method(&self) -> Option<DeliveryMethod> {
        match self {
            Choice::InPerson => Some(DeliveryMethod::HandToRecipient),
            Choice::Neighbour { .. } => Some(DeliveryMethod::Neighbour),
            Choice::SafePlace(_) => Some(DeliveryMethod::SafePlace),
            Choice::PickupPoint(_) => Some(DeliveryMethod::PickupPoint),
            _ => None,
        }
    }

    /// The stored and logged name of the choice.
    pub fn kind(&self) -> &'static str {
        match self {
            Choice::InPerson => "in_person",
            Choice::Neighbour { .. } => "neighbour",
            Choice::SafePlace(_) => "safe_place",
            Choice::PickupPoint(_) => "pickup_point",
            Choice::Day(_) => "day",
            Choice::Instructions(_) => "instructions",
            Choice::NotifyNear(_) => "notify_near",
        }
    }
}

/// A field of the customer's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The neighbour's name.
    NeighbourName,
    /// The neighbour's house number.
    House,
    /// The safe place.
    SafePlace,
    /// The pickup point.
    PickupPoint,
    /// The day.
    Day,
    /// The instructions.
    Instructions,
}

/// What is wrong with a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormError {
    /// The form is not one of the page's.
    Unknown,
    /// A field the choice needs is empty.
    Missing(Field),
    /// A field is longer than its limit (characters).
    TooLong(Field, usize),
}

/// Reads a form of the customer's page: `choice` names which, the other fields its values.
/// Text is trimmed and control characters other than line breaks in the instructions are
/// dropped; lengths are counted in characters after that.
pub fn parse_form(fields: &[(String, String)]) -> Result<Choice, FormError> {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| clean(v, name == "instructions"))
            .unwrap_or_default()
    };
    let need = |name: &str, field: Field, max: usize| {
        let v = get(name);
        if v.is_empty() {
            Err(FormError::Missing(field))
        } else if v.chars().count() > max {
            Err(FormError::TooLong(field, max))
        } else {
            Ok(v)
        }
    };
    match get("choice").as_str() {
        "in_person" => Ok(Choice::InPerson),
        "neighbour" => Ok(Choice::Neighbour {
            name: need(
                "neighbour_name",
                Field::NeighbourName,
                MAX_NEIGHBOUR_NAME_CHARS,
            )?,
            house: need("house", Field::House, MAX_HOUSE_CHARS)?,
        }),
        "safe_place" => {
            let listed = get("safe_place");
            if listed.is_empty() || listed == "other" {
                need("safe_place_other", Field::SafePlace, MAX_SAFE_PLACE_CHARS)
                    .map(Choice::SafePlace)
            } else {
                need("safe_place", Field::SafePlace, MAX_PLACE_CHARS).map(Choice::SafePlace)
            }
        }
        "pickup_point" => need("pickup_point", Field::PickupPoint, 40).map(Choice::PickupPoint),
        "day" => need("day", Field::Day, 10).map(Choice::Day),
        "instructions" => {
            let v = get("instructions");
            if v.chars().count() > MAX_INSTRUCTIONS_CHARS {
                Err(FormError::TooLong(
                    Field::Instructions,
                    MAX_INSTRUCTIONS_CHARS,
                ))
            } else {
                Ok(Choice::Instructions((!v.is_empty()).then_some(v)))
            }
        }
        "notify_near" => Ok(Choice::NotifyNear(get("notify") == "on")),
        _ => Err(FormError::Unknown),
    }
}

fn clean(v: &str, keep_lines: bool) -> String {
    let v: String = v
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .filter(|c| !c.is_control() || (keep_lines && *c == '\n'))
        .collect();
    v.trim().to_string()
}

/// Why a customer may not choose a method for their delivery, in their terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Age-restricted goods go only into the recipient's hands (an ID is checked).
    AgeRestricted,
    /// The fleet's rules hand this parcel only to the recipient.
    InPersonOnly,
    /// The parcel needs the delivery code at the door, and nobody at a safe place or pickup
    /// point has it.
    NeedsCode,
    /// The fleet has no pickup points.
    NoPickupPoints,
    /// The shipper does not let this parcel be moved to another day (or no delivery day is
    /// left within their limit).
    NoOtherDay,
}

impl Refusal {
    /// Why the customer may not ask for `method` for a parcel with these facts (the policy
    /// asked with `method` as the parcel's own), or `None` when they may; `stop_needs_code`:
    /// another parcel of the stop already needs the code.
    pub fn of(
        policy: &Policy,
        facts: &ParcelFacts<'_>,
        method: DeliveryMethod,
        stop_needs_code: bool,
    ) -> Option<Refusal> {
        let facts = ParcelFacts {
            method,
            ..facts.clone()
        };
        let (allowed, code) = policy.method_terms(&facts, method);
        if !allowed {
            return Some(if facts.age_restricted {
                Refusal::AgeRestricted
            } else {
                Refusal::InPersonOnly
            });
        }
        let unattended = matches!(
            method,
            DeliveryMethod::SafePlace | DeliveryMethod::PickupPoint
        );
        (unattended && (code || stop_needs_code)).then_some(Refusal::NeedsCode)
    }
}

/// What became of a customer's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChoiceOutcome {
    /// Saved.
    Saved,
    /// The form was made from an older state of the page (a replay, a second click, another
    /// tab): nothing changed.
    Stale,
    /// Choices can no longer change.
    Closed(Closed),
    /// The choice is not allowed for this delivery.
    Refused(Refusal),
    /// The day is not one the delivery may move to.
    DayNotOffered,
    /// The recipient already has a delivery on that day (ask the sender to combine them).
    DayTaken,
    /// The safe place is not on the shipper's list, or the pickup point is not the fleet's.
    NotOnList,
}

/// Why choices can no longer be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The parcels were delivered.
    Delivered,
    /// Nothing is left to deliver (failed, on the way back, or moved).
    Finished,
    /// The delivery day is over.
    DayPassed,
    /// The courier has started this stop.
    Started,
    /// The courier is this many stops away.
    Near(u32),
}

/// Where a stop stands, as the page's rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing<'a> {
    /// The fleet's date today.
    pub today: &'a str,
    /// The stop's delivery day.
    pub delivery_date: &'a str,
    /// Every parcel was delivered.
    pub delivered: bool,
    /// No parcel is left to deliver at this stop.
    pub finished: bool,
    /// The courier made a record at the stop (a code check, a handover, an attempt).
    pub started: bool,
    /// On the delivery day, the open stops before this one on the courier's route (`None`:
    /// not on a route).
    pub stops_before: Option<u32>,
}

impl CustomerRules {
    /// Whether the customer may still change their choices, or why not.
    pub fn open(&self, s: &Standing<'_>) -> Result<(), Closed> {
        if s.delivered {
            return Err(Closed::Delivered);
        }
        if s.finished {
            return Err(Closed::Finished);
        }
        if s.delivery_date < s.today {
            return Err(Closed::DayPassed);
        }
        if s.started {
            return Err(Closed::Started);
        }
        if s.delivery_date == s.today
            && let Some(n) = s.stops_before.filter(|n| *n <= self.cutoff_stops)
        {
            return Err(Closed::Near(n));
        }
        Ok(())
    }

    /// The days a delivery on `date` may move to: the next `limit` delivery days after it.
    pub fn other_days(&self, date: &str, limit: u8) -> Vec<String> {
        self.calendar
            .delivery_days_after(date, usize::from(limit.min(MAX_RESCHEDULE_DAYS)))
    }
}

/// The courier's day so far, for the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Open stops before the customer's on the route.
    pub stops_before: u32,
    /// Stops of the route finished today.
    pub stops_done: u32,
    /// When the courier's first record of the day reached the server, Unix ms.
    pub first_record_ms: Option<i64>,
    /// When their latest one did.
    pub last_record_ms: Option<i64>,
}

/// An arrival window, Unix ms: an hour, on quarter hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// From.
    pub from_ms: i64,
    /// To.
    pub to_ms: i64,
}

const MINUTE: i64 = 60_000;

impl CustomerRules {
    /// The hour the courier should arrive in: the stops before the customer's at the
    /// courier's pace of the day (from their records: the time between the first and the
    /// latest over the stops done since), or at [`Self::minutes_per_stop`] until two stops are
    /// done; counted from the latest record, or from the start of the routes
    /// (`day_start_ms`). Never before a few minutes from `now_ms`.
    pub fn window(&self, p: &Progress, day_start_ms: i64, now_ms: i64) -> Window {
        let default = i64::from(self.minutes_per_stop.max(1)) * MINUTE;
        let pace = match (p.first_record_ms, p.last_record_ms) {
            (Some(first), Some(last)) if p.stops_done >= 2 && last > first => {
                ((last - first) / i64::from(p.stops_done - 1)).clamp(2 * MINUTE, 30 * MINUTE)
            }
            _ => default,
        };
        let anchor = p.last_record_ms.unwrap_or(day_start_ms).max(day_start_ms);
        let eta = (anchor + i64::from(p.stops_before + 1) * pace).max(now_ms + 5 * MINUTE);
        let quarter = 15 * MINUTE;
        // Never a window that began in the past: from the quarter hour of now at the earliest.
        let from = (eta - 30 * MINUTE).max(now_ms).div_euclid(quarter) * quarter;
        Window {
            from_ms: from,
            to_ms: from + 60 * MINUTE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_neighbour_needs_a_name_and_a_house_number() {
        assert_eq!(
            parse_form(&form(&[
                ("choice", "neighbour"),
                ("neighbour_name", " Ana ")
            ])),
            Err(FormError::Missing(Field::House))
        );
        assert_eq!(
            parse_form(&form(&[
                ("choice", "neighbour"),
                ("neighbour_name", "Ana\u{0}"),
                ("house", "14")
            ])),
            Ok(Choice::Neighbour {
                name: "Ana".into(),
                house: "14".into()
            })
        );
    }

    #[test]
    fn instructions_over_the_limit_are_refused_with_the_limit() {
        let long = "x".repeat(MAX_INSTRUCTIONS_CHARS + 1);
        assert_eq!(
            parse_form(&form(&[
                ("choice", "instructions"),
                ("instructions", &long)
            ])),
            Err(FormError::TooLong(
                Field::Instructions,
                MAX_INSTRUCTIONS_CHARS
            ))
        );
        let ok = "ñ".repeat(MAX_INSTRUCTIONS_CHARS);
        assert!(parse_form(&form(&[("choice", "instructions"), ("instructions", &ok)])).is_ok());
        assert_eq!(
            parse_form(&form(&[("choice", "instructions"), ("instructions", "  ")])),
            Ok(Choice::Instructions(None))
        );
        assert_eq!(
            parse_form(&form(&[
                ("choice", "instructions"),
                ("instructions", "Gate\r\ncode\t4")
            ])),
            Ok(Choice::Instructions(Some("Gate\ncode 4".into())))
        );
    }

    #[test]
    fn a_safe_place_is_one_of_the_list_or_described() {
        assert_eq!(
            parse_form(&form(&[("choice", "safe_place"), ("safe_place", "Garage")])),
            Ok(Choice::SafePlace("Garage".into()))
        );
        assert_eq!(
            parse_form(&form(&[
                ("choice", "safe_place"),
                ("safe_place", "other"),
                ("safe_place_other", "Behind the bins")
            ])),
            Ok(Choice::SafePlace("Behind the bins".into()))
        );
        assert_eq!(
            parse_form(&form(&[
                ("choice", "safe_place"),
                ("safe_place_other", &"y".repeat(MAX_SAFE_PLACE_CHARS + 1))
            ])),
            Err(FormError::TooLong(Field::SafePlace, MAX_SAFE_PLACE_CHARS))
        );
        assert_eq!(
            parse_form(&form(&[("choice", "rm -rf")])),
            Err(FormError::Unknown)
        );
    }

    fn standing<'a>(today: &'a str, date: &'a str, before: Option<u32>) -> Standing<'a> {
        Standing {
            today,
            delivery_date: date,
            delivered: false,
            finished: false,
            started: false,
            stops_before: before,
        }
    }

    #[test]
    fn choices_close_when_the_courier_is_near_or_has_started_the_stop() {
        let rules = CustomerRules::default();
        assert_eq!(
            rules.open(&standing("2026-12-08", "2026-12-08", Some(3))),
            Ok(())
        );
        assert_eq!(
            rules.open(&standing("2026-12-08", "2026-12-08", Some(2))),
            Err(Closed::Near(2))
        );
        // The day before, the route's order says nothing yet.
        assert_eq!(
            rules.open(&standing("2026-12-07", "2026-12-08", Some(0))),
            Ok(())
        );
        assert_eq!(
            rules.open(&Standing {
                started: true,
                ..standing("2026-12-08", "2026-12-08", Some(9))
            }),
            Err(Closed::Started)
        );
        assert_eq!(
            rules.open(&standing("2026-12-09", "2026-12-08", Some(9))),
            Err(Closed::DayPassed)
        );
        assert_eq!(
            rules.open(&Standing {
                delivered: true,
                finished: true,
                ..standing("2026-12-08", "2026-12-08", None)
            }),
            Err(Closed::Delivered)
        );
    }

    #[test]
    fn the_window_follows_the_couriers_pace_once_two_stops_are_done() {
        let rules = CustomerRules::default();
        let start = 1_796_000_400_000 - 1_796_000_400_000 % (15 * MINUTE);
        // Nothing done yet: 6 minutes a stop from the start of the routes.
        let before = Progress {
            stops_before: 9,
            stops_done: 0,
            first_record_ms: None,
            last_record_ms: None,
        };
        let w = rules.window(&before, start, start - 60 * MINUTE);
        assert_eq!(w.to_ms - w.from_ms, 60 * MINUTE);
        assert!(w.from_ms <= start + 60 * MINUTE && start + 60 * MINUTE < w.to_ms);
        // Four stops done in 30 minutes (10 a stop), the latest now: 5 before → ~60 min.
        let now = start + 30 * MINUTE;
        let going = Progress {
            stops_before: 5,
            stops_done: 4,
            first_record_ms: Some(start),
            last_record_ms: Some(now),
        };
        let w = rules.window(&going, start, now);
        assert!(
            w.from_ms <= now + 60 * MINUTE && now + 60 * MINUTE < w.to_ms,
            "{w:?}"
        );
        assert_eq!(w.from_ms % (15 * MINUTE), 0);
        // A late courier: the window is never in the past.
        let late = rules.window(&going, start, now + 5 * 60 * MINUTE);
        assert!(late.to_ms > now + 5 * 60 * MINUTE);
        assert!(
            late.from_ms > now + 5 * 60 * MINUTE - 15 * MINUTE,
            "{late:?}"
        );
    }

    fn facts(value: Option<i64>, age: bool) -> ParcelFacts<'static> {
        ParcelFacts {
            declared_value_minor: value,
            currency: Some("EUR"),
            method: DeliveryMethod::HandToRecipient,
            postal_code: "1011",
            location: None,
            age_restricted: age,
            recipient_opt_in: false,
            shipper_requires_code: false,
            alternatives: &[],
        }
    }

    #[test]
    fn the_built_in_policy_refuses_what_it_must_in_the_customers_terms() {
        let p = Policy::default();
        let n = DeliveryMethod::Neighbour;
        let s = DeliveryMethod::SafePlace;
        let k = DeliveryMethod::PickupPoint;
        // A plain parcel: every method.
        for m in [n, s, k] {
            assert_eq!(Refusal::of(&p, &facts(Some(2000), false), m, false), None);
        }
        // Age-restricted goods: only into the recipient's hands.
        assert_eq!(
            Refusal::of(&p, &facts(None, true), n, false),
            Some(Refusal::AgeRestricted)
        );
        assert_eq!(
            Refusal::of(&p, &facts(None, true), s, false),
            Some(Refusal::AgeRestricted)
        );
        // A valuable parcel needs the code: a neighbour can be given it, a safe place cannot.
        assert_eq!(Refusal::of(&p, &facts(Some(60_000), false), n, false), None);
        assert_eq!(
            Refusal::of(&p, &facts(Some(60_000), false), s, false),
            Some(Refusal::NeedsCode)
        );
        // Another parcel of the stop needs the code.
        assert_eq!(
            Refusal::of(&p, &facts(None, false), k, true),
            Some(Refusal::NeedsCode)
        );
    }

    #[test]
    fn a_pickup_points_file_is_read_and_its_mistakes_named() {
        let points = parse_pickup_points(
            "[[point]]\nid = \"k1\"\nname = \"Kiosk\"\naddress = \"1 Station Rd\"\n",
            "points.toml",
        )
        .unwrap();
        assert_eq!(points[0].place(), "Kiosk, 1 Station Rd");
        let twice = "[[point]]\nid = \"k\"\nname = \"A\"\naddress = \"B\"\n".repeat(2);
        assert!(
            parse_pickup_points(&twice, "p")
                .unwrap_err()
                .0
                .contains("twice")
        );
        assert!(
            parse_pickup_points("[[point]]\nid = \"k\"\n", "p.toml")
                .unwrap_err()
                .0
                .contains("p.toml")
        );
    }
}
