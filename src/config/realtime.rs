//! `[realtime]`: connection, subscription and queue bounds and timings.

use serde::{Deserialize, Serialize};

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
