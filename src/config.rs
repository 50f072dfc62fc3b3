//! The one `Config`: built-in defaults < `ferrobase.toml` < `FERROBASE_*` environment < CLI flags.
//! This is the only place that reads the environment. `ferrobase.example.toml` documents every key.

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub auth: AuthConfig,
    pub realtime: RealtimeConfig,
    pub smtp: SmtpConfig,
    pub rate_limit: RateLimitConfig,
    pub log: LogConfig,
}

/// Outgoing mail. Without a `host`, messages are kept in the data dir (superusers read them at
/// `GET /api/mails`) and logged instead of being sent.
#[derive(Debug, Clone, Deserialize, PartialEq)]
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
        }
    }
}

/// The optional global request limit per client IP (off by default; failed logins are limited
/// separately and always).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub enabled: bool,
    /// Requests allowed per IP within the window before 429.
    pub max_requests: u32,
    pub window_secs: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            max_requests: 300,
            window_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RealtimeConfig {
    /// Most concurrent realtime connections (WebSocket + SSE); more get 503.
    pub max_connections: usize,
    /// Most subscriptions on one connection.
    pub max_subscriptions: usize,
    /// Outgoing messages queued per connection before a slow client is closed (WS 4008).
    pub queue: usize,
    /// Seconds between server pings on a WebSocket (also when a connection's token is re-checked).
    pub heartbeat_secs: u64,
    /// Seconds between SSE keep-alive comments.
    pub sse_keepalive_secs: u64,
    /// Seconds a single write to a client may take before the connection is dropped.
    pub write_timeout_secs: u64,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            max_connections: 20_000,
            max_subscriptions: 1000,
            queue: 1024,
            heartbeat_secs: 30,
            sse_keepalive_secs: 15,
            write_timeout_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
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

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub http: String,
    /// Data directory.
    pub dir: PathBuf,
    /// Largest accepted request body in bytes (413 above it).
    pub body_limit: usize,
    /// Seconds to wait for in-flight requests on shutdown.
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// A write is acknowledged once fsynced (group commit amortises the cost).
    Fsync,
    /// Acknowledged once in memory; sled flushes every 500 ms. A crash may lose the last writes.
    Relaxed,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    pub durability: Durability,
    /// sled page cache size in MiB.
    pub cache_mb: u64,
    /// Change-log retention: keep at least this many newest entries…
    pub changelog_entries: u64,
    /// …and drop older ones only after this many hours.
    pub changelog_hours: u64,
    /// Seconds between change-log trims.
    pub changelog_trim_secs: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `tracing` filter, e.g. `info` or `ferrobase=debug`.
    pub level: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            http: "127.0.0.1:8090".into(),
            dir: PathBuf::from("fb_data"),
            body_limit: 32 * 1024 * 1024,
            shutdown_grace_secs: 10,
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            durability: Durability::Fsync,
            cache_mb: 64,
            changelog_entries: 100_000,
            changelog_hours: 72,
            changelog_trim_secs: 60,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
        }
    }
}

/// Values given on the command line (highest precedence).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub http: Option<String>,
    pub dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid environment variable {name}={value}: {message}")]
    Env {
        name: String,
        value: String,
        message: String,
    },
}

impl Config {
    /// Loads the layered configuration from the real environment.
    pub fn load(over: &Overrides) -> Result<Self, ConfigError> {
        Self::load_from(over, std::env::vars())
    }

