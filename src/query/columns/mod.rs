//! The column cache: unindexed filtered/sorted lists answered from in-memory columns instead
//! of decoding every record.
//!
//! Per collection, the cache keeps the record ids and one column of scalar cells per field a
//! query used (built lazily by one scan; a query needing a field the entry lacks rebuilds it
//! with the union of fields). Consistency:
//! - each entry records the change seq it reflects and, before answering, replays the change
//!   log up to the store head read at the start of the request, so a write acknowledged before
//!   the request is always seen (read-your-writes);
//! - a trimmed log (gap) or a large lag rebuilds the entry;
//! - schema changes and truncates change records without change events: they bump the schema
//!   snapshot's data epoch ([`crate::schema::Snapshot::epoch`]) and every entry built under an
//!   older epoch is dropped.
//!
//! Memory is bounded by [`ColumnLimits`]: collections above `max_rows` are never cached, and
//! whole entries are evicted least-recently-used once the estimated total passes `max_bytes`.
//!
//! Only filters whose comparisons all read plain top-level fields and record-independent values
//! (literals, macros, `@request.*`) are served, through the row evaluator's own comparison
//! function; anything else returns `None` and the caller uses the row path.

mod entry;
mod pred;
#[cfg(test)]
mod tests;

use super::compile::Compiled;
use super::env::{EvalEnv, EvalError};
use super::sort::{ColumnKey, SortSpec};
use crate::ids::{CollectionId, RecordId};
use crate::store::Store;
use entry::{CatchUp, Entry, Key};
use pred::{slot, Pred};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// Bounds on what the cache holds.
#[derive(Debug, Clone)]
pub struct ColumnLimits {
    /// Collections with more records are never cached.
    pub max_rows: usize,
    /// Estimated bytes across all entries before least-recently-used entries are evicted.
    pub max_bytes: usize,
    /// Collections with fewer records are not worth caching.
    pub min_rows: usize,
}

impl Default for ColumnLimits {
    fn default() -> Self {
        Self {
            max_rows: 2_000_000,
            max_bytes: 256 * 1024 * 1024,
            min_rows: 0,
        }
    }
}

/// One page answered from columns: the ids to load, in order, and the number of matches.
#[derive(Debug, Clone)]
pub struct ColumnPage {
    pub ids: Vec<RecordId>,
    pub total: usize,
    /// `column scan (f1, f2)`: the plan string for `X-Ferrobase-Plan`.
    pub plan: String,
}

#[derive(Default)]
struct Slot {
    entry: RwLock<Option<Entry>>,
    last_used: AtomicU64,
    bytes: AtomicU64,
    /// Epoch and row count at which the collection proved too big to cache.
    refused: Mutex<Option<(u64, usize)>>,
}

#[derive(Default)]
struct Slots {
    /// The newest data epoch seen; entries of older epochs were dropped.
    epoch: u64,
    by_collection: HashMap<CollectionId, Arc<Slot>>,
}

/// See the module documentation. One per [`crate::app::App`].
#[derive(Default)]
pub struct ColumnCache {
    limits: ColumnLimits,
    slots: Mutex<Slots>,
    clock: AtomicU64,
    /// Entries built by scanning (tests check that writes are replayed, not rebuilt).
    builds: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// A query resolved against the cache's vocabulary.
struct Query<'c> {
    pred: Pred<'c>,
    fields: Vec<String>,
    order: Vec<Key>,
    rowids: bool,
    tie_desc: bool,
}

impl ColumnCache {
    pub fn new(limits: ColumnLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Answers one page of `collection` filtered by `filter` and ordered by `sort` (ties by
    /// id), or `None` when the query or the collection is not one the cache serves. `env`
    /// supplies the schema snapshot (its epoch) and the request values the filter may use.
    #[allow(clippy::too_many_arguments)]
    pub fn try_page(
        &self,
        store: &dyn Store,
        collection: &CollectionId,
        filter: Option<&Compiled>,
        sort: &SortSpec,
        env: &EvalEnv<'_>,
        offset: usize,
        per_page: usize,
    ) -> Result<Option<ColumnPage>, EvalError> {
        let Some(q) = Self::resolve(filter, sort, env)? else {
            return Ok(None);
        };
        let epoch = env.schema.epoch();
        // Read before looking at the entry: every acknowledged write is at or below it.
        let head = store.head().0;
        let Some(slot) = self.slot(collection, epoch) else {
            return Ok(None);
        };
        slot.last_used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let plan = format!("column scan ({})", q.fields.join(", "));
        let answer = |e: &Entry| -> Result<ColumnPage, EvalError> {
            let (ids, total) =
                e.page(&q.pred, &q.fields, &q.order, q.tie_desc, offset, per_page)?;
            Ok(ColumnPage {
                ids,
                total,
                plan: plan.clone(),
            })
        };
        {
            let guard = slot.entry.read().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = guard.as_ref() {
                if e.epoch == epoch && e.applied >= head && e.has(&q.fields, q.rowids) {
                    return answer(e).map(Some);
                }
                if e.epoch > epoch {
                    // This request's schema snapshot is older than the entry: let it scan.
                    return Ok(None);
                }
            }
        }
        let mut guard = slot.entry.write().unwrap_or_else(|p| p.into_inner());
        if !self.refresh(&slot, &mut guard, store, collection, epoch, head, &q)? {
            return Ok(None);
        }
        let page = guard.as_ref().map(answer).transpose()?;
        let bytes = guard.as_ref().map_or(0, Entry::bytes);
        slot.bytes.store(bytes as u64, Ordering::Relaxed);
        drop(guard);
        self.evict(collection);
        Ok(page)
    }

    fn resolve<'c>(
        filter: Option<&'c Compiled>,
        sort: &SortSpec,
        env: &EvalEnv<'_>,
    ) -> Result<Option<Query<'c>>, EvalError> {
        let Some(keys) = sort.column_keys() else {
            return Ok(None);
        };
        let mut fields = Vec::new();
        let pred = match filter {
            Some(f) => match Pred::compile(f, env, &mut fields)? {
                Some(p) => p,
                None => return Ok(None),
            },
            None => Pred::Const(true),
        };
        let mut order: Vec<Key> = keys
            .iter()
            .map(|k| match *k {
                ColumnKey::Field(f, desc) => Key::Col(slot(&mut fields, f), desc),
                ColumnKey::Rowid(desc) => Key::Rowid(desc),
            })
            .collect();
        if order.is_empty() {
            // No sort: insertion order.
            order.push(Key::Rowid(false));
        }
        let rowids = order.iter().any(|k| matches!(k, Key::Rowid(_)));
        Ok(Some(Query {
            pred,
            fields,
            order,
            rowids,
            tie_desc: sort.last_desc(),
        }))
    }

