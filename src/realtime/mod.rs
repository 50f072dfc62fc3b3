//! Realtime: one hub, two transports, one visibility rule. The hub is fed only by committed change
//! events (the store's broadcast, with the change log as the fallback when it lags), decides per
//! subscription what each event means for that subscriber (`create`/`update`/`delete`, or
//! `enter`/`leave` when an update moves a record into or out of its filter or rule), serializes
//! each record once per projection and queues shared bytes on bounded per-connection queues.
//!
//! - `hub`: connections, subscriptions, the dispatcher thread, lag recovery, shutdown.
//! - `budget`: subscriptions and filter bytes per connection and per IP, guests per IP.
//! - `sub`: topics, per-subscription filter/shape, the before/after decision, rendering cache.
//! - `replay`: `since` replay from the change log (gapless or `reset`), one at a time per
//!   connection, off the async workers, cancelled when the connection closes.
//! - `ws`: the WebSocket protocol (`docs/realtime.md`).
//! - `sse`: the PocketBase-compatible SSE transport.
//!
//! Access is never decided here: every record goes through `records::can_read` and `Shape`.
//! This module must not write to the store.

mod budget;
mod frame;
mod hub;
mod replay;
pub mod sse;
mod sub;
pub mod ws;

pub use frame::Out;
pub use hub::{Conn, ConnAuth, ConnGuard, Hub, Refusal};

use crate::auth::Caller;
use crate::config::RealtimeConfig;
use crate::records::RecordService;
use std::sync::Arc;

/// The realtime service: the hub connections register with and the record service every event
/// and replay is read through (access checks included). Built once by `App`.
pub struct Realtime {
    pub hub: Arc<Hub>,
    pub records: Arc<RecordService>,
}

impl Realtime {
    pub fn new(config: RealtimeConfig, records: Arc<RecordService>) -> Arc<Self> {
        Arc::new(Self {
            hub: Hub::new(config),
            records,
        })
    }

    /// Starts the dispatcher (once); see [`Hub::start`].
    pub fn start(&self) -> Result<(), String> {
        self.hub.start(&self.records)
    }
}

/// A connection's identity: the resolved caller and the token to re-check it with.
pub fn hub_auth(caller: Caller, token: Option<String>) -> ConnAuth {
    let token = token.filter(|_| caller.auth().is_some());
    ConnAuth { caller, token }
}
