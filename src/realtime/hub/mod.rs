//! The hub: registered connections and their subscriptions, and the dispatcher thread that turns
//! each committed change event into queued messages. The dispatcher never waits for a client:
//! queues are bounded and a full queue closes that connection (WebSocket 4008 `lagged`); the
//! client resumes with `since`. If the store's broadcast overtakes the dispatcher, the missed
//! events are read back from the change log; nothing is skipped silently.
//!
//! - `conn`: one connection, its identity and guard; registering and deregistering connections
//!   against the connection and guest budgets; token re-checks.
//! - `subscribe`: adding, replacing and removing subscriptions, and the `since` replay handoff.
//! - `dispatch`: the dispatcher thread, lag recovery from the change log.

mod conn;
mod dispatch;
mod subscribe;

pub use conn::{Conn, ConnAuth, ConnGuard};

use super::budget::Budgets;
use crate::config::RealtimeConfig;
use crate::ids::Seq;
use crate::records::RecordService;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// WebSocket close code for a client whose queue overflowed.
pub const CLOSE_LAGGED: u16 = 4008;
/// Close code when the server goes away.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code when the client ended the connection (nothing to send).
pub const CLOSE_NORMAL: u16 = 1000;
/// Live events kept for a subscription while its `since` replay runs, in queue lengths.
const REPLAY_BUFFER_QUEUES: usize = 8;
/// Change-log page size for lag recovery.
const CATCH_UP_PAGE: usize = 512;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

struct Inner {
    conns: HashMap<u64, Arc<Conn>>,
    /// The last event handed to subscribers.
    dispatched: Seq,
}

/// Why a connection was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `max_connections` is reached (503).
    Full,
    /// The client IP has `max_guest_connections_per_ip` unauthenticated connections (429).
    TooManyGuests,
}

pub struct Hub {
    pub config: RealtimeConfig,
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    live: AtomicUsize,
    started: AtomicBool,
    shutdown: watch::Sender<bool>,
    sse: Mutex<HashMap<String, Arc<Conn>>>,
    budgets: Budgets,
    /// `since` replays judging change-log pages at the same time, server-wide: replays never
    /// take every core from the dispatcher and the API.
    replays: Semaphore,
}

impl Hub {
    pub fn new(config: RealtimeConfig) -> Arc<Self> {
        let (shutdown, _) = watch::channel(false);
        Arc::new(Self {
            inner: Mutex::new(Inner {
                conns: HashMap::new(),
                dispatched: Seq(0),
            }),
            next_id: AtomicU64::new(1),
            live: AtomicUsize::new(0),
            started: AtomicBool::new(false),
            shutdown,
            sse: Mutex::new(HashMap::new()),
            budgets: Budgets::new(config.clone()),
            replays: Semaphore::new(replay_slots()),
            config,
        })
    }

    /// Starts the dispatcher thread (once). Events committed before this call are history.
    pub fn start(self: &Arc<Self>, records: &Arc<RecordService>) -> Result<(), String> {
        if self.started.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let rx = records.store.subscribe();
        lock(&self.inner).dispatched = records.store.head();
        let hub = self.clone();
        let records = Arc::downgrade(records);
        std::thread::Builder::new()
            .name("ferrobase-realtime".into())
            .spawn(move || hub.run(records, rx))
            .map(|_| ())
            .map_err(|e| format!("cannot start the realtime dispatcher: {e}"))
    }

    /// Number of open connections.
    pub fn connections(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    /// Subscriptions over all open connections.
    pub fn subscriptions(&self) -> usize {
        lock(&self.inner)
            .conns
            .values()
            .map(|c| c.subscription_count())
            .sum()
    }

    /// A receiver that turns `true` when the server shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Tells every connection to close (WS 1001, SSE streams end) and waits up to `wait` for
    /// them to go.
    pub async fn shutdown(&self, wait: Duration) {
        let _ = self.shutdown.send(true);
        let deadline = tokio::time::Instant::now() + wait;
        while self.connections() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Replay slots: all cores but one (at least one), so the dispatcher always has a core.
fn replay_slots() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .max(1)
}
