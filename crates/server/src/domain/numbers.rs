//! The console's numbers, pure: what each one means, how one delivery day's records, parcels
//! and stops add up to them per courier and postcode area ([`roll_up`]), and how those cells
//! add up again by day, courier or area into the tables the page and its CSV files show
//! ([`tables`]). Every number is a count or a histogram, so cells of any days, couriers and
//! areas add up exactly; the README's "The numbers" gives the definitions in words.

use std::collections::{BTreeMap, HashMap, HashSet};

use doorstep_protocol::wire::ExceptionReason;
use serde::{Deserialize, Serialize};

/// The longest range the numbers cover at once, in days.
pub const MAX_DAYS: i32 = 366;

/// How the tables are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// One row per delivery day.
    Day,
    /// One row per courier.
    Courier,
    /// One row per postcode area ([`postcode_area`]).
    Area,
}

impl By {
    /// `day`, `courier` or `area`.
    pub fn parse(s: &str) -> Option<By> {
        match s {
            "day" => Some(By::Day),
            "courier" => Some(By::Courier),
            "area" => Some(By::Area),
            _ => None,
        }
    }

    /// The name in the page's address.
    pub fn as_str(self) -> &'static str {
        match self {
            By::Day => "day",
            By::Courier => "courier",
            By::Area => "area",
        }
    }
}

/// The days `from` to `to` (`YYYY-MM-DD`, both included), checked
/// ([`crate::domain::zone::day_range`]): at most [`MAX_DAYS`].
pub fn range(from: &str, to: &str) -> Result<Vec<String>, String> {
    crate::domain::zone::day_range(Some(from), Some(to), MAX_DAYS)
}

/// The postcode area of a postal code: its first three letters or digits, in capitals, spaces
/// and punctuation left out — `941` for `94103`, `SW1` for `SW1A 1AA`, `101` for `1011 AB`.
/// Empty for a postal code without any.
pub fn postcode_area(postal_code: &str) -> String {
    postal_code
        .chars()
        .filter(|c| c.is_alphanumeric())
        .take(3)
        .flat_map(char::to_uppercase)
        .collect()
}

/// How the policy explains a code asked for by default (no rule): see [`code_reasons`].
const FLEET_DEFAULT: &str = "the fleet's default asks for a code";

/// The method names the policy puts before the reasons of a parcel's alternative methods.
const ALTERNATIVE_PREFIXES: [&str; 4] = [
    "hand to recipient",
    "neighbour",
    "safe place",
    "pickup point",
];

