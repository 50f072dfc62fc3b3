//! The hub: registered connections and their subscriptions, and the dispatcher thread that turns
//! each committed change event into queued messages. The dispatcher never waits for a client:
//! queues are bounded and a full queue closes that connection (WebSocket 4008 `lagged`); the
//! client resumes with `since`. If the store's broadcast overtakes the dispatcher, the missed
//! events are read back from the change log; nothing is skipped silently.

use super::budget::{Budgets, Refused, Usage};
use super::frame::Out;
use super::sub::{self, Renders, Spec};
use crate::auth::{token, Caller};
use crate::config::RealtimeConfig;
use crate::ids::Seq;
use crate::records::RecordService;
use crate::store::ChangeEvent;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch, Notify, Semaphore, SemaphorePermit};

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

/// Who is on the other end of a connection, and the token that proved it (re-checked).
#[derive(Debug, Clone)]
pub struct ConnAuth {
    pub caller: Caller,
    pub token: Option<String>,
}

struct Sub {
    id: Arc<str>,
    spec: Arc<Spec>,
    /// Only events with a greater seq are delivered live.
    from: Seq,
    /// Live events held back while the `since` replay runs.
    buffer: Option<Vec<Arc<ChangeEvent>>>,
}

fn usage(subs: &[Sub]) -> Usage {
    subs.iter().fold(Usage::default(), |u, s| {
        u.plus(Usage::one(s.spec.filter_bytes()))
    })
}

/// One realtime connection (a WebSocket or an SSE stream).
pub struct Conn {
    pub id: u64,
    /// The SSE client id (`None` for WebSockets).
    pub client_id: Option<String>,
    /// The client address budgets are charged to.
    ip: String,
    /// Counted as an unauthenticated connection of `ip` (changes with the auth, under its lock).
    guest: AtomicBool,
    /// Deregistered: budgets are released and must not be charged again.
    gone: AtomicBool,
    auth: Mutex<ConnAuth>,
    subs: Mutex<Vec<Sub>>,
    pub(super) tx: mpsc::Sender<Out>,
    close: AtomicU16,
    /// Wakes the writer when `close` is set.
    pub wake: Notify,
}

impl Conn {
    pub fn auth(&self) -> ConnAuth {
        lock(&self.auth).clone()
    }

    pub fn caller(&self) -> Caller {
        lock(&self.auth).caller.clone()
    }

    /// The close code once the connection is condemned.
    pub fn close_code(&self) -> Option<u16> {
        match self.close.load(Ordering::Acquire) {
            0 => None,
            c => Some(c),
        }
    }

    /// Condemns the connection; the first code wins.
    pub fn kill(&self, code: u16) {
        if self
            .close
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.wake.notify_one();
        }
    }

    /// Ends the connection normally (the client went away).
    pub fn end(&self) {
        self.kill(CLOSE_NORMAL);
    }

    /// Queues without waiting; a full queue condemns the connection.
    fn push(&self, out: Out) -> bool {
        if self.tx.try_send(out).is_ok() {
            return true;
        }
        self.kill(CLOSE_LAGGED);
        false
    }

    /// Queues, waiting for room (used by the connection's own task, never by the dispatcher).
    pub async fn send(&self, out: Out) -> bool {
        self.close_code().is_none() && self.tx.send(out).await.is_ok()
    }

    pub fn subscription_count(&self) -> usize {
        lock(&self.subs).len()
    }
}

/// Deregisters its connection when dropped.
pub struct ConnGuard {
    hub: Weak<Hub>,
    conn: Arc<Conn>,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.conn.end();
        if let Some(hub) = self.hub.upgrade() {
            hub.remove(&self.conn);
        }
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

