//! The single writer: one OS thread drains queued transactions, validates each against committed
//! state plus everything staged before it in the same group, writes the whole group as ONE sled
//! batch, flushes ONCE, and only then answers the waiters and publishes change events.
//!
//! - `overlay`: the group's staged writes over the tree, with per-transaction undo.
//! - `apply`: one op's preconditions and writes, and its change-log entry.
//! - `indexes` / `referrers`: index-entry and reverse-relation maintenance.
//! - `migrate`: the bulk rewrite of a collection after a schema change.

mod apply;
mod indexes;
mod migrate;
mod overlay;
mod referrers;

use self::apply::apply;
use self::overlay::Overlay;
use super::keys;
use super::snapshot::Tee;
use super::types::{ChangeEvent, Commit, StoreError, WriteOp};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot};

pub(crate) type Reply = oneshot::Sender<Result<Commit, StoreError>>;

pub(crate) enum Msg {
    Write(Vec<WriteOp>, Reply),
    Shutdown(oneshot::Sender<()>),
    /// From the next group on, tee every group's raw writes to this spill file (a snapshot is
    /// copying the tree). Refused while another snapshot tees.
    TeeStart(std::fs::File, oneshot::Sender<Result<(), StoreError>>),
    /// Stop teeing (between groups); answers the head seq at that point (the snapshot point)
    /// and how many writes were teed.
    TeeStop(oneshot::Sender<Result<(u64, u64), StoreError>>),
}

pub(crate) struct Writer {
    pub db: sled::Db,
    pub tree: sled::Tree,
    pub fsync: bool,
    /// Most transactions committed in one group (one batch + one flush); at least 1.
    pub max_group: usize,
    pub head: Arc<AtomicU64>,
    pub events: broadcast::Sender<Arc<ChangeEvent>>,
    /// Change-log entries kept by count (see `StoreOptions::retain_entries`).
    pub retain_entries: u64,
    /// The lowest seq that may still be in the log (shared with `trim_changelog`).
    pub oldest: Arc<AtomicU64>,
    /// A snapshot's redo tee, while one copies the tree.
    pub tee: Option<Tee>,
}

/// The writer trims the log by count itself once this many entries are due, so a bulk load
/// never piles up a log far beyond the retention between periodic trims.
const TRIM_SLACK: u64 = 1024;
/// Most log entries one group removes (keeps every group's batch small).
const MAX_TRIM_PER_GROUP: u64 = 8192;

