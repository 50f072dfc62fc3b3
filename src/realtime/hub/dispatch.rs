//! The dispatcher thread: turns each committed change event into queued messages, reading
//! missed events back from the change log when the store's broadcast overtakes it.

use super::{lock, Hub, Inner, CATCH_UP_PAGE, CLOSE_LAGGED, REPLAY_BUFFER_QUEUES};
use crate::ids::Seq;
use crate::realtime::sub::{self, Renders};
use crate::records::RecordService;
use crate::store::ChangeEvent;
use std::sync::{Arc, Weak};
use tokio::sync::broadcast;

impl Hub {
    pub(super) fn run(
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
                .is_some_and(|a| a.collection.id == ev.collection && *a.id() == ev.record);
            if hit {
                self.recheck_auth(records, conn);
            }
        }
    }
}