/// Why the policy asked a parcel for a code, from its stored reasons: the name of each rule
/// of the parcel's own method whose effects include "code required" (`valuable parcel`, …),
/// or `fleet default`. A parcel may have several.
pub fn code_reasons(reasons: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in reasons {
        let name = if r == FLEET_DEFAULT {
            "fleet default"
        } else {
            let Some((name, rest)) = r.split_once(": ") else {
                continue;
            };
            let asks = rest
                .rsplit_once(" → ")
                .is_some_and(|(_, effects)| effects.split(", ").any(|e| e == "code required"));
            if !asks || ALTERNATIVE_PREFIXES.contains(&name) {
                continue;
            }
            name
        };
        if !out.iter().any(|o| o == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// Durations, as a histogram of seconds: under a minute to the second, under an hour to the
/// minute, under two days to the hour, beyond in whole days (each value is counted at the
/// start of its step). Histograms add up exactly, so a median over any days is a median of
/// the values themselves, to that step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Spread(BTreeMap<u64, u64>);

impl Spread {
    /// The step a duration of `ms` milliseconds is counted in (its start, seconds); negative
    /// durations (a phone clock ahead of the server's) count as 0.
    pub fn step_of(ms: i64) -> u64 {
        let s = u64::try_from(ms.max(0) / 1000).unwrap_or(0);
        let unit = match s {
            0..60 => 1,
            60..3600 => 60,
            3600..172_800 => 3600,
            _ => 86_400,
        };
        s - s % unit
    }

    /// Counts one duration.
    pub fn add(&mut self, ms: i64) {
        *self.0.entry(Self::step_of(ms)).or_default() += 1;
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Spread) {
        for (k, n) in &other.0 {
            *self.0.entry(*k).or_default() += n;
        }
    }

    /// How many durations.
    pub fn count(&self) -> u64 {
        self.0.values().sum()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The nearest-rank `percent`-th percentile, seconds (the step of the ⌈n·percent/100⌉-th
    /// smallest duration); `None` without durations. The median is the 50th.
    pub fn percentile_s(&self, percent: u64) -> Option<u64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = (n * percent).div_ceil(100).max(1);
        let mut seen = 0;
        self.0.iter().find_map(|(step, count)| {
            seen += count;
            (seen >= rank).then_some(*step)
        })
    }
}

fn zero(n: &u64) -> bool {
    *n == 0
}

/// The numbers of one group of records, parcels and stops (one courier in one area on one
/// day, as rolled up; or any sum of those). Every field adds up ([`Cell::merge`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cell {
    /// Parcels whose first attempt (accepted delivery or failed record) is in this group.
    #[serde(skip_serializing_if = "zero")]
    pub attempted: u64,
    /// Of them, delivered at that first attempt.
    #[serde(skip_serializing_if = "zero")]
    pub first_time: u64,
    /// Accepted delivery records.
    #[serde(skip_serializing_if = "zero")]
    pub delivered: u64,
    /// Accepted failed-attempt records.
    #[serde(skip_serializing_if = "zero")]
    pub failed: u64,
    /// Accepted failed-attempt records by reason (`not_home`, …).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub failure_reasons: BTreeMap<String, u64>,
    /// Parcels on the day's routes (counted on the day of the stop they are on now).
    #[serde(skip_serializing_if = "zero")]
    pub parcels: u64,
    /// Of them, parcels the policy asked a code for.
    #[serde(skip_serializing_if = "zero")]
    pub code_parcels: u64,
    /// Parcels that needed a code, by the rule that asked for it ([`code_reasons`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub code_reasons: BTreeMap<String, u64>,
    /// Stops that needed a code.
    #[serde(skip_serializing_if = "zero")]
    pub code_stops: u64,
    /// Of them, handed over with a typed code (online or offline) and no wrong code.
    #[serde(skip_serializing_if = "zero")]
    pub right_first_time: u64,
    /// Typos the check digit caught on the phone, as the phones report them with records.
    #[serde(skip_serializing_if = "zero")]
    pub typos: u64,
    /// Wrong codes the server counted (online checks and offline records).
    #[serde(skip_serializing_if = "zero")]
    pub wrong_codes: u64,
    /// Times a stop locked (the attempt limit reached).
    #[serde(skip_serializing_if = "zero")]
    pub lockouts: u64,
    /// New codes: resends the customer asked for and new codes the fleet made.
    #[serde(skip_serializing_if = "zero")]
    pub new_codes: u64,
    /// Accepted deliveries whose code the server checked online.
    #[serde(skip_serializing_if = "zero")]
    pub online_code: u64,
    /// Accepted deliveries with a code typed offline, checked at sync.
    #[serde(skip_serializing_if = "zero")]
    pub offline_code: u64,
    /// Accepted deliveries with the customer's QR, checked on the phone.
    #[serde(skip_serializing_if = "zero")]
    pub qr: u64,
    /// Accepted deliveries that needed no code.
    #[serde(skip_serializing_if = "zero")]
    pub no_code: u64,
    /// Time at the door (first scan to record) of accepted records whose phone reports it.
    #[serde(skip_serializing_if = "Spread::is_empty")]
    pub door: Spread,
    /// Sync delay (recorded on the phone to received by the server) of every record stored.
    #[serde(skip_serializing_if = "Spread::is_empty")]
    pub sync_delay: Spread,
}

fn add_map(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, n) in from {
        *into.entry(k.clone()).or_default() += n;
    }
}

impl Cell {
    /// Adds another cell's numbers to this one.
    pub fn merge(&mut self, o: &Cell) {
        self.attempted += o.attempted;
        self.first_time += o.first_time;
        self.delivered += o.delivered;
        self.failed += o.failed;
        add_map(&mut self.failure_reasons, &o.failure_reasons);
        self.parcels += o.parcels;
        self.code_parcels += o.code_parcels;
        add_map(&mut self.code_reasons, &o.code_reasons);
        self.code_stops += o.code_stops;
        self.right_first_time += o.right_first_time;
        self.typos += o.typos;
        self.wrong_codes += o.wrong_codes;
        self.lockouts += o.lockouts;
        self.new_codes += o.new_codes;
        self.online_code += o.online_code;
        self.offline_code += o.offline_code;
        self.qr += o.qr;
        self.no_code += o.no_code;
        self.door.merge(&o.door);
        self.sync_delay.merge(&o.sync_delay);
    }
}

/// What the numbers read of a stored record's JSON (the event as the phone signed it, codes
/// and tokens redacted); anything else in it is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StoredRecord {
    /// When the phone made the record (its clock, Unix ms).
    pub occurred_at_ms: Option<i64>,
    /// When the courier scanned the first parcel of the handover (the phone's clock).
    pub first_scan_at_ms: Option<i64>,
    /// Typos the check digit caught on the phone during the handover.
    pub typos_caught: Option<u32>,
    /// The record's body.
    pub body: StoredBody,
}

/// The parts of a stored record's body the numbers read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StoredBody {
    /// How a delivery was verified.
    pub verification: Option<StoredVerification>,
    /// Why an attempt failed.
    pub reason: Option<String>,
}

