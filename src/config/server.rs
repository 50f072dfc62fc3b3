//! The HTTP front: `[server]`, `[rate_limit]`, `[batch]` and `[log]`.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
    /// Microseconds a request's CPU work may run on the connection's own thread before it moves
    /// to the pool (0 = always the pool).
    pub inline_work_us: u64,
    /// Seconds a new connection may take to send its first request's headers.
    pub header_read_timeout_secs: u64,
    /// Seconds without any traffic after which a connection is closed.
    pub idle_timeout_secs: u64,
    /// Open connections allowed per client IP; further ones are closed at once. 0 = no cap.
    pub max_connections_per_ip: usize,
    /// Folder of static files served at `/` (like PocketBase's `pb_public`); empty = none.
    /// Flag `serve --public DIR`.
    pub public_dir: PathBuf,
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
            inline_work_us: 1_000,
            header_read_timeout_secs: 15,
            idle_timeout_secs: 75,
            max_connections_per_ip: 512,
            public_dir: PathBuf::new(),
        }
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

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}