    /// Registers a connection from `ip`, unless a cap is reached.
    pub fn connect(
        self: &Arc<Self>,
        auth: ConnAuth,
        client_id: Option<String>,
        ip: String,
    ) -> Result<(Arc<Conn>, mpsc::Receiver<Out>, ConnGuard), Refusal> {
        let max = self.config.max_connections;
        if self
            .live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_err()
        {
            return Err(Refusal::Full);
        }
        let guest = is_guest(&auth.caller);
        if guest && !self.budgets.admit_guest(&ip) {
            self.live.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::TooManyGuests);
        }
        let (tx, rx) = mpsc::channel(self.config.queue.max(1));
        let conn = Arc::new(Conn {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            client_id: client_id.clone(),
            ip,
            guest: AtomicBool::new(guest),
            gone: AtomicBool::new(false),
            auth: Mutex::new(auth),
            subs: Mutex::new(Vec::new()),
            tx,
            close: AtomicU16::new(0),
            wake: Notify::new(),
        });
        lock(&self.inner).conns.insert(conn.id, conn.clone());
        if let Some(cid) = client_id {
            lock(&self.sse).insert(cid, conn.clone());
        }
        let guard = ConnGuard {
            hub: Arc::downgrade(self),
            conn: conn.clone(),
        };
        Ok((conn, rx, guard))
    }

    fn remove(&self, conn: &Conn) {
        if lock(&self.inner).conns.remove(&conn.id).is_some() {
            self.live.fetch_sub(1, Ordering::AcqRel);
            // Lock order: auth, then subs (never both: the dispatcher reads the auth while it
            // holds the subs).
            let guest = {
                let _auth = lock(&conn.auth);
                conn.gone.store(true, Ordering::Release);
                conn.guest.swap(false, Ordering::AcqRel)
            };
            let mut subs = lock(&conn.subs);
            self.budgets.release(&conn.ip, usage(&subs), guest);
            subs.clear();
        }
        if let Some(cid) = &conn.client_id {
            lock(&self.sse).remove(cid);
        }
    }

    /// Sets a connection's identity, keeping its IP's count of unauthenticated connections.
    pub fn set_auth(&self, conn: &Conn, auth: ConnAuth) {
        let mut current = lock(&conn.auth);
        let guest = is_guest(&auth.caller);
        if !conn.gone.load(Ordering::Acquire) && conn.guest.swap(guest, Ordering::AcqRel) != guest {
            self.budgets.guest_changed(&conn.ip, guest);
        }
        *current = auth;
    }

    /// The SSE connection with this client id.
    pub fn sse_client(&self, client_id: &str) -> Option<Arc<Conn>> {
        lock(&self.sse).get(client_id).cloned()
    }

    /// Adds (or replaces, by id) a subscription and queues `subscribed` ahead of any event for
    /// it. With `since` older than the hub's position, live events are held back until
    /// [`Hub::go_live`]. Returns the seq after which live delivery starts.
    pub fn subscribe(
        &self,
        conn: &Conn,
        id: Arc<str>,
        spec: Arc<Spec>,
        since: Option<Seq>,
    ) -> Result<Seq, Refused> {
        let inner = lock(&self.inner);
        let mut subs = lock(&conn.subs);
        if conn.gone.load(Ordering::Acquire) {
            return Ok(inner.dispatched);
        }
        let old = usage(&subs);
        let replaced = subs
            .iter()
            .find(|s| s.id == id)
            .map_or(Usage::default(), |s| Usage::one(s.spec.filter_bytes()));
        let new = old.minus(replaced).plus(Usage::one(spec.filter_bytes()));
        self.budgets.charge(&conn.ip, old, new)?;
        subs.retain(|s| s.id != id);
        let head = inner.dispatched;
        let replay = since.is_some_and(|s| s < head);
        subs.push(Sub {
            id: id.clone(),
            spec,
            from: sub::start_after(head, since),
            buffer: replay.then(Vec::new),
        });
        conn.push(Out::control(
            json!({"type": "subscribed", "id": &*id, "seq": head.0}),
        ));
        Ok(head)
    }

    /// Ends the replay phase of subscription `id`: queues the live events held back meanwhile
    /// (all newer than the replay) and delivers live from now on.
    pub fn go_live(&self, records: &RecordService, conn: &Conn, id: &Arc<str>, spec: &Arc<Spec>) {
        let _inner = lock(&self.inner);
        let caller = conn.caller();
        let mut subs = lock(&conn.subs);
        let Some(sub) = subs
            .iter_mut()
            .find(|s| s.id == *id && Arc::ptr_eq(&s.spec, spec))
        else {
            return;
        };
        let held = sub.buffer.take().unwrap_or_default();
        let snap = records.schema.snapshot();
        let Some(col) = snap.by_id(&spec.collection) else {
            return;
        };
        for ev in held {
            let mut renders = Renders::default();
            if let Some(out) = sub::evaluate(records, col, id, spec, &caller, &ev, &mut renders) {
                if !conn.push(out) {
                    return;
                }
            }
        }
    }

    /// Whether subscription `id` is still `spec` and waiting for its replay.
    pub fn replay_wanted(&self, conn: &Conn, id: &str, spec: &Arc<Spec>) -> bool {
        lock(&conn.subs)
            .iter()
            .any(|s| &*s.id == id && Arc::ptr_eq(&s.spec, spec) && s.buffer.is_some())
    }

    /// Waits for one of the server-wide replay slots (held while a change-log page is judged).
    pub async fn replay_slot(&self) -> Option<SemaphorePermit<'_>> {
        self.replays.acquire().await.ok()
    }

    /// Removes subscription `id`; false if there was none.
    pub fn unsubscribe(&self, conn: &Conn, id: &str) -> bool {
        let mut subs = lock(&conn.subs);
        let old = usage(&subs);
        subs.retain(|s| &*s.id != id);
        // Shrinking is never refused.
        let _ = self.budgets.charge(&conn.ip, old, usage(&subs));
        subs.len() != old.subs
    }

    /// Replaces all subscriptions (SSE), live from the hub's position, unless the new set is over
    /// the connection's or its IP's budget (then nothing changes).
    pub fn replace(&self, conn: &Conn, specs: Vec<(Arc<str>, Arc<Spec>)>) -> Result<(), Refused> {
        let inner = lock(&self.inner);
        let mut subs = lock(&conn.subs);
        if conn.gone.load(Ordering::Acquire) {
            return Ok(());
        }
        let new = specs.iter().fold(Usage::default(), |u, (_, spec)| {
            u.plus(Usage::one(spec.filter_bytes()))
        });
        self.budgets.charge(&conn.ip, usage(&subs), new)?;
        let keep: Vec<Sub> = specs
            .into_iter()
            .map(|(id, spec)| Sub {
                id,
                spec,
                from: inner.dispatched,
                buffer: None,
            })
            .collect();
        *subs = keep;
        Ok(())
    }

    /// Re-checks a connection's token (expiry, revocation, deleted record). When it no longer
    /// holds, the connection becomes a guest and its subscriptions stop; returns true then.
    pub fn recheck_auth(&self, records: &RecordService, conn: &Conn) -> bool {
        let auth = conn.auth();
        let Some(raw) = auth.token else {
            return false;
        };
        let fresh = records.caller(&raw);
        let expired = token::peek(&raw).is_none_or(|c| c.exp <= chrono::Utc::now().timestamp());
        if matches!(fresh, Caller::Guest) || expired {
            self.set_auth(
                conn,
                ConnAuth {
                    caller: Caller::Guest,
                    token: None,
                },
            );
            let mut subs = lock(&conn.subs);
            let _ = self
                .budgets
                .charge(&conn.ip, usage(&subs), Usage::default());
            subs.clear();
            drop(subs);
            if conn.client_id.is_none() {
                conn.push(Out::control(json!({
                    "type": "error",
                    "code": "auth_expired",
                    "message": "The connection's token expired or was revoked; its subscriptions were stopped. Authenticate and subscribe again.",
                })));
            }
            return true;
        }
        self.set_auth(
            conn,
            ConnAuth {
                caller: fresh,
                token: Some(raw),
            },
        );
        false
    }

    fn run(
        self: Arc<Self>,
        records: Weak<RecordService>,
        mut rx: broadcast::Receiver<Arc<ChangeEvent>>,
    ) {
        loop {
            let received = rx.blocking_recv();
            let Some(records) = records.upgrade() else {
                return;
            };
            match received {
                Ok(ev) => {
                    let dispatched = lock(&self.inner).dispatched;
                    if ev.seq <= dispatched {
                        continue;
                    }
                    if ev.seq.0 > dispatched.0 + 1 {
                        self.catch_up(&records, Seq(ev.seq.0 - 1));
                    }
                    self.dispatch(&records, &ev);
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(
                        missed = n,
                        "realtime dispatcher lagged; reading the change log"
                    );
                    self.catch_up(&records, records.store.head());
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// Dispatches events up to `upto` from the change log. If the log no longer has them, every
    /// connection is closed as lagged: its client resumes and gets `reset`.
    fn catch_up(&self, records: &RecordService, upto: Seq) {
        loop {
            let from = lock(&self.inner).dispatched;
            if from >= upto {
                return;
            }
            let page = records.store.changes_since(from, CATCH_UP_PAGE);
            let page = match page {
                Ok(p) if p.first().is_some_and(|e| e.seq.0 == from.0 + 1) => p,
                other => {
                    if let Err(e) = other {
                        tracing::error!(error = %e, "change log read failed");
                    }
                    tracing::warn!(
                        from = from.0,
                        upto = upto.0,
                        "change log gap; closing realtime connections"
                    );
                    let mut inner = lock(&self.inner);
                    for conn in inner.conns.values() {
                        conn.kill(CLOSE_LAGGED);
                    }
                    inner.dispatched = upto;
                    return;
                }
            };
            for ev in page {
                if ev.seq > upto {
                    return;
                }
                self.dispatch(records, &Arc::new(ev));
            }
        }
    }

    fn dispatch(&self, records: &RecordService, ev: &Arc<ChangeEvent>) {
        let mut inner = lock(&self.inner);
        let snap = records.schema.snapshot();
        if let Some(col) = snap.by_id(&ev.collection) {
            if col.auth.is_some() {
                self.refresh_auth_of(records, &inner, ev);
            }
            let mut renders = Renders::default();
            let queue_cap = self.config.queue.max(1) * REPLAY_BUFFER_QUEUES;
            for conn in inner.conns.values() {
                if conn.close_code().is_some() {
                    continue;
                }
                let mut subs = lock(&conn.subs);
                if !subs.iter().any(|s| s.spec.selects(ev)) {
                    continue;
                }
                let caller = conn.caller();
                for sub in subs.iter_mut() {
                    if ev.seq <= sub.from || !sub.spec.selects(ev) {
                        continue;
                    }
                    if let Some(buf) = &mut sub.buffer {
                        if buf.len() >= queue_cap {
                            conn.kill(CLOSE_LAGGED);
                            break;
                        }
                        buf.push(ev.clone());
                        continue;
                    }
                    if let Some(out) =
                        sub::evaluate(records, col, &sub.id, &sub.spec, &caller, ev, &mut renders)
                    {
                        if !conn.push(out) {
                            break;
                        }
                    }
                }
            }
        }
        inner.dispatched = ev.seq;
    }

    /// An auth record changed: connections authenticated as it re-check their token now (a
    /// deleted record or a rotated token key ends their subscriptions; other changes refresh
    /// the data rules see as `@request.auth`).
    fn refresh_auth_of(&self, records: &RecordService, inner: &Inner, ev: &ChangeEvent) {
        for conn in inner.conns.values() {
            let hit = conn
                .caller()
                .auth()
                .is_some_and(|a| a.collection.id == ev.collection && a.id() == ev.record.as_str());
            if hit {
                self.recheck_auth(records, conn);
            }
        }
    }
}

/// Unauthenticated: what the per-IP guest cap counts.
fn is_guest(caller: &Caller) -> bool {
    matches!(caller, Caller::Guest)
}

/// Replay slots: all cores but one (at least one), so the dispatcher always has a core.
fn replay_slots() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .max(1)
}
