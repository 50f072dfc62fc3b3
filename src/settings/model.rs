//! The settings document in PocketBase's shape (`GET/PATCH /api/settings`), its defaults from
//! the config file, the read mask for secrets, and validation with field paths.

use crate::config::Config;
use crate::error::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Settings {
    pub smtp: Smtp,
    pub backups: Backups,
    pub s3: S3,
    pub meta: Meta,
    pub rate_limits: RateLimits,
    pub trusted_proxy: TrustedProxy,
    pub batch: Batch,
    pub logs: Logs,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Smtp {
    pub enabled: bool,
    pub port: i64,
    pub host: String,
    pub username: String,
    pub password: String,
    /// `PLAIN` (default when empty) or `LOGIN`.
    pub auth_method: String,
    /// Implicit TLS; false sends STARTTLS when the server offers it.
    pub tls: bool,
    /// EHLO name; empty = `localhost`.
    pub local_name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct S3 {
    pub enabled: bool,
    pub bucket: String,
    pub region: String,
    pub endpoint: String,
    pub access_key: String,
    pub secret: String,
    pub force_path_style: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Backups {
    pub cron: String,
    pub cron_max_keep: i64,
    pub s3: S3,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Meta {
    pub app_name: String,
    #[serde(rename = "appURL")]
    pub app_url: String,
    pub sender_name: String,
    pub sender_address: String,
    pub hide_controls: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RateLimits {
    pub rules: Vec<RateLimitRule>,
    pub enabled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RateLimitRule {
    pub label: String,
    pub audience: String,
    pub duration: i64,
    pub max_requests: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TrustedProxy {
    pub headers: Vec<String>,
    #[serde(rename = "useLeftmostIP")]
    pub use_leftmost_ip: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Batch {
    pub enabled: bool,
    pub max_requests: i64,
    pub timeout: i64,
    pub max_body_size: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Logs {
    pub max_days: i64,
    pub min_level: i64,
    #[serde(rename = "logIP")]
    pub log_ip: bool,
    pub log_auth_id: bool,
}

/// Most entries in list settings (rate limit rules, trusted proxy headers).
pub const MAX_LIST: usize = 100;
/// Longest accepted text value.
pub const MAX_TEXT: usize = 2048;

/// `Name <address>` or a bare address, split.
fn split_sender(sender: &str) -> (String, String) {
    match (sender.find('<'), sender.rfind('>')) {
        (Some(a), Some(b)) if a < b => (
            sender[..a].trim().trim_matches('"').to_string(),
            sender[a + 1..b].trim().to_string(),
        ),
        _ => (String::new(), sender.trim().to_string()),
    }
}

impl Settings {
    /// The settings the config file implies; stored values override them key by key.
    pub fn defaults(config: &Config) -> Self {
        let smtp = &config.smtp;
        let (sender_name, sender_address) = split_sender(&smtp.sender);
        let url = smtp.app_url.trim().trim_end_matches('/');
        let logs = &config.request_logs;
        Self {
            smtp: Smtp {
                enabled: !smtp.host.trim().is_empty(),
                port: i64::from(smtp.port),
                host: smtp.host.clone(),
                username: smtp.username.clone(),
                password: smtp.password.clone(),
                auth_method: "PLAIN".into(),
                tls: smtp.tls == "tls",
                local_name: String::new(),
            },
            backups: Backups {
                cron: String::new(),
                cron_max_keep: 3,
                s3: S3::default(),
            },
            s3: S3::default(),
            meta: Meta {
                app_name: smtp.app_name.clone(),
                app_url: if url.is_empty() {
                    format!("http://{}", config.server.http)
                } else {
                    url.to_string()
                },
                sender_name: if sender_name.is_empty() {
                    smtp.app_name.clone()
                } else {
                    sender_name
                },
                sender_address,
                hide_controls: false,
            },
            rate_limits: RateLimits {
                enabled: config.rate_limit.enabled,
                rules: vec![RateLimitRule {
                    label: "/api/".into(),
                    audience: String::new(),
                    duration: i64::try_from(config.rate_limit.window_secs.max(1))
                        .unwrap_or(i64::MAX),
                    max_requests: i64::from(config.rate_limit.max_requests),
                }],
            },
            trusted_proxy: TrustedProxy {
                headers: logs.proxy_headers(),
                use_leftmost_ip: false,
            },
            batch: Batch {
                enabled: true,
                max_requests: i64::try_from(config.batch.max_requests).unwrap_or(i64::MAX),
                timeout: 3,
                max_body_size: 0,
            },
            logs: Logs {
                max_days: i64::from(logs.max_days),
                min_level: logs.min_level,
                log_ip: logs.log_ip,
                log_auth_id: logs.log_auth_id,
            },
        }
    }

    /// The settings as `GET /api/settings` shows them: secrets left out, like PocketBase.
    pub fn to_api_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_else(|_| json!({}));
        for path in SECRETS {
            if let Some(Value::Object(parent)) = v.pointer_mut(path.0) {
                parent.remove(path.1);
            }
        }
        v
    }

    /// The `From:` mailbox, `Name <address>`.
    pub fn sender(&self) -> String {
        let name = self
            .meta
            .sender_name
            .replace(['"', '<', '>', '\r', '\n'], "");
        format!("{name} <{}>", self.meta.sender_address)
    }

    /// PocketBase's checks, errors keyed by their path (`meta.appURL`, `rateLimits.rules.1.label`).
    pub fn validate(&self) -> FieldErrors {
        let mut errs = FieldErrors::new();
        let mut bad = |path: &[&str], e: FieldError| errs.add_nested(path, e);
        let m = &self.meta;
        text_len(&mut bad, &["meta", "appName"], &m.app_name, 1, 255);
        if m.app_url.trim().is_empty() {
            bad(&["meta", "appURL"], FieldError::required());
        } else if !is_url(&m.app_url) {
            bad(&["meta", "appURL"], invalid_url());
        }
        text_len(&mut bad, &["meta", "senderName"], &m.sender_name, 1, 255);
        if m.sender_address.trim().is_empty() {
            bad(&["meta", "senderAddress"], FieldError::required());
        } else if !is_email(&m.sender_address) {
            bad(
                &["meta", "senderAddress"],
                FieldError::new("validation_is_email", "Must be a valid email address."),
            );
        }

        let s = &self.smtp;
        if s.enabled && s.host.trim().is_empty() {
            bad(&["smtp", "host"], FieldError::required());
        } else if !s.host.is_empty() && !is_host(&s.host) {
            bad(&["smtp", "host"], invalid_host());
        }
        if s.enabled && s.port == 0 {
            bad(&["smtp", "port"], FieldError::required());
        } else if !(0..=65535).contains(&s.port) {
            bad(&["smtp", "port"], range(0, 65535));
        }
        if !["", "PLAIN", "LOGIN"].contains(&s.auth_method.as_str()) {
            bad(&["smtp", "authMethod"], not_in(&["PLAIN", "LOGIN"]));
        }
        if !s.local_name.is_empty() && !is_host(&s.local_name) {
            bad(&["smtp", "localName"], invalid_host());
        }
        too_long(&mut bad, &["smtp", "username"], &s.username);
        too_long(&mut bad, &["smtp", "password"], &s.password);

        check_s3(&mut bad, &["s3"], &self.s3);
        check_s3(&mut bad, &["backups", "s3"], &self.backups.s3);
        let b = &self.backups;
        if !b.cron.is_empty() {
            if let Err(e) = check_cron(&b.cron) {
                bad(
                    &["backups", "cron"],
                    FieldError::new("validation_invalid_cron", e),
                );
            }
            if b.cron_max_keep < 1 {
                bad(&["backups", "cronMaxKeep"], min(1));
            }
        } else if b.cron_max_keep < 0 {
            bad(&["backups", "cronMaxKeep"], min(1));
        }

        let bt = &self.batch;
        if bt.enabled && bt.max_requests == 0 {
            bad(&["batch", "maxRequests"], FieldError::required());
        } else if bt.max_requests < 0 {
            bad(&["batch", "maxRequests"], min(0));
        }
        if bt.enabled && bt.timeout == 0 {
            bad(&["batch", "timeout"], FieldError::required());
        } else if bt.timeout < 0 {
            bad(&["batch", "timeout"], min(0));
        }
        if bt.max_body_size < 0 {
            bad(&["batch", "maxBodySize"], min(0));
        }

        let r = &self.rate_limits;
        if r.enabled && r.rules.is_empty() {
            bad(&["rateLimits", "rules"], FieldError::required());
        }
        if r.rules.len() > MAX_LIST {
            bad(&["rateLimits", "rules"], list_too_long());
        }
        let mut seen: Vec<String> = Vec::new();
        for (i, rule) in r.rules.iter().enumerate().take(MAX_LIST) {
            let i = i.to_string();
            let mut rule_bad = |k: &str, e: FieldError| bad(&["rateLimits", "rules", &i, k], e);
            if rule.label.is_empty() {
                rule_bad("label", FieldError::required());
            } else if !is_rule_label(&rule.label) {
                rule_bad(
                    "label",
                    FieldError::new("validation_match_invalid", "Must be in a valid format."),
                );
            }
            if rule.max_requests < 1 {
                rule_bad("maxRequests", min(1));
            }
            if rule.duration < 1 {
                rule_bad("duration", min(1));
            }
            if !["", "@guest", "@auth"].contains(&rule.audience.as_str()) {
                rule_bad("audience", not_in(&["", "@guest", "@auth"]));
            }
            let key = format!("{}@@{}", rule.label, rule.audience);
            if seen
                .iter()
                .any(|k| k.starts_with(&key) || key.starts_with(k.as_str()))
            {
                rule_bad(
                    "label",
                    FieldError::new(
                        "validation_conflicting_rate_limit_rule",
                        format!(
                            "Rate limit rule configuration with label {} already exists or conflicts with another rule.",
                            crate::error::echo(&rule.label)
                        ),
                    )
                    .with_params(json!({"label": crate::error::echo(&rule.label)})),
                );
            } else {
                seen.push(key);
            }
        }

        let t = &self.trusted_proxy;
        if t.headers.len() > MAX_LIST {
            bad(&["trustedProxy", "headers"], list_too_long());
        }
        for (i, h) in t.headers.iter().enumerate().take(MAX_LIST) {
            let valid = !h.is_empty()
                && h.len() <= 256
                && h.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
            if !valid {
                let i = i.to_string();
                bad(
                    &["trustedProxy", "headers", &i],
                    FieldError::new("validation_invalid_value", "Must be an HTTP header name."),
                );
            }
        }

        let l = &self.logs;
        if l.max_days < 0 {
            bad(&["logs", "maxDays"], min(0));
        }
        if l.max_days > 36_500 {
            bad(
                &["logs", "maxDays"],
                FieldError::new(
                    "validation_max_less_equal_than_required",
                    "Must be no greater than 36500.",
                )
                .with_params(json!({"threshold": 36_500})),
            );
        }
        errs
    }
}

/// Secret values: `(JSON pointer of the parent, key)`; never shown by `GET /api/settings`.
const SECRETS: [(&str, &str); 3] = [
    ("/smtp", "password"),
    ("/s3", "secret"),
    ("/backups/s3", "secret"),
];

fn check_s3(bad: &mut impl FnMut(&[&str], FieldError), at: &[&str], s: &S3) {
    let path = |k: &'static str| {
        let mut p: Vec<&str> = at.to_vec();
        p.push(k);
        p
    };
    if !s.endpoint.is_empty() && !is_url(&s.endpoint) {
        bad(&path("endpoint"), invalid_url());
    }
    if s.enabled {
        for (k, v) in [
            ("endpoint", &s.endpoint),
            ("bucket", &s.bucket),
            ("region", &s.region),
            ("accessKey", &s.access_key),
            ("secret", &s.secret),
        ] {
            if v.trim().is_empty() {
                bad(&path(k), FieldError::required());
            }
        }
    }
    for (k, v) in [
        ("bucket", &s.bucket),
        ("region", &s.region),
        ("accessKey", &s.access_key),
        ("secret", &s.secret),
    ] {
        too_long(bad, &path(k), v);
    }
}

fn text_len(
    bad: &mut impl FnMut(&[&str], FieldError),
    path: &[&str],
    v: &str,
    lo: usize,
    hi: usize,
) {
    let n = v.chars().count();
    if v.trim().is_empty() {
        bad(path, FieldError::required());
    } else if n < lo || n > hi {
        bad(
            path,
            FieldError::new(
                "validation_length_out_of_range",
                format!("The length must be between {lo} and {hi}."),
            )
            .with_params(json!({"min": lo, "max": hi})),
        );
    }
}

fn too_long(bad: &mut impl FnMut(&[&str], FieldError), path: &[&str], v: &str) {
    if v.len() > MAX_TEXT {
        bad(
            path,
            FieldError::new(
                "validation_length_too_long",
                format!("The length must be no more than {MAX_TEXT}."),
            )
            .with_params(json!({"max": MAX_TEXT})),
        );
    }
}

fn list_too_long() -> FieldError {
    FieldError::new(
        "validation_length_too_long",
        format!("At most {MAX_LIST} entries are allowed."),
    )
    .with_params(json!({"max": MAX_LIST}))
}

fn min(n: i64) -> FieldError {
    FieldError::new(
        "validation_min_greater_equal_than_required",
        format!("Must be no less than {n}."),
    )
    .with_params(json!({"threshold": n}))
}

fn range(lo: i64, hi: i64) -> FieldError {
    FieldError::new(
        "validation_length_out_of_range",
        format!("Must be between {lo} and {hi}."),
    )
    .with_params(json!({"min": lo, "max": hi}))
}

fn not_in(allowed: &[&str]) -> FieldError {
    FieldError::new("validation_in_invalid", "Must be a valid value.")
        .with_params(json!({"allowed": allowed}))
}

fn invalid_url() -> FieldError {
    FieldError::new("validation_invalid_url", "Must be a valid URL.")
}

fn invalid_host() -> FieldError {
    FieldError::new(
        "validation_invalid_format",
        "Must be a valid host name or IP address.",
    )
}

fn is_url(v: &str) -> bool {
    v.len() <= MAX_TEXT
        && url::Url::parse(v).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
        })
}

fn is_email(v: &str) -> bool {
    v.len() <= 254
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.is_empty()
                && !v
                    .chars()
                    .any(|c| c.is_whitespace() || "<>\"(),;:".contains(c))
                && !domain.contains('@')
        })
}

fn is_host(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 253
        && (v.parse::<std::net::IpAddr>().is_ok()
            || v.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            }))
}

/// PocketBase's label forms: `tag`, `coll:action`, `*:action`, `/path/`, `METHOD /path`.
fn is_rule_label(v: &str) -> bool {
    let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
    let path = |s: &str| {
        s.starts_with('/')
            && s[1..]
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '/' || c == '-')
    };
    if v.len() > 255 {
        return false;
    }
    if let Some((method, p)) = v.split_once(' ') {
        return word(method) && path(p);
    }
    if let Some((coll, action)) = v.split_once(':') {
        return (coll == "*" || word(coll)) && word(action);
    }
    path(v) || word(v)
}

