//! `since` replay: the events after `since` up to the hub's position, read from the change log
//! in seq order and judged like live ones. Seqs are gapless, so a missing seq means the log was
//! trimmed past `since` and the client must refetch (`reset`).

use super::hub::Conn;
use super::sub::{self, Renders, Spec};
use crate::app::App;
use crate::ids::Seq;
use std::sync::Arc;

const PAGE: usize = 256;

/// How a replay ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Replayed {
    /// Every event in `(since, upto]` was judged and the matching ones queued.
    Done,
    /// The log no longer reaches back to `since`; `oldest` is the oldest seq it still has.
    Reset { oldest: Seq },
    /// The connection went away meanwhile.
    Closed,
}

/// Queues the matching events with `since < seq <= upto` for subscription `id`.
pub async fn replay(
    app: &App,
    conn: &Conn,
    id: &Arc<str>,
    spec: &Spec,
    since: Seq,
    upto: Seq,
) -> Replayed {
    let reset = || Replayed::Reset {
        oldest: match app.store.oldest_retained() {
            Ok(Some(o)) => o,
            _ => Seq(upto.0 + 1),
        },
    };
    let mut next = since.0 + 1;
    while next <= upto.0 {
        let page = match app.store.changes_since(Seq(next - 1), PAGE) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "change log read failed during replay");
                return reset();
            }
        };
        if page.is_empty() {
            return reset();
        }
        let caller = conn.caller();
        let snap = app.schema.snapshot();
        let mut outs = Vec::new();
        for ev in page {
            if ev.seq.0 > upto.0 {
                break;
            }
            if ev.seq.0 != next {
                return reset();
            }
            next += 1;
            if !spec.selects(&ev) {
                continue;
            }
            let Some(col) = snap.by_id(&ev.collection) else {
                continue;
            };
            let mut renders = Renders::default();
            if let Some(out) = sub::evaluate(app, col, id, spec, &caller, &ev, &mut renders) {
                outs.push(out);
            }
        }
        for out in outs {
            if !conn.send(out).await {
                return Replayed::Closed;
            }
        }
        // Let other tasks run between pages of a long replay.
        tokio::task::yield_now().await;
    }
    Replayed::Done
}
