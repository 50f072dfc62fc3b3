//! Account flows: `[auth]` (failed-login limits) and `[smtp]` (outgoing mail).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Failed logins allowed per account within the window before 429.
    pub max_failed_logins_per_account: u32,
    /// Failed logins allowed per client IP within the window before 429.
    pub max_failed_logins_per_ip: u32,
    /// Length of the failed-login window in seconds.
    pub failed_login_window_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            max_failed_logins_per_account: 5,
            max_failed_logins_per_ip: 30,
            failed_login_window_secs: 600,
        }
    }
}

/// Outgoing mail: the defaults of the settings `smtp` and `meta` (`/api/settings`, which win).
/// Without SMTP, mail goes to `sendmail` when there is one, else it is kept in the data dir
/// (superusers read it at `GET /api/mails`) and logged instead of being sent.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
    /// `starttls`, `tls` (implicit TLS) or `none` (plain text, local relays only).
    pub tls: String,
    /// `From:` of every message, e.g. `Ferrobase <no-reply@example.com>`.
    pub sender: String,
    /// Base URL put into links of mails (`{APP_URL}`); empty = `http://<server.http>`.
    pub app_url: String,
    /// `{APP_NAME}` in mail templates.
    pub app_name: String,
    /// Account-flow mails waiting to be built and sent; beyond it new ones are dropped (logged).
    pub queue: usize,
    /// Most mails to one recipient per window (0 = unlimited); excess ones are dropped (logged).
    pub max_per_recipient: u32,
    /// Length of the per-recipient window in seconds.
    pub recipient_window_secs: u64,
    /// The sendmail program used while SMTP is disabled: a path, `off`, or empty for
    /// `/usr/sbin/sendmail` or `/usr/lib/sendmail` when present.
    pub sendmail: String,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 587,
            username: String::new(),
            password: String::new(),
            tls: "starttls".into(),
            sender: "Ferrobase <no-reply@example.com>".into(),
            app_url: String::new(),
            app_name: "Ferrobase".into(),
            queue: 1000,
            max_per_recipient: 5,
            recipient_window_secs: 600,
            sendmail: String::new(),
        }
    }
}