    /// Loads the layered configuration with `env` as the environment (testable).
    pub fn load_from(
        over: &Overrides,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("FERROBASE_"))
            .collect();
        let file = over.config.clone().or_else(|| {
            env.iter()
                .find(|(k, _)| k == "FERROBASE_CONFIG")
                .map(|(_, v)| PathBuf::from(v))
        });
        let mut cfg = match file {
            Some(path) => Self::from_file(&path)?,
            None if Path::new("ferrobase.toml").exists() => {
                Self::from_file(Path::new("ferrobase.toml"))?
            }
            None => Self::default(),
        };
        for (name, value) in &env {
            cfg.apply_env(name, value)?;
        }
        if let Some(http) = &over.http {
            cfg.server.http = http.clone();
        }
        if let Some(dir) = &over.dir {
            cfg.server.dir = dir.clone();
        }
        Ok(cfg)
    }

    fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.to_string(),
        })
    }

    fn apply_env(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value.trim().parse().map_err(|e: T::Err| ConfigError::Env {
                name: name.into(),
                value: value.into(),
                message: e.to_string(),
            })
        }
        match name {
            "FERROBASE_SERVER_HTTP" | "FERROBASE_HTTP" => self.server.http = value.to_string(),
            "FERROBASE_SERVER_DIR" | "FERROBASE_DIR" => self.server.dir = PathBuf::from(value),
            "FERROBASE_SERVER_BODY_LIMIT" => self.server.body_limit = parse(name, value)?,
            "FERROBASE_SERVER_SHUTDOWN_GRACE_SECS" => {
                self.server.shutdown_grace_secs = parse(name, value)?
            }
            "FERROBASE_STORE_DURABILITY" => {
                self.store.durability = match value.trim() {
                    "fsync" => Durability::Fsync,
                    "relaxed" => Durability::Relaxed,
                    _ => {
                        return Err(ConfigError::Env {
                            name: name.into(),
                            value: value.into(),
                            message: "expected \"fsync\" or \"relaxed\"".into(),
                        })
                    }
                }
            }
            "FERROBASE_STORE_CACHE_MB" => self.store.cache_mb = parse(name, value)?,
            "FERROBASE_STORE_CHANGELOG_ENTRIES" => {
                self.store.changelog_entries = parse(name, value)?
            }
            "FERROBASE_STORE_CHANGELOG_HOURS" => self.store.changelog_hours = parse(name, value)?,
            "FERROBASE_STORE_CHANGELOG_TRIM_SECS" => {
                self.store.changelog_trim_secs = parse(name, value)?
            }
            "FERROBASE_REALTIME_MAX_CONNECTIONS" => {
                self.realtime.max_connections = parse(name, value)?
            }
            "FERROBASE_REALTIME_MAX_SUBSCRIPTIONS" => {
                self.realtime.max_subscriptions = parse(name, value)?
            }
            "FERROBASE_REALTIME_QUEUE" => self.realtime.queue = parse(name, value)?,
            "FERROBASE_REALTIME_HEARTBEAT_SECS" => {
                self.realtime.heartbeat_secs = parse(name, value)?
            }
            "FERROBASE_REALTIME_SSE_KEEPALIVE_SECS" => {
                self.realtime.sse_keepalive_secs = parse(name, value)?
            }
            "FERROBASE_REALTIME_WRITE_TIMEOUT_SECS" => {
                self.realtime.write_timeout_secs = parse(name, value)?
            }
            "FERROBASE_AUTH_MAX_FAILED_LOGINS_PER_ACCOUNT" => {
                self.auth.max_failed_logins_per_account = parse(name, value)?
            }
            "FERROBASE_AUTH_MAX_FAILED_LOGINS_PER_IP" => {
                self.auth.max_failed_logins_per_ip = parse(name, value)?
            }
            "FERROBASE_AUTH_FAILED_LOGIN_WINDOW_SECS" => {
                self.auth.failed_login_window_secs = parse(name, value)?
            }
            "FERROBASE_SMTP_HOST" => self.smtp.host = value.to_string(),
            "FERROBASE_SMTP_PORT" => self.smtp.port = parse(name, value)?,
            "FERROBASE_SMTP_USERNAME" => self.smtp.username = value.to_string(),
            "FERROBASE_SMTP_PASSWORD" => self.smtp.password = value.to_string(),
            "FERROBASE_SMTP_TLS" => self.smtp.tls = value.to_string(),
            "FERROBASE_SMTP_SENDER" => self.smtp.sender = value.to_string(),
            "FERROBASE_SMTP_APP_URL" => self.smtp.app_url = value.to_string(),
            "FERROBASE_SMTP_APP_NAME" => self.smtp.app_name = value.to_string(),
            "FERROBASE_RATE_LIMIT_ENABLED" => self.rate_limit.enabled = parse(name, value)?,
            "FERROBASE_RATE_LIMIT_MAX_REQUESTS" => {
                self.rate_limit.max_requests = parse(name, value)?
            }
            "FERROBASE_RATE_LIMIT_WINDOW_SECS" => self.rate_limit.window_secs = parse(name, value)?,
            "FERROBASE_LOG_LEVEL" => self.log.level = value.to_string(),
            _ => {} // FERROBASE_CONFIG and unknown names are not configuration keys
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f.toml");
        std::fs::write(
            &file,
            "[server]\nhttp = \"127.0.0.1:1\"\nbody_limit = 10\n[store]\ncache_mb = 7\n",
        )
        .expect("write");
        let over = Overrides {
            config: Some(file),
            http: Some("127.0.0.1:3".into()),
            dir: None,
        };
        let cfg = Config::load_from(
            &over,
            env(&[
                ("FERROBASE_SERVER_BODY_LIMIT", "20"),
                ("FERROBASE_STORE_DURABILITY", "relaxed"),
            ]),
        )
        .expect("load");
        assert_eq!(cfg.server.http, "127.0.0.1:3"); // flag beats file
        assert_eq!(cfg.server.body_limit, 20); // env beats file
        assert_eq!(cfg.store.cache_mb, 7); // file beats default
        assert_eq!(cfg.store.durability, Durability::Relaxed);
        assert_eq!(cfg.server.dir, PathBuf::from("fb_data")); // default
    }

    #[test]
    fn bad_values_are_reported() {
        let over = Overrides::default();
        let err =
            Config::load_from(&over, env(&[("FERROBASE_STORE_CACHE_MB", "lots")])).unwrap_err();
        assert!(err.to_string().contains("FERROBASE_STORE_CACHE_MB"));
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f.toml");
        std::fs::write(&file, "[server]\nhtp = 1\n").expect("write");
        let err = Config::load_from(
            &Overrides {
                config: Some(file),
                ..Default::default()
            },
            env(&[]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("htp"), "{err}");
    }

    #[test]
    fn example_file_parses_to_defaults() {
        let text = include_str!("../ferrobase.example.toml");
        let cfg: Config = toml::from_str(text).expect("example parses");
        assert_eq!(cfg, Config::default());
    }
}