/// How a delivery was verified: `online_code`, `offline_code`, `token`, `not_required`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct StoredVerification {
    /// The method.
    pub method: String,
}

impl StoredRecord {
    /// The record's facts from its stored JSON (nothing, for JSON it cannot read).
    pub fn parse(json: &str) -> StoredRecord {
        serde_json::from_str(json).unwrap_or_default()
    }
}

/// A delivery or failed-attempt record of the day, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFact {
    /// Its stop.
    pub stop_id: String,
    /// The courier of the phone that made it.
    pub courier_id: String,
    /// The stop's postal code.
    pub postal_code: String,
    /// `delivered` (else a failed attempt).
    pub delivered: bool,
    /// Accepted by the server (else rejected, or kept for review).
    pub accepted: bool,
    /// When the server received it (Unix ms).
    pub received_at_ms: i64,
    /// The parcels it covers.
    pub parcels: Vec<String>,
    /// What its stored JSON says.
    pub stored: StoredRecord,
}

/// A parcel on a stop of the day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParcelFact {
    /// The stop's courier (`""`: on no route).
    pub courier_id: String,
    /// The stop's postal code.
    pub postal_code: String,
    /// Whether the policy asked for a code.
    pub code_required: bool,
    /// The policy's reasons, as stored.
    pub reasons: Vec<String>,
}

/// A stop of the day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopFact {
    /// Stop id.
    pub stop_id: String,
    /// Its courier (`""`: on no route).
    pub courier_id: String,
    /// Its postal code.
    pub postal_code: String,
    /// Whether it needed a code.
    pub code_required: bool,
    /// Wrong codes counted at it.
    pub wrong_codes: u64,
    /// Times it locked.
    pub lockouts: u64,
    /// Codes replaced at the customer's or the fleet's request.
    pub new_codes: u64,
}

/// Everything one delivery day's numbers are made of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayFacts {
    /// Its delivery and failed-attempt records (every status).
    pub records: Vec<RecordFact>,
    /// The parcels on its stops.
    pub parcels: Vec<ParcelFact>,
    /// Its stops.
    pub stops: Vec<StopFact>,
    /// Parcels of its records that had an accepted attempt on an earlier day.
    pub attempted_before: HashSet<String>,
}

