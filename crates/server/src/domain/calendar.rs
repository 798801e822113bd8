//! The fleet's delivery calendar: the weekdays it delivers on and the days it is closed
//! (holidays). "The next delivery day" of a reattempt, the days a customer may move a
//! delivery to and the end of a code's validity are all counted in delivery days.
//!
//! A closed-days file has one day per line, `YYYY-MM-DD` and an optional name; `#` starts a
//! comment:
//!
//! ```text
//! # 2026 public holidays
//! 2026-12-25 Christmas Day
//! 2027-01-01 New Year's Day
//! ```

use std::collections::BTreeSet;

use jiff::civil::Date;

/// How far ahead the calendar looks for a delivery day before it gives up (a calendar whose
/// next year is all closed is a mistake in its file).
const HORIZON_DAYS: u32 = 366;

/// A calendar that cannot be built; the message says which line or value and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("delivery calendar: {0}")]
pub struct CalendarError(pub String);

/// The weekdays a fleet delivers on and the days it is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// Monday first.
    weekdays: [bool; 7],
    closed: BTreeSet<Date>,
}

impl Default for Calendar {
    /// Monday to Saturday, no closed days.
    fn default() -> Self {
        Self {
            weekdays: [true, true, true, true, true, true, false],
            closed: BTreeSet::new(),
        }
    }
}

const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Calendar {
    /// A calendar of `weekdays` (see [`Calendar::parse_weekdays`]) and closed days.
    pub fn new(weekdays: &str, closed: Vec<Date>) -> Result<Self, CalendarError> {
        Ok(Self {
            weekdays: Self::parse_weekdays(weekdays)?,
            closed: closed.into_iter().collect(),
        })
    }

    /// Delivery weekdays as `mon-fri`, `mon,wed,fri`, `mon-sat` or `all`.
    pub fn parse_weekdays(text: &str) -> Result<[bool; 7], CalendarError> {
        let index = |s: &str| {
            let s = s.trim().to_ascii_lowercase();
            NAMES
                .iter()
                .position(|n| s.starts_with(n) && n.len() <= s.len())
                .ok_or_else(|| {
                    CalendarError(format!(
                        "{s:?} is not a weekday; write mon, tue, wed, thu, fri, sat or sun"
                    ))
                })
        };
        let mut days = [false; 7];
        if text.trim().eq_ignore_ascii_case("all") {
            return Ok([true; 7]);
        }
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (index(a)?, index(b)?);
                    if a > b {
                        return Err(CalendarError(format!(
                            "{part:?} runs backwards; write the range Monday first, e.g. mon-fri"
                        )));
                    }
                    days[a..=b].iter_mut().for_each(|d| *d = true);
                }
                None => days[index(part)?] = true,
            }
        }
        if !days.contains(&true) {
            return Err(CalendarError(
                "no delivery weekday given; e.g. --delivery-days mon-sat".into(),
            ));
        }
        Ok(days)
    }

    /// The closed days of a file's text (see the module's documentation; a day's name is for
    /// the people who keep the file); `source` names the file in errors.
    pub fn parse_closed(text: &str, source: &str) -> Result<Vec<Date>, CalendarError> {
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let day = line.split_whitespace().next().unwrap_or(line);
            let date = parse_day(day).ok_or_else(|| {
                CalendarError(format!(
                    "{source} line {}: {day:?} is not a date like 2026-12-25",
                    n + 1
                ))
            })?;
            out.push(date);
        }
        Ok(out)
    }

    /// Adds closed days (the command line's `--closed-day`).
    pub fn close(&mut self, days: impl IntoIterator<Item = Date>) {
        self.closed.extend(days);
    }

    fn delivers(&self, d: Date) -> bool {
        let weekday = d.weekday().to_monday_zero_offset() as usize;
        self.weekdays[weekday] && !self.closed.contains(&d)
    }

    /// The first delivery day after `date`.
    pub fn next_delivery_day(&self, date: &str) -> Option<String> {
        self.delivery_days_after(date, 1).pop()
    }

    /// The first `n` delivery days after `date`, in order (fewer only when the next year
    /// holds fewer).
    pub fn delivery_days_after(&self, date: &str, n: usize) -> Vec<String> {
        let mut out = Vec::with_capacity(n);
        let Some(mut d) = parse_day(date) else {
            return out;
        };
        for _ in 0..HORIZON_DAYS {
            if out.len() == n {
                break;
            }
            let Ok(next) = d.tomorrow() else { break };
            d = next;
            if self.delivers(d) {
                out.push(d.to_string());
            }
        }
        out
    }

    /// The last day of a validity of `days` delivery days starting on `date` (which counts
    /// as the first when it is one): `2026-12-24` with 2 days and the 25th closed is
    /// `2026-12-26`.
    pub fn last_valid_day(&self, date: &str, days: u32) -> Option<String> {
        let first = parse_day(date)?;
        let mut left = days.max(1) - u32::from(self.delivers(first));
        let mut d = first;
        while left > 0 {
            d = parse_day(&self.next_delivery_day(&d.to_string())?)?;
            left -= 1;
        }
        Some(d.to_string())
    }
}

