//! The one `Config`: built-in defaults < `ferrobase.toml` < `FERROBASE_*` environment < CLI flags.
//! This is the only place that reads the environment. `ferrobase.example.toml` documents every key.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub auth: AuthConfig,
    pub realtime: RealtimeConfig,
    pub smtp: SmtpConfig,
    pub batch: BatchConfig,
    pub rate_limit: RateLimitConfig,
    pub query: QueryConfig,
    pub log: LogConfig,
}

/// Outgoing mail. Without a `host`, messages are kept in the data dir (superusers read them at
/// `GET /api/mails`) and logged instead of being sent.
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
        }
    }
}

/// `POST /api/batch`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// Most requests in one batch (more get 400 `validation_length_too_long`). A batch is one
    /// transaction whose deletes may cascade, so its cost grows with this.
    pub max_requests: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self { max_requests: 100 }
    }
}

/// The optional global request limit per client IP (off by default; failed logins are limited
/// separately and always).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
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

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RealtimeConfig {
    /// Most concurrent realtime connections (WebSocket + SSE); more get 503.
    pub max_connections: usize,
    /// Most subscriptions on one connection.
    pub max_subscriptions: usize,
    /// Most bytes of subscription filters (their text) on one connection.
    pub max_filter_bytes: usize,
    /// Most subscriptions over all connections from one client IP.
    pub max_subscriptions_per_ip: usize,
    /// Most bytes of subscription filters over all connections from one client IP.
    pub max_filter_bytes_per_ip: usize,
    /// Most unauthenticated realtime connections from one client IP; more get 429.
    pub max_guest_connections_per_ip: usize,
    /// Milliseconds of work one `since` replay may take before it ends with `reset`.
    pub replay_max_ms: u64,
    /// Outgoing messages queued per connection before a slow client is closed (WS 4008).
    pub queue: usize,
    /// Seconds between server pings on a WebSocket (also when a connection's token is re-checked).
    pub heartbeat_secs: u64,
    /// Seconds between SSE keep-alive comments.
    pub sse_keepalive_secs: u64,
    /// Seconds a single write to a client may take before the connection is dropped.
    pub write_timeout_secs: u64,
    /// Milliseconds to wait at shutdown for realtime connections to close before requests drain.
    pub shutdown_wait_ms: u64,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            max_connections: 20_000,
            max_subscriptions: 1000,
            max_filter_bytes: 256 * 1024,
            max_subscriptions_per_ip: 5000,
            max_filter_bytes_per_ip: 1024 * 1024,
            max_guest_connections_per_ip: 500,
            replay_max_ms: 10_000,
            queue: 1024,
            heartbeat_secs: 30,
            sse_keepalive_secs: 15,
            write_timeout_secs: 30,
            shutdown_wait_ms: 2000,
        }
    }
}

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

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
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
    /// Most related records one request may expand in total (400 on `expand` above it).
    pub max_expanded_records: usize,
    /// Milliseconds of CPU work (list/filter/sort/expand, rules) one request may use; longer
    /// work stops with 400 `query_too_expensive`. Waiting longer for a worker is 503.
    pub request_budget_ms: u64,
    /// Requests doing CPU work at once (the blocking pool's size); 0 = one per core.
    pub work_threads: usize,
    /// Seconds a new connection may take to send its first request's headers.
    pub header_read_timeout_secs: u64,
    /// Seconds without any traffic after which a connection is closed.
    pub idle_timeout_secs: u64,
    /// Open connections allowed per client IP; further ones are closed at once. 0 = no cap.
    pub max_connections_per_ip: usize,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// A write is acknowledged once fsynced (group commit amortises the cost).
    Fsync,
    /// Acknowledged once in memory; sled flushes every `relaxed_flush_ms`. A crash may lose the
    /// last writes.
    Relaxed,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
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
    /// Most transactions committed in one group (one batch, one flush); 0 counts as 1.
    pub writer_max_group: usize,
    /// Transactions queued for the writer before writers wait to enqueue; 0 counts as 1.
    pub writer_queue: usize,
    /// Change events buffered per subscriber (realtime) before it lags and catches up from the
    /// change log; 0 counts as 1.
    pub event_buffer: usize,
    /// With `durability = "relaxed"`: milliseconds between sled's background flushes.
    pub relaxed_flush_ms: u64,
}

/// The in-memory column cache that answers unindexed filtered/sorted lists.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QueryConfig {
    /// Estimated MiB of all cached columns before least-recently-used collections are evicted.
    pub column_cache_mb: usize,
    /// Collections with more records are never cached (their lists scan records).
    pub column_cache_max_rows: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            column_cache_mb: 256,
            column_cache_max_rows: 2_000_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `tracing` filter, e.g. `info` or `ferrobase=debug`.
    pub level: String,
    /// Line format of the log (flag `--log-format`).
    pub format: LogFormat,
}