/// Where a cell belongs: a courier (id; `""` for stops on no route) and a postcode area.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CellKey {
    /// Courier id.
    pub courier_id: String,
    /// Postcode area ([`postcode_area`]).
    pub area: String,
}

/// One day's numbers per courier and postcode area. Records count for the courier of the
/// phone that made them; parcels and stops for the courier of their stop.
pub fn roll_up(day: &DayFacts) -> BTreeMap<CellKey, Cell> {
    let mut cells: BTreeMap<CellKey, Cell> = BTreeMap::new();
    let cell = |courier: &str, postal: &str| -> CellKey {
        CellKey {
            courier_id: courier.to_string(),
            area: postcode_area(postal),
        }
    };

    // Records, in the order they happened: a parcel's first attempt is its earliest accepted
    // record (none on an earlier day).
    let mut records: Vec<&RecordFact> = day.records.iter().collect();
    records.sort_by_key(|r| {
        (
            r.stored.occurred_at_ms.unwrap_or(r.received_at_ms),
            r.received_at_ms,
        )
    });
    let mut seen: HashSet<&str> = HashSet::new();
    // Stops handed over with a typed code.
    let mut typed: HashSet<&str> = HashSet::new();
    for r in records {
        let key = cell(&r.courier_id, &r.postal_code);
        let c = cells.entry(key).or_default();
        if let Some(at) = r.stored.occurred_at_ms {
            c.sync_delay.add(r.received_at_ms - at);
        }
        c.typos += u64::from(r.stored.typos_caught.unwrap_or(0));
        if !r.accepted {
            continue;
        }
        if let (Some(first), Some(at)) = (r.stored.first_scan_at_ms, r.stored.occurred_at_ms) {
            c.door.add(at - first);
        }
        for p in &r.parcels {
            if !day.attempted_before.contains(p) && seen.insert(p) {
                c.attempted += 1;
                c.first_time += u64::from(r.delivered);
            }
        }
        if r.delivered {
            c.delivered += 1;
            let method = r
                .stored
                .body
                .verification
                .as_ref()
                .map(|v| v.method.as_str());
            match method {
                Some("online_code") => c.online_code += 1,
                Some("offline_code") => c.offline_code += 1,
                Some("token") => c.qr += 1,
                _ => c.no_code += 1,
            }
            if matches!(method, Some("online_code" | "offline_code")) {
                typed.insert(&r.stop_id);
            }
        } else {
            c.failed += 1;
            let reason = r.stored.body.reason.clone().unwrap_or_default();
            *c.failure_reasons.entry(reason).or_default() += 1;
        }
    }

    for p in &day.parcels {
        let c = cells
            .entry(cell(&p.courier_id, &p.postal_code))
            .or_default();
        c.parcels += 1;
        if p.code_required {
            c.code_parcels += 1;
            for why in code_reasons(&p.reasons) {
                *c.code_reasons.entry(why).or_default() += 1;
            }
        }
    }

    for s in &day.stops {
        let c = cells
            .entry(cell(&s.courier_id, &s.postal_code))
            .or_default();
        c.wrong_codes += s.wrong_codes;
        c.lockouts += s.lockouts;
        c.new_codes += s.new_codes;
        if s.code_required {
            c.code_stops += 1;
            if s.wrong_codes == 0 && typed.contains(s.stop_id.as_str()) {
                c.right_first_time += 1;
            }
        }
    }
    cells.retain(|_, c| *c != Cell::default());
    cells
}

/// Adds up cells of `(day, key, cell)` into one row per day, courier (id) or area, by name.
pub fn group<'a>(
    cells: impl IntoIterator<Item = (&'a str, &'a CellKey, &'a Cell)>,
    by: By,
) -> BTreeMap<String, Cell> {
    let mut rows: BTreeMap<String, Cell> = BTreeMap::new();
    for (day, key, cell) in cells {
        let name = match by {
            By::Day => day,
            By::Courier => key.courier_id.as_str(),
            By::Area => key.area.as_str(),
        };
        rows.entry(name.to_string()).or_default().merge(cell);
    }
    rows
}

