//! Subscriptions of a connection: adding, replacing and removing them within budget, and the
//! handoff from a `since` replay to live delivery.

use super::conn::Conn;
use super::{lock, Hub};
use crate::ids::Seq;
use crate::realtime::budget::{Refused, Usage};
use crate::realtime::frame::Out;
use crate::realtime::sub::{self, Renders, Spec};
use crate::records::RecordService;
use crate::store::ChangeEvent;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::SemaphorePermit;

pub(super) struct Sub {
    pub(super) id: Arc<str>,
    pub(super) spec: Arc<Spec>,
    /// Only events with a greater seq are delivered live.
    pub(super) from: Seq,
    /// Live events held back while the `since` replay runs.
    pub(super) buffer: Option<Vec<Arc<ChangeEvent>>>,
}

pub(super) fn usage(subs: &[Sub]) -> Usage {
    subs.iter().fold(Usage::default(), |u, s| {
        u.plus(Usage::one(s.spec.filter_bytes()))
    })
}

impl Hub {
    /// Adds (or replaces, by id) a subscription and queues `subscribed` ahead of any event for
    /// it. With `since` older than the hub's position, live events are held back until
    /// [`Hub::go_live`]. Without `since` the subscription starts after `committed` (the store's
    /// head when the client asked): a write acknowledged before the subscribe is never delivered
    /// as live, even while the dispatcher is still behind it. A `since` beyond the store's head
    /// gets `reset` (`reason: "ahead"`) and live events after the hub's position. Returns the
    /// hub's position.
    pub fn subscribe(
        &self,
        conn: &Conn,
        id: Arc<str>,
        spec: Arc<Spec>,
        since: Option<Seq>,
        committed: Seq,
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
        let head = match since {
            Some(_) => inner.dispatched,
            None => inner.dispatched.max(committed),
        };
        let replay = since.is_some_and(|s| s < head);
        // A `since` between the dispatcher's position and the store's head is a client that
        // already saw a `subscribed.seq` that far: it starts there. One beyond the store's head
        // names events this store never had (data a restore replaced, another server): those
        // numbers will be taken by new events, so delivery starts at `head` after a `reset`.
        let ahead = since.is_some_and(|s| s > head.max(committed));
        let from = match since {
            Some(s) if !ahead => s.max(head),
            _ => head,
        };
        subs.push(Sub {
            id: id.clone(),
            spec,
            from,
            buffer: replay.then(Vec::new),
        });
        conn.push(Out::control(
            json!({"type": "subscribed", "id": &*id, "seq": head.0}),
        ));
        if ahead {
            // Queued with `subscribed`, before any live event: the client refetches first.
            conn.push(Out::control(
                json!({"type": "reset", "id": &*id, "reason": "ahead", "head": head.0}),
            ));
        }
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
}