impl Writer {
    /// Runs until a shutdown message arrives or every sender is gone; then flushes.
    pub fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let mut pending: Option<Msg> = None;
        loop {
            let first = match pending.take() {
                Some(m) => m,
                None => match rx.blocking_recv() {
                    Some(m) => m,
                    None => break,
                },
            };
            let (txn, reply) = match first {
                Msg::Write(txn, reply) => (txn, reply),
                Msg::Shutdown(done) => {
                    self.final_flush();
                    let _ = done.send(());
                    return;
                }
                Msg::TeeStart(file, done) => {
                    let res = if self.tee.is_some() {
                        Err(StoreError::Io("a snapshot is already running".into()))
                    } else {
                        self.tee = Some(Tee::new(file));
                        Ok(())
                    };
                    let _ = done.send(res);
                    continue;
                }
                Msg::TeeStop(done) => {
                    let res = match self.tee.take() {
                        Some(tee) => tee.finish().map(|n| (self.head.load(Ordering::Acquire), n)),
                        None => Err(StoreError::Io("no snapshot is running".into())),
                    };
                    let _ = done.send(res);
                    continue;
                }
            };
            let mut group = vec![(txn, reply)];
            // A bulk transaction scans whole collections: it commits alone.
            if !group[0].0.iter().any(WriteOp::is_bulk) {
                while group.len() < self.max_group {
                    match rx.try_recv() {
                        Ok(Msg::Write(t, r)) if t.iter().any(WriteOp::is_bulk) => {
                            pending = Some(Msg::Write(t, r));
                            break;
                        }
                        Ok(Msg::Write(t, r)) => group.push((t, r)),
                        Ok(other) => {
                            pending = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
            }
            self.commit_group(group);
        }
        self.final_flush();
    }

    fn final_flush(&self) {
        if let Err(e) = self.db.flush() {
            tracing::error!(error = %e, "final flush failed");
        }
    }

    fn commit_group(&mut self, group: Vec<(Vec<WriteOp>, Reply)>) {
        let start_seq = self.head.load(Ordering::Acquire);
        let mut seq = start_seq;
        let ts = chrono::Utc::now().timestamp_millis();
        let mut overlay = Overlay::new(&self.tree);
        let mut outcomes: Vec<(Reply, Result<Vec<ChangeEvent>, StoreError>)> =
            Vec::with_capacity(group.len());
        for (txn, reply) in group {
            overlay.begin();
            let txn_start = seq;
            let mut events = Vec::new();
            let res = txn
                .into_iter()
                .try_for_each(|op| apply(&mut overlay, op, &mut seq, ts, &mut events));
            match res {
                Ok(()) => outcomes.push((reply, Ok(events))),
                Err(e) => {
                    overlay.rollback();
                    seq = txn_start;
                    outcomes.push((reply, Err(e)));
                }
            }
        }
        if seq != start_seq {
            overlay.put(keys::meta(keys::META_SEQ_HEAD), seq.to_be_bytes().to_vec());
        }
        // Cursors are read through the overlay, so a consumer registering in this very group
        // holds the entries it asked for.
        let floor = self.trim_due(seq).then(|| merged_cursor_floor(&overlay));
        if let Some(tee) = self.tee.as_mut() {
            for (k, v) in overlay.writes() {
                tee.record(k, v.map(|v| v.as_ref()));
            }
        }
        let mut batch = overlay.into_batch();
        let trimmed_to = floor.and_then(|f| self.trim_by_count(seq, f, &mut batch));
        if let (Some(tee), Some(to)) = (self.tee.as_mut(), trimmed_to) {
            for s in self.oldest.load(Ordering::Acquire)..to {
                tee.record(&keys::log(crate::ids::Seq(s)), None);
            }
        }
        let transactions = outcomes.len();
        let mut fsync_secs = None;
        let durable = self
            .tree
            .apply_batch(batch)
            .map_err(StoreError::from)
            .and_then(|()| {
                if self.fsync {
                    let started = std::time::Instant::now();
                    let flushed = self.db.flush().map(|_| ()).map_err(StoreError::from);
                    fsync_secs = Some(started.elapsed().as_secs_f64());
                    flushed
                } else {
                    Ok(())
                }
            });
        crate::metrics::store_commit(transactions, fsync_secs);
        if let Err(e) = durable {
            tracing::error!(error = %e, "group commit failed");
            if let Some(tee) = self.tee.as_mut() {
                tee.fail(format!("a group commit failed during the snapshot: {e}"));
            }
            // The batch may or may not be on disk; re-read the head so seqs stay gapless.
            let head = read_head(&self.tree).unwrap_or(start_seq);
            self.head.store(head, Ordering::Release);
            for (reply, _) in outcomes {
                let _ = reply.send(Err(e.clone()));
            }
            return;
        }
        self.head.store(seq, Ordering::Release);
        if let Some(to) = trimmed_to {
            self.oldest.fetch_max(to, Ordering::AcqRel);
        }
        for (reply, res) in outcomes {
            let res = res.map(|events| {
                let events: Vec<Arc<ChangeEvent>> = events.into_iter().map(Arc::new).collect();
                for ev in &events {
                    // No receivers is fine; lagging receivers catch up from the log.
                    let _ = self.events.send(ev.clone());
                }
                Commit { events }
            });
            let _ = reply.send(res);
        }
    }

    /// Whether enough log entries are beyond the count retention to trim them with this group.
    fn trim_due(&self, head: u64) -> bool {
        let keep_from = (head + 1).saturating_sub(self.retain_entries);
        keep_from
            >= self
                .oldest
                .load(Ordering::Acquire)
                .saturating_add(TRIM_SLACK)
    }

    /// Adds the removal of log entries beyond the count retention (up to `floor`, the slowest
    /// consumer's need) to `batch`; returns the new lowest seq if it removed any. Log seqs are
    /// gapless, so the doomed keys are computed, not scanned.
    fn trim_by_count(&self, head: u64, floor: u64, batch: &mut sled::Batch) -> Option<u64> {
        let oldest = self.oldest.load(Ordering::Acquire);
        let keep_from = (head + 1).saturating_sub(self.retain_entries);
        let to = keep_from
            .min(floor)
            .min(oldest.saturating_add(MAX_TRIM_PER_GROUP));
        if to <= oldest {
            return None;
        }
        for s in oldest..to {
            batch.remove(keys::log(crate::ids::Seq(s)));
        }
        Some(to)
    }
}

/// The oldest seq still in the change log, if any.
pub(crate) fn first_log_seq(tree: &sled::Tree) -> Result<Option<u64>, StoreError> {
    match tree.scan_prefix(keys::LOG).next() {
        Some(kv) => Ok(keys::seq_of_log(&kv?.0).map(|s| s.0)),
        None => Ok(None),
    }
}

/// The last committed seq recorded in the tree.
pub(crate) fn read_head(tree: &sled::Tree) -> Result<u64, StoreError> {
    let from_meta = tree
        .get(keys::meta(keys::META_SEQ_HEAD))?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0);
    let from_log = match tree.scan_prefix(keys::LOG).next_back() {
        Some(kv) => keys::seq_of_log(&kv?.0).map(|s| s.0).unwrap_or(0),
        None => 0,
    };
    Ok(from_meta.max(from_log))
}

/// The lowest seq some consumer still needs (its cursor + 1), or `u64::MAX` without consumers.
pub(crate) fn cursor_floor(tree: &sled::Tree) -> Result<u64, StoreError> {
    let mut floor = u64::MAX;
    for kv in tree.scan_prefix(keys::meta(keys::META_CURSOR)) {
        floor = floor.min(keys::cursor_need(&kv?.1));
    }
    Ok(floor)
}

/// [`cursor_floor`] over committed state plus the group's staged writes; 0 (trim nothing) if
/// the cursors cannot be read.
fn merged_cursor_floor(overlay: &Overlay<'_>) -> u64 {
    match overlay::scan_merged(overlay, &keys::meta(keys::META_CURSOR)) {
        Ok(entries) => entries
            .iter()
            .map(|(_, v)| keys::cursor_need(v))
            .min()
            .unwrap_or(u64::MAX),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read change-log cursors; not trimming");
            0
        }
    }
}