/// A number in a table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A count.
    Count(u64),
    /// A share, percent (`None`: nothing to share).
    Percent(Option<f64>),
    /// A duration, seconds (`None`: no durations).
    Seconds(Option<u64>),
}

impl Number {
    /// As the page and the CSV file write it: a count, a percentage with one decimal, whole
    /// seconds; empty for no value.
    pub fn text(self) -> String {
        match self {
            Number::Count(n) => n.to_string(),
            Number::Percent(Some(p)) => format!("{p:.1}"),
            Number::Seconds(Some(s)) => s.to_string(),
            Number::Percent(None) | Number::Seconds(None) => String::new(),
        }
    }

    /// As a chart reads it (JSON number, or `null`).
    pub fn json(self) -> serde_json::Value {
        match self {
            Number::Count(n) => n.into(),
            Number::Percent(Some(p)) => ((p * 10.0).round() / 10.0).into(),
            Number::Seconds(Some(s)) => s.into(),
            Number::Percent(None) | Number::Seconds(None) => serde_json::Value::Null,
        }
    }
}

fn share(part: u64, whole: u64) -> Number {
    Number::Percent((whole > 0).then(|| part as f64 * 100.0 / whole as f64))
}

/// A column of a table: its name in the CSV file and for the charts, and its heading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    /// snake_case name.
    pub name: String,
    /// Heading on the page.
    pub label: String,
    /// `count`, `percent` or `seconds`.
    pub unit: &'static str,
}

/// One table of the page (and one CSV file): a row per day, courier or area, then the total.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Its id (`attempts`, …), in the CSV address and the page's markup.
    pub id: &'static str,
    /// Its heading.
    pub title: &'static str,
    /// Its columns after the first (the day, courier or area).
    pub columns: Vec<Column>,
    /// `(name, numbers)` per row.
    pub rows: Vec<(String, Vec<Number>)>,
    /// The numbers of every row together.
    pub total: Vec<Number>,
}

impl Table {
    /// The CSV file's rows as text (the page shows the same): a row per group, then `total`.
    pub fn text_rows(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|(name, nums)| (name.as_str(), nums))
            .chain(std::iter::once(("total", &self.total)))
            .map(|(name, nums)| {
                std::iter::once(name.to_string())
                    .chain(nums.iter().map(|n| n.text()))
                    .collect()
            })
            .collect()
    }
}

/// The table ids, in page order.
pub const TABLES: [&str; 7] = [
    "attempts",
    "failures",
    "codes_needed",
    "code_outcomes",
    "door",
    "offline",
    "sync",
];

/// The failure reasons, in the order the app offers them (the columns of `failures`).
const FAILURE_REASONS: [ExceptionReason; 9] = [
    ExceptionReason::NotHome,
    ExceptionReason::Refused,
    ExceptionReason::CodeLocked,
    ExceptionReason::NoCode,
    ExceptionReason::AddressProblem,
    ExceptionReason::Damaged,
    ExceptionReason::Unsafe,
    ExceptionReason::RefusedContents,
    ExceptionReason::RefusedAge,
];

/// A failure reason's wire name (`not_home`). The match makes a new reason fail to compile
/// until it is a column.
fn reason_name(r: ExceptionReason) -> &'static str {
    match r {
        ExceptionReason::NotHome => "not_home",
        ExceptionReason::Refused => "refused",
        ExceptionReason::CodeLocked => "code_locked",
        ExceptionReason::NoCode => "no_code",
        ExceptionReason::AddressProblem => "address_problem",
        ExceptionReason::Damaged => "damaged",
        ExceptionReason::Unsafe => "unsafe",
        ExceptionReason::RefusedContents => "refused_contents",
        ExceptionReason::RefusedAge => "refused_age",
    }
}

fn col(name: &str, label: &str, unit: &'static str) -> Column {
    Column {
        name: name.into(),
        label: label.into(),
        unit,
    }
}

