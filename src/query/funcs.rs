//! Datetime macros (UTC), `strftime` with SQLite's specifiers, and `geoDistance`.

use super::ast::Macro;
use super::value::Val;
use crate::schema::{format_datetime, parse_datetime};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use std::borrow::Cow;

/// The values of every macro at one instant, computed once per evaluation environment.
#[derive(Debug, Clone)]
pub struct MacroValues {
    now: DateTime<Utc>,
    values: Vec<(Macro, Val<'static>)>,
}

fn text(dt: DateTime<Utc>) -> Val<'static> {
    Val::Text(Cow::Owned(format_datetime(dt)))
}

fn date_start(y: i32, m: u32, d: u32) -> Option<DateTime<Utc>> {
    Some(
        NaiveDate::from_ymd_opt(y, m, d)?
            .and_hms_opt(0, 0, 0)?
            .and_utc(),
    )
}

impl MacroValues {
    /// Computes all macros for `now`.
    pub fn at(now: DateTime<Utc>) -> Self {
        let end = Duration::milliseconds(1);
        let today = date_start(now.year(), now.month(), now.day()).unwrap_or(now);
        let month = date_start(now.year(), now.month(), 1).unwrap_or(today);
        let next_month = if now.month() == 12 {
            date_start(now.year() + 1, 1, 1)
        } else {
            date_start(now.year(), now.month() + 1, 1)
        }
        .unwrap_or(month);
        let year = date_start(now.year(), 1, 1).unwrap_or(month);
        let next_year = date_start(now.year() + 1, 1, 1).unwrap_or(year);
        let num = |n: u32| Val::Num(f64::from(n));
        let values = Macro::ALL
            .iter()
            .map(|(m, _)| {
                let v = match m {
                    Macro::Now => text(now),
                    Macro::Second => num(now.second()),
                    Macro::Minute => num(now.minute()),
                    Macro::Hour => num(now.hour()),
                    Macro::Weekday => num(now.weekday().num_days_from_sunday()),
                    Macro::Day => num(now.day()),
                    Macro::Month => num(now.month()),
                    Macro::Year => Val::Num(f64::from(now.year())),
                    Macro::Yesterday => text(now - Duration::days(1)),
                    Macro::Tomorrow => text(now + Duration::days(1)),
                    Macro::TodayStart => text(today),
                    Macro::TodayEnd => text(today + Duration::days(1) - end),
                    Macro::MonthStart => text(month),
                    Macro::MonthEnd => text(next_month - end),
                    Macro::YearStart => text(year),
                    Macro::YearEnd => text(next_year - end),
                };
                (*m, v)
            })
            .collect();
        MacroValues { now, values }
    }

    /// The instant the macros were computed for (what `strftime(fmt)` and `'now'` mean).
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The value of one macro.
    pub fn get(&self, m: Macro) -> &Val<'static> {
        self.values
            .iter()
            .find(|(k, _)| *k == m)
            .map_or(&Val::Null, |(_, v)| v)
    }
}

/// SQLite's `strftime(format, value)`: null when the value is not a datetime; `'now'` is the
/// evaluation's instant, so one request sees one time.
pub fn strftime(fmt: &Val<'_>, value: &Val<'_>, now: DateTime<Utc>) -> Val<'static> {
    let (Some(fmt), Some(v)) = (fmt.text(), value.text()) else {
        return Val::Null;
    };
    let dt = if v == "now" {
        now
    } else {
        match parse_datetime(&v) {
            Some(dt) => dt,
            None => return Val::Null,
        }
    };
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let piece = match chars.next() {
            Some('d') => format!("{:02}", dt.day()),
            Some('e') => format!("{:2}", dt.day()),
            Some('f') => format!("{:02}.{:03}", dt.second(), dt.timestamp_subsec_millis()),
            Some('H') => format!("{:02}", dt.hour()),
            Some('j') => format!("{:03}", dt.ordinal()),
            Some('m') => format!("{:02}", dt.month()),
            Some('M') => format!("{:02}", dt.minute()),
            Some('s') => dt.timestamp().to_string(),
            Some('S') => format!("{:02}", dt.second()),
            Some('w') => dt.weekday().num_days_from_sunday().to_string(),
            Some('W') => format!("{:02}", dt.iso_week().week()),
            Some('Y') => format!("{:04}", dt.year()),
            Some('F') => dt.format("%Y-%m-%d").to_string(),
            Some('T') => dt.format("%H:%M:%S").to_string(),
            Some('%') => "%".into(),
            // SQLite returns NULL for an unknown specifier.
            _ => return Val::Null,
        };
        out.push_str(&piece);
    }
    Val::Text(Cow::Owned(out))
}