    /// The slot of `collection`; dropping every entry when `epoch` is newer than any seen.
    fn slot(&self, collection: &CollectionId, epoch: u64) -> Option<Arc<Slot>> {
        let mut slots = lock(&self.slots);
        if epoch > slots.epoch {
            slots.epoch = epoch;
            slots.by_collection.clear();
        } else if epoch < slots.epoch {
            return None;
        }
        Some(
            slots
                .by_collection
                .entry(collection.clone())
                .or_default()
                .clone(),
        )
    }

    /// Brings the entry up to `head` with the fields `q` needs; `false` when the collection
    /// cannot be cached (too big or too small, or the log keeps outrunning rebuilds).
    #[allow(clippy::too_many_arguments)]
    fn refresh(
        &self,
        slot: &Slot,
        guard: &mut Option<Entry>,
        store: &dyn Store,
        collection: &CollectionId,
        epoch: u64,
        head: u64,
        q: &Query<'_>,
    ) -> Result<bool, EvalError> {
        if let Some(e) = guard.as_mut() {
            if e.epoch == epoch && e.has(&q.fields, q.rowids) {
                if let CatchUp::Done = e.catch_up(store, collection, head)? {
                    return Ok(true);
                }
            }
        }
        // Rebuild with everything the old entry had (same epoch) plus what `q` needs.
        let (mut fields, mut rowids) = (Vec::new(), q.rowids);
        if let Some(e) = guard.as_ref().filter(|e| e.epoch == epoch) {
            fields.extend(e.fields.iter().cloned());
            rowids |= e.has_rowids();
        }
        for f in &q.fields {
            slot_push(&mut fields, f);
        }
        *guard = None;
        let rows = store.count_records(collection)?;
        if rows > self.limits.max_rows || rows < self.limits.min_rows {
            return Ok(false);
        }
        if let Some((at, refused_rows)) = *lock(&slot.refused) {
            if at == epoch && rows >= refused_rows / 2 {
                return Ok(false);
            }
        }
        let estimate = rows.saturating_mul(48 + 24 * fields.len());
        if estimate > self.limits.max_bytes {
            return Ok(false);
        }
        for _ in 0..2 {
            self.builds.fetch_add(1, Ordering::Relaxed);
            let mut e = Entry::build(store, collection, epoch, fields.clone(), rowids, rows)?;
            if e.bytes() > self.limits.max_bytes {
                *lock(&slot.refused) = Some((epoch, e.live()));
                return Ok(false);
            }
            if let CatchUp::Done = e.catch_up(store, collection, head.max(e.applied))? {
                *guard = Some(e);
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Evicts least-recently-used entries (never `keep`'s) until the estimate fits.
    fn evict(&self, keep: &CollectionId) {
        let mut slots = lock(&self.slots);
        loop {
            let total: u64 = slots
                .by_collection
                .values()
                .map(|s| s.bytes.load(Ordering::Relaxed))
                .sum();
            if total <= self.limits.max_bytes as u64 {
                return;
            }
            let victim = slots
                .by_collection
                .iter()
                .filter(|(c, s)| *c != keep && s.bytes.load(Ordering::Relaxed) > 0)
                .min_by_key(|(_, s)| s.last_used.load(Ordering::Relaxed))
                .map(|(c, _)| c.clone());
            match victim {
                Some(c) => {
                    slots.by_collection.remove(&c);
                }
                None => return,
            }
        }
    }

    /// How many entries were built by scanning a collection.
    pub fn builds(&self) -> u64 {
        self.builds.load(Ordering::Relaxed)
    }

    /// Drops every cached entry (tests and memory pressure).
    pub fn clear(&self) {
        lock(&self.slots).by_collection.clear();
    }
}

fn slot_push(fields: &mut Vec<String>, f: &str) {
    if !fields.iter().any(|x| x == f) {
        fields.push(f.to_string());
    }
}
