//! Operations: `[request_logs]` (the request log behind `/api/logs`; its PocketBase settings
//! `logs.*` and `trustedProxy.headers` start from here) and `[metrics]` (`GET /metrics`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RequestLogsConfig {
    /// Days a request log entry is kept (settings `logs.maxDays`; 0 = none are kept).
    pub max_days: u32,
    /// Lowest level logged (settings `logs.minLevel`): -4 debug, 0 info, 4 warn, 8 error.
    pub min_level: i64,
    /// Whether client IPs are logged (settings `logs.logIP`).
    pub log_ip: bool,
    /// Whether the caller's record id is logged (settings `logs.logAuthId`).
    pub log_auth_id: bool,
    /// Comma-separated headers a trusted reverse proxy sets to the client IP, e.g.
    /// `X-Forwarded-For` (settings `trustedProxy.headers`); empty = none trusted.
    pub trusted_proxy_headers: String,
    /// Entries waiting to be written; when full, new entries are dropped and counted.
    pub queue: usize,
    /// Most entries written in one batch.
    pub batch: usize,
    /// Milliseconds the writer waits to fill a batch once an entry arrived.
    pub flush_ms: u64,
    /// Seconds between retention trims.
    pub trim_secs: u64,
}

impl Default for RequestLogsConfig {
    fn default() -> Self {
        Self {
            max_days: 5,
            min_level: 0,
            log_ip: true,
            log_auth_id: false,
            trusted_proxy_headers: String::new(),
            queue: 10_000,
            batch: 500,
            flush_ms: 200,
            trim_secs: 3600,
        }
    }
}

impl RequestLogsConfig {
    /// The trusted proxy headers as a list.
    pub fn proxy_headers(&self) -> Vec<String> {
        self.trusted_proxy_headers
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// `GET /metrics` (Prometheus text format).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Off by default (404).
    pub enabled: bool,
    /// When non-empty, scrapes must send `Authorization: Bearer <token>` (else 401).
    pub token: String,
}

/// `[backups]`: `/api/backups`, the backup schedule and `ferrobase backup|restore`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BackupsConfig {
    /// Largest zip `POST /api/backups/upload` accepts, in MiB (streamed to disk, never held in
    /// memory).
    pub max_upload_mb: u64,
}

impl Default for BackupsConfig {
    fn default() -> Self {
        Self {
            max_upload_mb: 4096,
        }
    }
}
