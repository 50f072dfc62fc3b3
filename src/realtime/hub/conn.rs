//! One realtime connection: its identity, queue and close code; registering it against the
//! connection and guest budgets, and re-checking its token.

use super::subscribe::{usage, Sub};
use super::{lock, Hub, Refusal, CLOSE_LAGGED, CLOSE_NORMAL};
use crate::auth::{token, Caller};
use crate::realtime::budget::Usage;
use crate::realtime::frame::Out;
use crate::records::RecordService;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::{mpsc, Notify};

/// Who is on the other end of a connection, and the token that proved it (re-checked).
#[derive(Debug, Clone)]
pub struct ConnAuth {
    pub caller: Caller,
    pub token: Option<String>,
}

/// One realtime connection (a WebSocket or an SSE stream).
pub struct Conn {
    pub id: u64,
    /// The SSE client id (`None` for WebSockets).
    pub client_id: Option<String>,
    /// The client address budgets are charged to.
    pub(super) ip: String,
    /// Counted as an unauthenticated connection of `ip` (changes with the auth, under its lock).
    pub(super) guest: AtomicBool,
    /// Deregistered: budgets are released and must not be charged again.
    pub(super) gone: AtomicBool,
    pub(super) auth: Mutex<ConnAuth>,
    pub(super) subs: Mutex<Vec<Sub>>,
    pub(in crate::realtime) tx: mpsc::Sender<Out>,
    pub(super) close: AtomicU16,
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
            if code == CLOSE_LAGGED {
                crate::metrics::realtime_lagged_close();
            }
            self.wake.notify_one();
        }
    }

    /// Ends the connection normally (the client went away).
    pub fn end(&self) {
        self.kill(CLOSE_NORMAL);
    }

    /// Queues without waiting; a full queue condemns the connection.
    pub(super) fn push(&self, out: Out) -> bool {
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

impl Hub {
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
}

/// Unauthenticated: what the per-IP guest cap counts.
fn is_guest(caller: &Caller) -> bool {
    matches!(caller, Caller::Guest)
}