/// The page's tables from its rows (`(name, cell)`, in order): see the README for each.
pub fn tables(rows: &[(String, Cell)]) -> Vec<Table> {
    let mut total = Cell::default();
    for (_, c) in rows {
        total.merge(c);
    }
    let mut reasons: Vec<(String, u64)> = total
        .code_reasons
        .iter()
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let known: Vec<&str> = FAILURE_REASONS.iter().map(|r| reason_name(*r)).collect();

    type Numbers = Box<dyn Fn(&Cell) -> Vec<Number>>;
    let specs: Vec<(&'static str, &'static str, Vec<Column>, Numbers)> = vec![
        (
            "attempts",
            "First attempts",
            vec![
                col("parcels_attempted", "parcels attempted", "count"),
                col(
                    "delivered_first_attempt",
                    "delivered at the first attempt",
                    "count",
                ),
                col("first_attempt_rate", "first-attempt rate (%)", "percent"),
                col("delivery_records", "delivery records", "count"),
                col("failed_records", "failed-attempt records", "count"),
            ],
            Box::new(|c: &Cell| {
                vec![
                    Number::Count(c.attempted),
                    Number::Count(c.first_time),
                    share(c.first_time, c.attempted),
                    Number::Count(c.delivered),
                    Number::Count(c.failed),
                ]
            }),
        ),
        (
            "failures",
            "Failure reasons",
            std::iter::once(col("failed_records", "failed-attempt records", "count"))
                .chain(known.iter().map(|r| col(r, &r.replace('_', " "), "count")))
                .chain(std::iter::once(col("other", "other", "count")))
                .collect(),
            {
                let known: Vec<String> = known.iter().map(|s| s.to_string()).collect();
                Box::new(move |c: &Cell| {
                    let of = |r: &str| c.failure_reasons.get(r).copied().unwrap_or(0);
                    let listed: u64 = known.iter().map(|r| of(r)).sum();
                    std::iter::once(Number::Count(c.failed))
                        .chain(known.iter().map(|r| Number::Count(of(r))))
                        .chain(std::iter::once(Number::Count(
                            c.failed - listed.min(c.failed),
                        )))
                        .collect()
                })
            },
        ),
        (
            "codes_needed",
            "Parcels that needed a code, and why",
            [
                col("parcels", "parcels", "count"),
                col("code_parcels", "needed a code", "count"),
                col("code_share", "share that needed a code (%)", "percent"),
            ]
            .into_iter()
            .chain(reasons.iter().map(|(r, _)| Column {
                name: format!("reason: {r}"),
                label: r.clone(),
                unit: "count",
            }))
            .collect(),
            {
                let reasons: Vec<String> = reasons.iter().map(|(r, _)| r.clone()).collect();
                Box::new(move |c: &Cell| {
                    [
                        Number::Count(c.parcels),
                        Number::Count(c.code_parcels),
                        share(c.code_parcels, c.parcels),
                    ]
                    .into_iter()
                    .chain(
                        reasons
                            .iter()
                            .map(|r| Number::Count(c.code_reasons.get(r).copied().unwrap_or(0))),
                    )
                    .collect()
                })
            },
        ),
        (
            "code_outcomes",
            "Code outcomes",
            vec![
                col("code_stops", "stops that needed a code", "count"),
                col("right_first_time", "right first time", "count"),
                col("right_first_time_rate", "right first time (%)", "percent"),
                col("typos_caught", "typos caught on the phone", "count"),
                col("wrong_codes", "wrong codes", "count"),
                col("lockouts", "lockouts", "count"),
                col("new_codes", "new codes", "count"),
            ],
            Box::new(|c: &Cell| {
                vec![
                    Number::Count(c.code_stops),
                    Number::Count(c.right_first_time),
                    share(c.right_first_time, c.code_stops),
                    Number::Count(c.typos),
                    Number::Count(c.wrong_codes),
                    Number::Count(c.lockouts),
                    Number::Count(c.new_codes),
                ]
            }),
        ),
        (
            "door",
            "Time at the door",
            vec![
                col("handovers_timed", "records timed", "count"),
                col("door_median_s", "median (s)", "seconds"),
                col("door_p90_s", "90th percentile (s)", "seconds"),
            ],
            Box::new(|c: &Cell| {
                vec![
                    Number::Count(c.door.count()),
                    Number::Seconds(c.door.percentile_s(50)),
                    Number::Seconds(c.door.percentile_s(90)),
                ]
            }),
        ),
        (
            "offline",
            "Offline share",
            vec![
                col("online_code", "code checked online", "count"),
                col("offline_code", "code typed offline", "count"),
                col("qr", "customer's QR", "count"),
                col("no_code", "no code needed", "count"),
                col("offline_share", "offline share (%)", "percent"),
            ],
            Box::new(|c: &Cell| {
                vec![
                    Number::Count(c.online_code),
                    Number::Count(c.offline_code),
                    Number::Count(c.qr),
                    Number::Count(c.no_code),
                    share(c.offline_code + c.qr, c.online_code + c.offline_code + c.qr),
                ]
            }),
        ),
        (
            "sync",
            "Sync delay",
            vec![
                col("records", "records", "count"),
                col("sync_median_s", "median (s)", "seconds"),
                col("sync_p90_s", "90th percentile (s)", "seconds"),
            ],
            Box::new(|c: &Cell| {
                vec![
                    Number::Count(c.sync_delay.count()),
                    Number::Seconds(c.sync_delay.percentile_s(50)),
                    Number::Seconds(c.sync_delay.percentile_s(90)),
                ]
            }),
        ),
    ];
    specs
        .into_iter()
        .map(|(id, title, columns, numbers)| Table {
            id,
            title,
            columns,
            rows: rows
                .iter()
                .map(|(name, c)| (name.clone(), numbers(c)))
                .collect(),
            total: numbers(&total),
        })
        .collect()
}

