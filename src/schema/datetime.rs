//! PocketBase datetimes: one output format (`2026-11-24 21:44:08.212Z`, UTC, space separator) and a
//! forgiving parser for the input forms clients send.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Formats a UTC instant as PocketBase does: `YYYY-MM-DD HH:MM:SS.mmmZ`.
pub fn format_datetime(dt: DateTime<Utc>) -> String {
    dt.format("%Y-%m-%d %H:%M:%S%.3fZ").to_string()
}

/// The current instant in PocketBase's output format.
pub fn now_string() -> String {
    format_datetime(Utc::now())
}

/// Formats an instant as RFC 3339 the way Go's `time.Time` marshals it (`2030-01-01T00:00:00Z`);
/// used for the `threshold` parameter of date range errors.
pub fn format_rfc3339(dt: DateTime<Utc>) -> String {
    dt.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string()
}

/// Parses the date forms PocketBase accepts: `2024-05-06`, `2024-01-02 03:04:05[.123][Z]`,
/// `2024-01-02T03:04:05Z` and RFC 3339 with an offset. Years outside 0000–9999 are refused so
/// that stored strings keep comparing lexically.
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.len() < 10 || !s.is_char_boundary(10) {
        return None;
    }
    let parsed = if s.len() == 10 {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?
            .and_utc()
    } else {
        // Normalise the separator so one set of formats covers ' ', 'T' and 't'.
        let (date, rest) = s.split_at(10);
        let rest = rest.strip_prefix([' ', 'T', 't'])?;
        parse_date_time(&format!("{date}T{rest}"))?
    };
    let year = parsed.format("%Y").to_string();
    (year.len() == 4 && !year.starts_with(['-', '+'])).then_some(parsed)
}

/// Parses `YYYY-MM-DDTHH:MM[:SS[.fff]][Z|±HH:MM]`.
fn parse_date_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    if let Ok(dt) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%:z") {
        return Some(dt.with_timezone(&Utc));
    }
    let naive = s.strip_suffix(['Z', 'z']).unwrap_or(s);
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(naive, f).ok())
        .map(|n| n.and_utc())
}

/// Normalises a date string to the output format; `""` stays `""`, anything unparseable is `None`.
pub fn normalize_date(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some(String::new());
    }
    parse_datetime(s).map(format_datetime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn norm(s: &str) -> Option<String> {
        parse_datetime(s).map(format_datetime)
    }

    #[test]
    fn formats_with_millis_and_space() {
        let dt = Utc.with_ymd_and_hms(2026, 11, 24, 21, 44, 8).unwrap()
            + chrono::Duration::milliseconds(212);
        assert_eq!(format_datetime(dt), "2026-11-24 21:44:08.212Z");
        assert_eq!(format_rfc3339(dt), "2026-11-24T21:44:08.212Z");
        let whole = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(format_rfc3339(whole), "2030-01-01T00:00:00Z");
    }

    #[test]
    fn now_is_parseable_and_round_trips() {
        let now = now_string();
        assert_eq!(now.len(), 24);
        assert_eq!(norm(&now).as_deref(), Some(now.as_str()));
    }

    #[test]
    fn accepts_pocketbase_input_forms() {
        let cases = [
            ("2024-05-06", "2024-05-06 00:00:00.000Z"),
            ("2024-01-02 03:04:05", "2024-01-02 03:04:05.000Z"),
            ("2024-01-02 03:04:05.123Z", "2024-01-02 03:04:05.123Z"),
            ("2024-01-02T03:04:05Z", "2024-01-02 03:04:05.000Z"),
            ("2024-01-02t03:04:05z", "2024-01-02 03:04:05.000Z"),
            ("2024-05-06T10:11:12+02:00", "2024-05-06 08:11:12.000Z"),
            ("2024-05-06 10:11:12.5-01:30", "2024-05-06 11:41:12.500Z"),
            ("2024-01-02 03:04", "2024-01-02 03:04:00.000Z"),
            ("2024-01-02 03:04:05.123456", "2024-01-02 03:04:05.123Z"),
            (" 2024-05-06 ", "2024-05-06 00:00:00.000Z"),
        ];
        for (input, want) in cases {
            assert_eq!(norm(input).as_deref(), Some(want), "input {input:?}");
        }
    }

    #[test]
    fn refuses_garbage() {
        for bad in [
            "",
            "garbage",
            "1700000000",
            "2024-13-01",
            "2024-02-30",
            "2024-01-02X03:04:05",
            "2024-01-02 25:00:00",
            "2024-01-02 03:04:05 trailing",
            "24-01-02",
            "ü2024-01-02",
        ] {
            assert_eq!(parse_datetime(bad), None, "input {bad:?}");
        }
    }

    #[test]
    fn normalize_keeps_empty() {
        assert_eq!(normalize_date("").as_deref(), Some(""));
        assert_eq!(
            normalize_date("2024-05-06").as_deref(),
            Some("2024-05-06 00:00:00.000Z")
        );
        assert_eq!(normalize_date("nope"), None);
    }
}
