//! `since` replay: the events after `since` up to the hub's position, read from the change log
//! in seq order and judged like live ones. Seqs are gapless, so a missing seq means the log was
//! trimmed past `since` and the client must refetch (`reset`).
//!
//! Each connection runs its replays one at a time on a worker of its own, so its reader keeps
//! reading (a close is noticed at once). Change-log pages are judged on the blocking pool under
//! one of the hub's server-wide replay slots; the loop checks the connection's close flag and
//! the replay's time budget (`replay_max_ms`) at every entry, so a closed or runaway replay stops
//! within one entry.

use super::frame::Out;
use super::hub::Conn;
use super::sub::{self, Renders, Spec};
use super::Realtime;
use crate::ids::Seq;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const PAGE: usize = 256;

/// One requested replay: subscription `id` wants the events in `(since, upto]`.
pub struct Job {
    pub id: Arc<str>,
    pub spec: Arc<Spec>,
    pub since: Seq,
    pub upto: Seq,
}

/// How a replay ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Replayed {
    /// Every event in `(since, upto]` was judged and the matching ones queued.
    Done,
    /// The log no longer reaches back to `since`; `oldest` is the oldest seq it still has.
    Reset { oldest: Seq },
    /// The replay used up `replay_max_ms`; the events up to `next` (exclusive) were queued.
    Budget { next: Seq },
    /// The subscription was replaced or removed meanwhile.
    Superseded,
    /// The connection went away meanwhile.
    Closed,
}

/// Runs the connection's replays in order, one at a time, until the connection ends; each one
/// ends with its subscription going live (after a `reset` when the replay was cut short).
pub async fn worker(rt: Arc<Realtime>, conn: Arc<Conn>, mut jobs: mpsc::Receiver<Job>) {
    while let Some(job) = jobs.recv().await {
        let reset = match replay(&rt, &conn, &job).await {
            Replayed::Done => None,
            Replayed::Reset { oldest } => Some(
                json!({"type": "reset", "id": &*job.id, "oldest": oldest.0, "reason": "trimmed"}),
            ),
            Replayed::Budget { next } => Some(json!({
                "type": "reset", "id": &*job.id, "reason": "replay_budget",
                "oldest": oldest(&rt, job.upto).0, "next": next.0,
            })),
            Replayed::Superseded => continue,
            Replayed::Closed => return,
        };
        if let Some(reset) = reset {
            if !conn.send(Out::control(reset)).await {
                return;
            }
        }
        rt.hub.go_live(&rt.records, &conn, &job.id, &job.spec);
    }
}

fn oldest(rt: &Realtime, upto: Seq) -> Seq {
    match rt.records.store.oldest_retained() {
        Ok(Some(o)) => o,
        _ => Seq(upto.0 + 1),
    }
}

/// Queues the matching events with `since < seq <= upto` for the job's subscription.
async fn replay(rt: &Arc<Realtime>, conn: &Arc<Conn>, job: &Job) -> Replayed {
    let budget = Duration::from_millis(rt.hub.config.replay_max_ms);
    let mut spent = Duration::ZERO;
    let mut next = job.since.0 + 1;
    while next <= job.upto.0 {
        if !rt.hub.replay_wanted(conn, &job.id, &job.spec) {
            return Replayed::Superseded;
        }
        let Some(slot) = rt.hub.replay_slot().await else {
            return Replayed::Closed;
        };
        let page = {
            let (rt, conn, spec, id) = (rt.clone(), conn.clone(), job.spec.clone(), job.id.clone());
            let (upto, left) = (job.upto, budget.saturating_sub(spent));
            let started = Instant::now();
            let page = tokio::task::spawn_blocking(move || {
                judge_page(&rt, &conn, &id, &spec, next, upto, started + left)
            })
            .await;
            spent += started.elapsed();
            page
        };
        drop(slot);
        let Ok(page) = page else {
            return Replayed::Closed;
        };
        for out in page.outs {
            if !conn.send(out).await {
                return Replayed::Closed;
            }
        }
        if let Some(end) = page.end {
            return end;
        }
        next = page.next;
    }
    Replayed::Done
}

struct Page {
    /// Matching events, in seq order.
    outs: Vec<Out>,
    /// The first seq not judged yet.
    next: u64,
    /// Set when the replay must stop after queueing `outs`.
    end: Option<Replayed>,
}

/// Reads and judges one change-log page starting at seq `next` (blocking: sled reads, JSON).
fn judge_page(
    rt: &Realtime,
    conn: &Conn,
    id: &Arc<str>,
    spec: &Spec,
    mut next: u64,
    upto: Seq,
    deadline: Instant,
) -> Page {
    let stop = |outs, next, end| Page {
        outs,
        next,
        end: Some(end),
    };
    let reset = || Replayed::Reset {
        oldest: oldest(rt, upto),
    };
    let page = match rt.records.store.changes_since(Seq(next - 1), PAGE) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "change log read failed during replay");
            return stop(Vec::new(), next, reset());
        }
    };
    if page.is_empty() {
        return stop(Vec::new(), next, reset());
    }
    let caller = conn.caller();
    let snap = rt.records.schema.snapshot();
    let mut outs = Vec::new();
    for ev in page {
        if ev.seq.0 > upto.0 {
            break;
        }
        if ev.seq.0 != next {
            return stop(Vec::new(), next, reset());
        }
        if conn.close_code().is_some() {
            return stop(Vec::new(), next, Replayed::Closed);
        }
        if Instant::now() >= deadline {
            return stop(outs, next, Replayed::Budget { next: Seq(next) });
        }
        next += 1;
        if !spec.selects(&ev) {
            continue;
        }
        let Some(col) = snap.by_id(&ev.collection) else {
            continue;
        };
        let mut renders = Renders::default();
        if let Some(out) = sub::evaluate(&rt.records, col, id, spec, &caller, &ev, &mut renders) {
            outs.push(out);
        }
    }
    Page {
        outs,
        next,
        end: None,
    }
}