/// How log lines are written (to stdout).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with the fields of the request span (`request_id`, …).
    Json,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            http: "127.0.0.1:8090".into(),
            dir: PathBuf::from("fb_data"),
            body_limit: 32 * 1024 * 1024,
            shutdown_grace_secs: 10,
            max_expanded_records: 5000,
            request_budget_ms: 20_000,
            work_threads: 0,
            header_read_timeout_secs: 15,
            idle_timeout_secs: 75,
            max_connections_per_ip: 512,
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
            writer_max_group: 2048,
            writer_queue: 8192,
            event_buffer: 8192,
            relaxed_flush_ms: 500,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// Values given on the command line (highest precedence).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub http: Option<String>,
    pub dir: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
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
        if let Some(format) = over.log_format {
            cfg.log.format = format;
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

    /// Sets the key `FERROBASE_<SECTION>_<KEY>` names (`FERROBASE_HTTP` / `FERROBASE_DIR` are
    /// short for the `server` ones). The keys come from the struct itself, so a new config field
    /// is settable from the environment without a hand-kept table; the value is parsed as the
    /// key's type and checked by the same deserializer as the file.
    fn apply_env(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let err = |message: String| ConfigError::Env {
            name: name.into(),
            value: value.into(),
            message,
        };
        let mut tree = serde_json::to_value(&*self).map_err(|e| err(e.to_string()))?;
        let Some((section, key)) = env_key(&tree, name) else {
            return Ok(()); // not a configuration key: reported by `unknown_env`
        };
        let slot = &mut tree[section.as_str()][key.as_str()];
        *slot = match slot {
            Value::Bool(_) => Value::Bool(
                value
                    .trim()
                    .parse()
                    .map_err(|_| err("expected true or false".into()))?,
            ),
            Value::Number(_) => {
                let n: serde_json::Number = value
                    .trim()
                    .parse()
                    .map_err(|_| err("expected a number".into()))?;
                Value::Number(n)
            }
            _ => Value::String(value.to_string()),
        };
        *self = serde_json::from_value(tree).map_err(|e| err(e.to_string()))?;
        Ok(())
    }
}

/// `(section, key)` of a `FERROBASE_*` variable that names a configuration key.
fn env_key(tree: &Value, name: &str) -> Option<(String, String)> {
    let rest = name.strip_prefix("FERROBASE_")?.to_ascii_lowercase();
    let rest = match rest.as_str() {
        "http" | "dir" => format!("server_{rest}"),
        _ => rest,
    };
    tree.as_object()?.iter().find_map(|(section, keys)| {
        let key = rest.strip_prefix(section.as_str())?.strip_prefix('_')?;
        keys.get(key).map(|_| (section.clone(), key.to_string()))
    })
}

/// `FERROBASE_*` variables that are not configuration keys (likely typos), to warn about.
pub fn unknown_env(env: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let Ok(tree) = serde_json::to_value(Config::default()) else {
        return Vec::new();
    };
    env.into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("FERROBASE_") && k != "FERROBASE_CONFIG")
        .filter(|k| env_key(&tree, k).is_none())
        .collect()
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
            log_format: None,
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
    fn every_key_is_settable_from_the_environment() {
        let cfg = Config::load_from(
            &Overrides::default(),
            env(&[
                ("FERROBASE_RATE_LIMIT_ENABLED", "true"),
                ("FERROBASE_REALTIME_QUEUE", "7"),
                ("FERROBASE_SMTP_APP_NAME", "X"),
                ("FERROBASE_HTTP", "127.0.0.1:9"),
            ]),
        )
        .expect("load");
        assert!(cfg.rate_limit.enabled);
        assert_eq!(cfg.realtime.queue, 7);
        assert_eq!(cfg.smtp.app_name, "X");
        assert_eq!(cfg.server.http, "127.0.0.1:9");
        for (name, value) in [
            ("FERROBASE_STORE_DURABILITY", "sometimes"),
            ("FERROBASE_RATE_LIMIT_ENABLED", "yes"),
            ("FERROBASE_REALTIME_QUEUE", "-1"),
        ] {
            let err =
                Config::load_from(&Overrides::default(), env(&[(name, value)])).expect_err(name);
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn unknown_variables_are_reported() {
        let unknown = unknown_env(env(&[
            ("FERROBASE_STORE_CACHE_MB", "1"),
            ("FERROBASE_STORE_CACHE", "1"),
            ("FERROBASE_CONFIG", "x"),
            ("PATH", "/bin"),
        ]));
        assert_eq!(unknown, vec!["FERROBASE_STORE_CACHE".to_string()]);
    }

    #[test]
    fn example_file_parses_to_defaults() {
        let text = include_str!("../ferrobase.example.toml");
        let cfg: Config = toml::from_str(text).expect("example parses");
        assert_eq!(cfg, Config::default());
    }
}
