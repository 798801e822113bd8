//! Calendar dates: the route's day at the device's clock and the fleet's offset.

/// The calendar date (`YYYY-MM-DD`) at `now_ms` shifted by `utc_offset_secs`.
pub fn date_at(now_ms: i64, utc_offset_secs: i32) -> String {
    let secs = now_ms.div_euclid(1000) + i64::from(utc_offset_secs);
    let date = time::OffsetDateTime::from_unix_timestamp(secs)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_at_follows_the_offset_across_midnight() {
        // 2026-11-25T23:30:00Z
        let ms = 1_795_649_400_000;
        assert_eq!(date_at(ms, 0), "2026-11-25");
        assert_eq!(date_at(ms, 3600), "2026-11-26");
    }
}