/// The rows of `grouped` (by courier id or area) renamed for people: courier ids to their
/// names (`names`), `""` to "on no route" or "no postcode"; in name order.
pub fn named_rows(
    grouped: BTreeMap<String, Cell>,
    by: By,
    names: &HashMap<String, String>,
) -> Vec<(String, Cell)> {
    let mut rows: Vec<(String, Cell)> = grouped
        .into_iter()
        .map(|(key, cell)| {
            let name = match by {
                By::Day => key,
                By::Courier if key.is_empty() => "on no route".into(),
                By::Courier => names.get(&key).cloned().unwrap_or(key),
                By::Area if key.is_empty() => "no postcode".into(),
                By::Area => key,
            };
            (name, cell)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::{ParcelFacts, Policy};
    use doorstep_protocol::wire::DeliveryMethod;

    fn plain_parcel() -> ParcelFacts<'static> {
        ParcelFacts {
            declared_value_minor: None,
            currency: None,
            method: DeliveryMethod::HandToRecipient,
            postal_code: "1011",
            location: None,
            age_restricted: false,
            recipient_opt_in: false,
            shipper_requires_code: false,
            alternatives: &[DeliveryMethod::Neighbour],
        }
    }

    #[test]
    fn the_table_ids_are_the_tables_in_page_order() {
        let ids: Vec<&str> = tables(&[]).iter().map(|t| t.id).collect();
        assert_eq!(ids, TABLES);
    }

    #[test]
    fn postcode_areas_are_the_first_three_letters_or_digits() {
        assert_eq!(postcode_area("94103"), "941");
        assert_eq!(postcode_area("sw1a 1aa"), "SW1");
        assert_eq!(postcode_area("1011 AB"), "101");
        assert_eq!(postcode_area(" 1-2 "), "12");
        assert_eq!(postcode_area(""), "");
    }

    #[test]
    fn a_range_is_checked_and_listed_day_by_day() {
        assert_eq!(
            range("2026-02-27", "2026-03-01").unwrap(),
            vec!["2026-02-27", "2026-02-28", "2026-03-01"]
        );
        assert!(
            range("2026-03-02", "2026-03-01")
                .unwrap_err()
                .contains("after")
        );
        assert!(
            range("2026-3-1", "2026-03-01")
                .unwrap_err()
                .contains("not a date")
        );
        assert!(
            range("2025-01-01", "2026-01-02")
                .unwrap_err()
                .contains("367 days")
        );
        assert_eq!(range("2025-01-01", "2025-12-31").unwrap().len(), 365);
    }

    #[test]
    fn durations_are_counted_in_steps_and_percentiles_take_the_nearest_rank() {
        assert_eq!(Spread::step_of(-5), 0);
        assert_eq!(Spread::step_of(59_999), 59);
        assert_eq!(Spread::step_of(125_000), 120);
        assert_eq!(Spread::step_of(3 * 3_600_000 + 59_000), 3 * 3600);
        assert_eq!(Spread::step_of(50 * 3_600_000), 2 * 86_400);
        let mut s = Spread::default();
        for ms in [2_000, 4_000, 9_000, 300_000] {
            s.add(ms);
        }
        assert_eq!(s.percentile_s(50), Some(4));
        assert_eq!(s.percentile_s(90), Some(300));
        assert_eq!(Spread::default().percentile_s(50), None);
    }

    #[test]
    fn the_code_reasons_are_the_rules_that_asked_for_a_code() {
        let policy = Policy::default();
        let facts = ParcelFacts {
            declared_value_minor: Some(149_900),
            currency: Some("EUR"),
            ..plain_parcel()
        };
        let d = policy.decide(&facts);
        assert!(d.code_required);
        assert_eq!(
            code_reasons(&d.reasons),
            vec!["valuable parcel", "very valuable parcel"]
        );
        let plain = policy.decide(&plain_parcel());
        assert!(code_reasons(&plain.reasons).is_empty());
        let default_code = Policy::from_toml("[defaults]\ncode_required = true\n").unwrap();
        assert_eq!(
            code_reasons(&default_code.decide(&plain_parcel()).reasons),
            vec!["fleet default"]
        );
    }

    fn record(parcel: &str, delivered: bool, at: i64, body: &str) -> RecordFact {
        RecordFact {
            stop_id: format!("stop-{parcel}"),
            courier_id: "c1".into(),
            postal_code: "1011 AB".into(),
            delivered,
            accepted: true,
            received_at_ms: at + 2_000,
            parcels: vec![parcel.into()],
            stored: StoredRecord::parse(&format!(
                r#"{{"occurred_at_ms":{at},"first_scan_at_ms":{},"body":{body}}}"#,
                at - 90_000
            )),
        }
    }

    #[test]
    fn a_parcel_counts_once_at_its_first_attempt_of_the_day_or_not_at_all() {
        let failed = r#"{"kind":"failed","reason":"not_home"}"#;
        let online =
            r#"{"kind":"delivered","verification":{"method":"online_code","verification_id":"v"}}"#;
        let day = DayFacts {
            // p1 failed then delivered; p2 delivered; p3 tried on an earlier day.
            records: vec![
                record("p1", true, 5_000_000, online),
                record("p1", false, 1_000_000, failed),
                record("p2", true, 2_000_000, online),
                record("p3", true, 3_000_000, online),
            ],
            attempted_before: ["p3".to_string()].into(),
            ..DayFacts::default()
        };
        let cells = roll_up(&day);
        let c = &cells[&CellKey {
            courier_id: "c1".into(),
            area: "101".into(),
        }];
        assert_eq!((c.attempted, c.first_time), (2, 1));
        assert_eq!((c.delivered, c.failed, c.online_code), (3, 1, 3));
        assert_eq!(c.failure_reasons["not_home"], 1);
        assert_eq!(c.door.percentile_s(50), Some(60));
        assert_eq!(c.sync_delay.percentile_s(90), Some(2));
    }
}
