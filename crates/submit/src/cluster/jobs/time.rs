//! The times Kubernetes writes (`2026-01-01T12:00:00Z`, always UTC) as Unix
//! seconds, and spans of time the way a listing shows them (`2h13m`).

/// Unix seconds of an RFC 3339 time in UTC as the API server writes it
/// (`YYYY-MM-DDTHH:MM:SSZ`, fractions allowed); `None` for anything else.
pub fn unix_seconds(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (date, clock) = text.split_once('T')?;
    let clock = clock.split('.').next()?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let mut c = clock.split(':').map(|p| p.parse::<i64>().ok());
    let (hour, minute, second) = (c.next()??, c.next()??, c.next()??);
    if d.next().is_some() || c.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A span in its two largest units: `40s`, `5m`, `2h13m`, `3d4h`. A
/// negative span (a clock behind the cluster's) is `0s`.
pub fn span(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h{m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d{h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_server_times_are_unix_seconds() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2026-01-01T12:00:00Z"), Some(1_767_268_800));
        assert_eq!(unix_seconds("2024-02-29T23:59:59.5Z"), Some(1_709_251_199));
        for bad in ["", "2026-01-01", "2026-01-01T12:00:00", "2026-13-01T00:00:00Z", "x-1-1T0:0:0Z"] {
            assert_eq!(unix_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn spans_show_their_two_largest_units() {
        let cases =
            [(-5, "0s"), (40, "40s"), (300, "5m"), (7980, "2h13m"), (7200, "2h"), (273_600, "3d4h"), (86_400, "1d")];
        for (seconds, text) in cases {
            assert_eq!(span(seconds), text, "{seconds}");
        }
    }
}