/// A five-field cron expression (`min hour dom month dow`, with `*`, `*/n`, `a-b`, `a,b`) or a
/// macro (`@yearly`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`), as PocketBase.
pub fn check_cron(expr: &str) -> Result<(), String> {
    let expr = expr.trim();
    if matches!(
        expr,
        "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly"
    ) {
        return Ok(());
    }
    let parts: Vec<&str> = expr.split_whitespace().collect();
    if parts.len() != 5 {
        return Err(format!(
            "invalid cron expression {:?}: expected 5 fields, got {}",
            crate::error::echo(expr),
            parts.len()
        ));
    }
    let bounds = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)];
    for (part, (lo, hi)) in parts.iter().zip(bounds) {
        for seg in part.split(',') {
            let (range, step) = match seg.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (seg, None),
            };
            if let Some(s) = step {
                match s.parse::<u32>() {
                    Ok(n) if n >= 1 && n <= hi => {}
                    _ => return Err(format!("invalid step {s:?} in {seg:?}")),
                }
            }
            if range == "*" {
                continue;
            }
            let (a, b) = range.split_once('-').unwrap_or((range, range));
            let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) else {
                return Err(format!("invalid value {seg:?}"));
            };
            if a < lo || b > hi || a > b {
                return Err(format!("{seg:?} is outside {lo}-{hi}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_the_config_and_pass_validation() {
        let s = Settings::defaults(&Config::default());
        assert_eq!(s.meta.app_name, "Ferrobase");
        assert_eq!(s.meta.app_url, "http://127.0.0.1:8090");
        assert_eq!(s.meta.sender_name, "Ferrobase");
        assert_eq!(s.meta.sender_address, "no-reply@example.com");
        assert_eq!(s.batch.max_requests, 100);
        assert!(s.batch.enabled);
        assert!(!s.smtp.enabled);
        assert!(s.validate().is_empty(), "{:?}", s.validate());
    }

    #[test]
    fn secrets_are_left_out_on_read() {
        let mut s = Settings::defaults(&Config::default());
        s.smtp.password = "pw".into();
        s.s3.secret = "s3".into();
        s.backups.s3.secret = "b".into();
        let v = s.to_api_json();
        assert!(v["smtp"].get("password").is_none());
        assert!(v["s3"].get("secret").is_none());
        assert!(v["backups"]["s3"].get("secret").is_none());
        assert_eq!(v["meta"]["appURL"], "http://127.0.0.1:8090");
        assert_eq!(v["logs"]["logIP"], true);
        assert_eq!(v["trustedProxy"]["useLeftmostIP"], false);
    }

    #[test]
    fn validation_reports_field_paths() {
        let mut s = Settings::defaults(&Config::default());
        s.meta.app_url = "not a url".into();
        s.smtp.enabled = true;
        s.smtp.host = String::new();
        s.backups.cron = "61 * * * *".into();
        s.rate_limits.rules.push(RateLimitRule {
            label: "/api/".into(),
            audience: String::new(),
            duration: 0,
            max_requests: 1,
        });
        let v = s.validate().into_value();
        assert_eq!(v["meta"]["appURL"]["code"], "validation_invalid_url");
        assert_eq!(v["smtp"]["host"]["code"], "validation_required");
        assert_eq!(v["backups"]["cron"]["code"], "validation_invalid_cron");
        assert_eq!(
            v["rateLimits"]["rules"]["1"]["label"]["code"],
            "validation_conflicting_rate_limit_rule"
        );
        assert_eq!(
            v["rateLimits"]["rules"]["1"]["duration"]["code"],
            "validation_min_greater_equal_than_required"
        );
    }

    #[test]
    fn cron_expressions_and_rule_labels() {
        for ok in ["* * * * *", "0 */6 * * 1-5", "5,10 0 1 1 0", "@daily"] {
            assert!(check_cron(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "* * * *",
            "60 * * * *",
            "a * * * *",
            "*/0 * * * *",
            "5-1 * * * *",
        ] {
            assert!(check_cron(bad).is_err(), "{bad}");
        }
        for ok in [
            "/api/",
            "*:auth",
            "users:create",
            "POST /api/batch",
            "tag_1",
        ] {
            assert!(is_rule_label(ok), "{ok}");
        }
        for bad in ["", "a b c", "*:", "api/", "/a b"] {
            assert!(!is_rule_label(bad), "{bad}");
        }
    }
}