/// Great-circle distance in km between two lon/lat points (haversine, like PocketBase).
pub fn geo_distance(args: &[Val<'_>]) -> Val<'static> {
    let mut n = [0.0f64; 4];
    for (slot, a) in n.iter_mut().zip(args) {
        *slot = match a {
            Val::Num(x) => *x,
            Val::Text(t) => match t.trim().parse() {
                Ok(x) => x,
                Err(_) => return Val::Null,
            },
            Val::Null => return Val::Null,
        };
    }
    // PocketBase's SQL, in its order of operations (the spherical law of cosines): rounding
    // can push the cosine just past 1 for two equal points, and SQLite's acos is then NULL —
    // results are compared with PocketBase's, so they must round the same way.
    let [lon_a, lat_a, lon_b, lat_b] = n.map(f64::to_radians);
    let cosine = lat_a.cos() * lat_b.cos() * (lon_b - lon_a).cos() + lat_a.sin() * lat_b.sin();
    let d = 6371.0 * cosine.acos();
    if d.is_nan() {
        Val::Null
    } else {
        Val::Num(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Val<'static> {
        Val::Text(Cow::Owned(s.to_string()))
    }

    #[test]
    fn macros_are_utc_boundaries() {
        let now = parse_datetime("2024-02-29 13:14:15.678Z").unwrap();
        let m = MacroValues::at(now);
        assert_eq!(m.get(Macro::Now), &t("2024-02-29 13:14:15.678Z"));
        assert_eq!(m.get(Macro::TodayStart), &t("2024-02-29 00:00:00.000Z"));
        assert_eq!(m.get(Macro::TodayEnd), &t("2024-02-29 23:59:59.999Z"));
        assert_eq!(m.get(Macro::MonthEnd), &t("2024-02-29 23:59:59.999Z"));
        assert_eq!(m.get(Macro::YearStart), &t("2024-01-01 00:00:00.000Z"));
        assert_eq!(m.get(Macro::Yesterday), &t("2024-02-28 13:14:15.678Z"));
        assert_eq!(m.get(Macro::Weekday), &Val::Num(4.0));
        assert_eq!(m.get(Macro::Year), &Val::Num(2024.0));
    }

    #[test]
    fn strftime_and_geo() {
        let d = t("2024-05-06 07:08:09.000Z");
        let now = parse_datetime("2031-01-02 03:04:05.000Z").unwrap();
        assert_eq!(strftime(&t("%Y-%m"), &d, now), t("2024-05"));
        assert_eq!(strftime(&t("%Y"), &t(""), now), Val::Null);
        assert_eq!(strftime(&t("%Y"), &t("now"), now), t("2031"));
        let berlin = [13.40, 52.52, 13.4, 52.5].map(Val::Num);
        assert!(matches!(geo_distance(&berlin), Val::Num(x) if x < 10.0));
        let paris = [2.35, 48.85, 13.4, 52.5].map(Val::Num);
        assert!(matches!(geo_distance(&paris), Val::Num(x) if x > 800.0 && x < 1000.0));
        // Equal points are not always 0 apart: the cosine rounds below 1 here, exactly as in
        // PocketBase's SQL (the compat suite found `geoDistance(p, p) = 0` differing).
        let same = [-180.0, 10.0, -180.0, 10.0].map(Val::Num);
        assert!(matches!(geo_distance(&same), Val::Num(x) if x > 0.0 && x < 0.001));
        let same = [13.4, 52.5, 13.4, 52.5].map(Val::Num);
        assert!(matches!(geo_distance(&same), Val::Num(x) if x < 0.001));
    }
}