fn parse_day(s: &str) -> Option<Date> {
    if s.len() != 10 {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A weekday, Monday first (0) to Sunday (6), of `date`.
    fn weekday_index(date: &str) -> Option<usize> {
        parse_day(date).map(|d| d.weekday().to_monday_zero_offset() as usize)
    }

    fn christmas() -> Calendar {
        let mut c = Calendar::new("mon-fri", Vec::new()).unwrap();
        c.close(Calendar::parse_closed("2026-12-25 Christmas Day\n# none\n\n", "f").unwrap());
        c
    }

    #[test]
    fn the_next_delivery_day_skips_the_weekend_and_a_holiday() {
        let c = christmas();
        // Thursday 24th → Friday 25th is closed → Monday 28th.
        assert_eq!(
            c.next_delivery_day("2026-12-24").as_deref(),
            Some("2026-12-28")
        );
        // Friday → Monday.
        assert_eq!(
            c.next_delivery_day("2026-12-18").as_deref(),
            Some("2026-12-21")
        );
        assert_eq!(
            c.next_delivery_day("2026-12-21").as_deref(),
            Some("2026-12-22")
        );
        // The name after the date is the file keeper's; the day is what counts.
        assert_eq!(
            Calendar::parse_closed("2026-12-25 Christmas Day", "f").unwrap(),
            ["2026-12-25".parse::<Date>().unwrap()]
        );
    }

    #[test]
    fn the_default_calendar_delivers_monday_to_saturday() {
        let c = Calendar::default();
        assert_eq!(
            c.next_delivery_day("2026-12-05").as_deref(),
            Some("2026-12-07")
        );
        assert_eq!(
            c.next_delivery_day("2026-12-04").as_deref(),
            Some("2026-12-05")
        );
        assert_eq!(weekday_index("2026-12-06"), Some(6));
        assert!(
            !c.delivery_days_after("2026-12-05", 6)
                .contains(&"2026-12-06".to_string())
        );
    }

    #[test]
    fn delivery_days_after_a_day_are_listed_in_order() {
        assert_eq!(
            christmas().delivery_days_after("2026-12-23", 3),
            ["2026-12-24", "2026-12-28", "2026-12-29"]
        );
    }

    #[test]
    fn a_validity_counts_delivery_days_from_the_delivery_day() {
        let c = christmas();
        assert_eq!(
            c.last_valid_day("2026-12-24", 1).as_deref(),
            Some("2026-12-24")
        );
        assert_eq!(
            c.last_valid_day("2026-12-24", 2).as_deref(),
            Some("2026-12-28")
        );
        // A delivery set on a closed day is valid until the next delivery day's end.
        assert_eq!(
            c.last_valid_day("2026-12-25", 1).as_deref(),
            Some("2026-12-28")
        );
    }

    #[test]
    fn weekdays_are_read_as_ranges_lists_or_all() {
        assert_eq!(
            Calendar::parse_weekdays("mon,wed,FRI").unwrap(),
            [true, false, true, false, true, false, false]
        );
        assert_eq!(Calendar::parse_weekdays("all").unwrap(), [true; 7]);
        assert_eq!(
            Calendar::new("mon,wed", Vec::new())
                .unwrap()
                .delivery_days_after("2026-12-06", 3),
            ["2026-12-07", "2026-12-09", "2026-12-14"]
        );
        assert!(
            Calendar::parse_weekdays("fri-mon")
                .unwrap_err()
                .0
                .contains("backwards")
        );
        assert!(
            Calendar::parse_weekdays("funday")
                .unwrap_err()
                .0
                .contains("not a weekday")
        );
        assert!(Calendar::parse_weekdays("").is_err());
    }

    #[test]
    fn a_bad_line_in_a_closed_days_file_is_named() {
        let err = Calendar::parse_closed("2026-12-25\n25/12/2026 Christmas\n", "holidays.txt")
            .unwrap_err();
        assert!(err.0.contains("holidays.txt line 2"), "{err}");
    }

    #[test]
    fn a_calendar_with_every_day_closed_has_no_next_day() {
        let mut c = Calendar::new("mon", Vec::new()).unwrap();
        let mondays = Calendar::default()
            .delivery_days_after("2026-12-06", 400)
            .into_iter()
            .filter(|d| weekday_index(d) == Some(0))
            .map(|d| d.parse().unwrap());
        c.close(mondays);
        assert_eq!(c.next_delivery_day("2026-12-06"), None);
    }
}
