//! Checks used by field validation: email addresses, http(s) URLs, date ranges, lengths, sizes
//! and counts, each producing PocketBase's error code and parameters.

use super::datetime::{format_rfc3339, parse_datetime};
use crate::error::FieldError;
use serde_json::json;

const EMAIL_LOCAL_SPECIALS: &str = ".!#$%&'*+/=?^_`{|}~-";

/// Whether `d` is a DNS name (or IPv4 address): dot-separated labels of letters, digits and
/// inner hyphens, each at most 63 characters.
fn is_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The domain of a well-formed email address, or `None` when `s` is not one.
pub(crate) fn email_domain(s: &str) -> Option<&str> {
    let (local, domain) = s.split_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || EMAIL_LOCAL_SPECIALS.contains(c));
    (s.len() <= 254 && local_ok && is_domain(domain)).then_some(domain)
}

/// The host of an absolute `http`/`https` URL, or `None` when `s` is not one.
pub(crate) fn url_host(s: &str) -> Option<&str> {
    if s.len() > 2048 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (scheme, rest) = s.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let (addr, after) = v6.split_once(']')?;
        if addr.is_empty()
            || !addr
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return None;
        }
        (addr, after.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty()
            || p.len() > 5
            || !p.bytes().all(|b| b.is_ascii_digit())
            || p.parse::<u32>().ok()? > 65535
        {
            return None;
        }
    }
    if !host_port.starts_with('[') && !is_domain(host) {
        return None;
    }
    Some(host)
}

/// Checks a normalised date against optional `min`/`max` bounds (also normalised, `""` = none).
pub(crate) fn date_range(value: &str, min: &str, max: &str) -> Result<(), FieldError> {
    let bad_date = || FieldError::new("validation_invalid_date", "Must be a valid date.");
    let v = parse_datetime(value).ok_or_else(bad_date)?;
    if let Some(lo) = parse_datetime(min).filter(|lo| v < *lo) {
        let t = format_rfc3339(lo);
        return Err(FieldError::new(
            "validation_min_greater_equal_than_required",
            format!("Must be no less than {t}."),
        )
        .with_params(json!({"threshold": t})));
    }
    if let Some(hi) = parse_datetime(max).filter(|hi| v > *hi) {
        let t = format_rfc3339(hi);
        return Err(FieldError::new(
            "validation_max_less_equal_than_required",
            format!("Must be no greater than {t}."),
        )
        .with_params(json!({"threshold": t})));
    }
    Ok(())
}

/// Character count within `min..=max`; password errors carry no `min` param (like PocketBase).
pub(crate) fn check_length(
    s: &str,
    min: u32,
    max: u32,
    with_min_params: bool,
) -> Result<(), FieldError> {
    let n = s.chars().count();
    if n < min as usize {
        let err = FieldError::new(
            "validation_min_text_constraint",
            format!("Must be at least {min} character(s)."),
        );
        return Err(if with_min_params {
            err.with_params(json!({"min": min}))
        } else {
            err
        });
    }
    if n > max as usize {
        let msg = format!("Must be no more than {max} character(s).");
        return Err(
            FieldError::new("validation_max_text_constraint", msg).with_params(json!({"max": max}))
        );
    }
    Ok(())
}

/// Domain allowed by `exceptDomains` / `onlyDomains` (case-insensitive).
pub(crate) fn check_domain(
    domain: &str,
    except: &[String],
    only: &[String],
    code: &'static str,
    what: &str,
) -> Result<(), FieldError> {
    let listed = |list: &[String]| list.iter().any(|d| d.eq_ignore_ascii_case(domain));
    if listed(except) || (!only.is_empty() && !listed(only)) {
        return Err(FieldError::new(
            code,
            format!("{what} domain is not allowed."),
        ));
    }
    Ok(())
}

/// Byte size within `limit`.
pub(crate) fn check_size(
    len: usize,
    limit: u64,
    code: &'static str,
    what: &str,
) -> Result<(), FieldError> {
    if len as u64 > limit {
        let msg = format!("The maximum allowed {what} size is {limit} bytes.");
        return Err(FieldError::new(code, msg).with_params(json!({"maxSize": limit})));
    }
    Ok(())
}

/// Number of selected values: `min` only when non-empty, `max` only for multi fields.
pub(crate) fn check_count(n: usize, min: u32, max: u32) -> Result<(), FieldError> {
    if n > 0 && n < min as usize {
        let msg = format!("Select at least {min}.");
        return Err(FieldError::new("validation_not_enough_values", msg)
            .with_params(json!({"minSelect": min})));
    }
    if max >= 2 && n > max as usize {
        let msg = format!("Select no more than {max}.");
        return Err(FieldError::new("validation_too_many_values", msg)
            .with_params(json!({"maxSelect": max})));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in [
            "a@b.co",
            "first.last+tag@sub.example.org",
            "x@localhost",
            "o'neil@x.io",
        ] {
            assert!(email_domain(ok).is_some(), "{ok}");
        }
        assert_eq!(email_domain("a@B.co"), Some("B.co"));
        for bad in [
            "", "a", "@b.co", "a@", "a b@c.io", "a@b..co", "a@-b.co", "a@b.co.", "a@b@c.io",
            "ä@b.co", "a@b_c.io",
        ] {
            assert!(email_domain(bad).is_none(), "{bad}");
        }
        assert!(email_domain(&format!("{}@b.co", "a".repeat(65))).is_none());
    }

    #[test]
    fn urls() {
        let cases = [
            ("https://x.io/p", "x.io"),
            ("http://localhost:8090/api?x=1#f", "localhost"),
            ("HTTPS://user:pw@Example.com", "Example.com"),
            ("http://[::1]:80/", "::1"),
            ("http://127.0.0.1", "127.0.0.1"),
        ];
        for (url, host) in cases {
            assert_eq!(url_host(url), Some(host), "{url}");
        }
        for bad in [
            "",
            "x.io",
            "ftp://x.io",
            "javascript:alert(1)",
            "https://",
            "https:///path",
            "https://x.io:99999",
            "https://x.io:",
            "https://x .io",
            "https://x.io/a b",
            "http://[zz]/",
            "https://-x.io",
        ] {
            assert!(url_host(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn date_bounds() {
        let (lo, hi) = ("2024-01-01 00:00:00.000Z", "2030-01-01 00:00:00.000Z");
        assert!(date_range("2025-06-01 00:00:00.000Z", lo, hi).is_ok());
        assert!(date_range(lo, lo, hi).is_ok());
        assert!(date_range("2025-06-01 00:00:00.000Z", "", "").is_ok());
        let e = date_range("2023-12-31 23:59:59.999Z", lo, hi).unwrap_err();
        assert_eq!(e.code, "validation_min_greater_equal_than_required");
        assert_eq!(e.params, Some(json!({"threshold": "2024-01-01T00:00:00Z"})));
        let e = date_range("2031-01-01 00:00:00.000Z", lo, hi).unwrap_err();
        assert_eq!(e.code, "validation_max_less_equal_than_required");
        assert_eq!(e.message, "Must be no greater than 2030-01-01T00:00:00Z.");
        assert_eq!(
            date_range("nope", lo, hi).unwrap_err().code,
            "validation_invalid_date"
        );
    }
}
