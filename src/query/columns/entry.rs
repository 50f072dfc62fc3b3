//! One collection's cached columns: row ids, liveness, optional rowids and one column of
//! scalar cells per cached field, kept in step with the change log.

use super::super::env::EvalError;
use super::super::sort::total_cmp;
use super::super::value::Val;
use super::pred::Pred;
use crate::ids::{CollectionId, RecordData, RecordId, Seq};
use crate::store::{Action, ChangeEvent, Store, StoreError};
use crate::work::Interrupted;
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;

/// Change events read per catch-up step.
const CATCH_UP_BATCH: usize = 1024;
/// Behind by more than max(live rows, this) events: rebuilding is cheaper than replaying.
const MIN_REPLAY_LAG: u64 = 4096;
/// Dead rows are compacted away once they outnumber live ones and this.
const MIN_COMPACT: usize = 1024;

/// One field value of one record, as the filter evaluator sees it ([`Val::from_json`] of the
/// stored value; a missing key and JSON null are both NULL, exactly like the row evaluator).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Num(f64),
    Text(Box<str>),
}

impl Cell {
    pub(super) fn of(v: Option<&Value>) -> Cell {
        match v.map_or(Val::Null, Val::from_json) {
            Val::Null => Cell::Null,
            Val::Num(n) => Cell::Num(n),
            Val::Text(t) => Cell::Text(t.into_owned().into_boxed_str()),
        }
    }

    pub(super) fn val(&self) -> Val<'_> {
        match self {
            Cell::Null => Val::Null,
            Cell::Num(n) => Val::Num(*n),
            Cell::Text(t) => Val::Text(Cow::Borrowed(t)),
        }
    }

    fn heap(&self) -> usize {
        match self {
            Cell::Text(t) => t.len(),
            _ => 0,
        }
    }
}

/// A sort key resolved to the query's field list.
#[derive(Debug, Clone, Copy)]
pub(super) enum Key {
    /// Query field `i`, descending when set.
    Col(usize, bool),
    Rowid(bool),
}

/// Columns of one collection as of change seq `applied`, under schema epoch `epoch`.
pub(super) struct Entry {
    pub epoch: u64,
    pub applied: u64,
    ids: Vec<Box<str>>,
    alive: Vec<bool>,
    live: usize,
    rows: HashMap<Box<str>, u32>,
    pub fields: Vec<String>,
    columns: Vec<Vec<Cell>>,
    /// Insertion ranks (`u64::MAX` when unknown, like the row path), kept only when a sort
    /// used `@rowid`.
    rowids: Option<Vec<u64>>,
    /// Bytes held by ids and text cells.
    heap: usize,
}

/// How catching up with the change log went.
pub(super) enum CatchUp {
    Done,
    /// The log no longer holds what the entry needs, or replaying would cost more than a scan.
    Rebuild,
}

impl Entry {
    /// Scans `collection` once, caching `fields` (and rowids when asked). The entry reflects
    /// every change up to the head read before the scan; later ones it may already contain are
    /// replayed idempotently by [`Entry::catch_up`] (events carry whole records).
    pub fn build(
        store: &dyn Store,
        collection: &CollectionId,
        epoch: u64,
        fields: Vec<String>,
        with_rowids: bool,
        expected_rows: usize,
    ) -> Result<Entry, EvalError> {
        let applied = store.head().0;
        let cap = expected_rows.saturating_add(64);
        let mut e = Entry {
            epoch,
            applied,
            ids: Vec::with_capacity(cap),
            alive: Vec::with_capacity(cap),
            live: 0,
            rows: HashMap::with_capacity(cap),
            columns: fields.iter().map(|_| Vec::with_capacity(cap)).collect(),
            fields,
            rowids: with_rowids.then(|| Vec::with_capacity(cap)),
            heap: 0,
        };
        for rec in store.scan_records(collection) {
            crate::work::check()?;
            let rec = rec?.record;
            let rowid = match e.rowids {
                Some(_) => store.rowid(collection, rec.id())?.unwrap_or(u64::MAX),
                None => 0,
            };
            e.upsert(rec.id().as_str(), rec.fields(), rowid, true);
        }
        Ok(e)
    }

    pub fn has(&self, fields: &[String], rowids: bool) -> bool {
        (!rowids || self.rowids.is_some()) && fields.iter().all(|f| self.fields.contains(f))
    }

    pub fn has_rowids(&self) -> bool {
        self.rowids.is_some()
    }

    pub fn live(&self) -> usize {
        self.live
    }

    /// Approximate memory held, in bytes.
    pub fn bytes(&self) -> usize {
        let rows = self.ids.len();
        let per_row = std::mem::size_of::<Box<str>>() * 2
            + 8
            + 1
            + self.rowids.as_ref().map_or(0, |_| 8)
            + std::mem::size_of::<Cell>() * self.columns.len();
        rows * per_row + self.heap * 2
    }

    /// Sets (or adds) the row of `id` from `data`; a `fresh` row gets `rowid`.
    fn upsert(&mut self, id: &str, data: &RecordData, rowid: u64, fresh: bool) {
        let row = match self.rows.get(id) {
            Some(r) => *r as usize,
            None => {
                let r = self.ids.len();
                self.ids.push(id.into());
                self.alive.push(true);
                self.live += 1;
                self.rows.insert(id.into(), r as u32);
                self.heap += id.len();
                for col in &mut self.columns {
                    col.push(Cell::Null);
                }
                if let Some(ids) = &mut self.rowids {
                    ids.push(u64::MAX);
                }
                r
            }
        };
        for (field, col) in self.fields.iter().zip(self.columns.iter_mut()) {
            let cell = Cell::of(data.get(field.as_str()));
            if let Some(slot) = col.get_mut(row) {
                self.heap = self.heap.saturating_sub(slot.heap()) + cell.heap();
                *slot = cell;
            }
        }
        if fresh {
            if let Some(slot) = self.rowids.as_mut().and_then(|r| r.get_mut(row)) {
                *slot = rowid;
            }
        }
    }

    fn remove(&mut self, id: &str) {
        let Some(row) = self.rows.remove(id) else {
            return;
        };
        let row = row as usize;
        if let Some(a) = self.alive.get_mut(row) {
            *a = false;
        }
        self.live = self.live.saturating_sub(1);
        for col in &mut self.columns {
            if let Some(slot) = col.get_mut(row) {
                self.heap = self.heap.saturating_sub(slot.heap());
                *slot = Cell::Null;
            }
        }
        let dead = self.ids.len() - self.live;
        if dead > self.live && dead > MIN_COMPACT {
            self.compact();
        }
    }

    /// Drops dead rows.
    fn compact(&mut self) {
        let keep: Vec<usize> = (0..self.ids.len())
            .filter(|&r| self.alive.get(r).copied().unwrap_or(false))
            .collect();
        let pick = |v: &mut Vec<Cell>| {
            let old = std::mem::take(v);
            let mut old: Vec<Option<Cell>> = old.into_iter().map(Some).collect();
            *v = keep
                .iter()
                .map(|&r| old.get_mut(r).and_then(Option::take).unwrap_or(Cell::Null))
                .collect();
        };
        for col in &mut self.columns {
            pick(col);
        }
        if let Some(rowids) = &mut self.rowids {
            *rowids = keep
                .iter()
                .map(|&r| rowids.get(r).copied().unwrap_or(u64::MAX))
                .collect();
        }
        let mut ids: Vec<Option<Box<str>>> = std::mem::take(&mut self.ids)
            .into_iter()
            .map(Some)
            .collect();
        self.ids = keep
            .iter()
            .map(|&r| ids.get_mut(r).and_then(Option::take).unwrap_or_default())
            .collect();
        self.alive = vec![true; self.ids.len()];
        self.rows = self
            .ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i as u32))
            .collect();
    }

    fn apply(
        &mut self,
        store: &dyn Store,
        collection: &CollectionId,
        ev: &ChangeEvent,
    ) -> Result<(), StoreError> {
        let id = ev.record.0.as_str();
        match (&ev.action, &ev.after) {
            (Action::Delete, _) | (_, None) => self.remove(id),
            (Action::Create, Some(data)) => {
                // A create's rowid is its own seq (see the writer).
                self.upsert(id, data, ev.seq.0, true);
            }
            (Action::Update, Some(data)) => {
                if self.rows.contains_key(id) || self.rowids.is_none() {
                    self.upsert(id, data, 0, false);
                } else {
                    let rowid = store.rowid(collection, &ev.record)?.unwrap_or(u64::MAX);
                    self.upsert(id, data, rowid, true);
                }
            }
        }
        Ok(())
    }

    /// Replays change events after `applied` until at least `head` (read before the request
    /// looked at the entry, so every write acknowledged before the request is included).
    pub fn catch_up(
        &mut self,
        store: &dyn Store,
        collection: &CollectionId,
        head: u64,
    ) -> Result<CatchUp, StoreError> {
        if head > self.applied && head - self.applied > (self.live as u64).max(MIN_REPLAY_LAG) {
            return Ok(CatchUp::Rebuild);
        }
        loop {
            let batch = store.changes_since(Seq(self.applied), CATCH_UP_BATCH)?;
            if batch.is_empty() {
                // Events up to `head` are in the log unless it was trimmed past them.
                return Ok(if self.applied >= head {
                    CatchUp::Done
                } else {
                    CatchUp::Rebuild
                });
            }
            let full = batch.len() == CATCH_UP_BATCH;
            for ev in &batch {
                if ev.seq.0 != self.applied + 1 {
                    return Ok(CatchUp::Rebuild);
                }
                if ev.collection == *collection {
                    self.apply(store, collection, ev)?;
                }
                self.applied = ev.seq.0;
            }
            if !full || self.applied >= head {
                return Ok(if self.applied >= head {
                    CatchUp::Done
                } else {
                    CatchUp::Rebuild
                });
            }
        }
    }

    /// The matching rows' count and the ids of rows `offset..offset+per_page` in `order`
    /// (ties by id, descending when `tie_desc`): `sort_records`' order in `records::list`.
    pub fn page(
        &self,
        pred: &Pred<'_>,
        query_fields: &[String],
        order: &[Key],
        tie_desc: bool,
        offset: usize,
        per_page: usize,
    ) -> Result<(Vec<RecordId>, usize), Interrupted> {
        let empty: &[Cell] = &[];
        let cols: Vec<&[Cell]> = query_fields
            .iter()
            .map(|f| {
                self.fields
                    .iter()
                    .position(|x| x == f)
                    .and_then(|i| self.columns.get(i))
                    .map_or(empty, Vec::as_slice)
            })
            .collect();
        let mut hits: Vec<u32> = Vec::new();
        for r in 0..self.ids.len() {
            crate::work::check()?;
            if self.alive.get(r).copied().unwrap_or(false) && pred.eval(&cols, r) {
                hits.push(r as u32);
            }
        }
        let total = hits.len();
        let null = Cell::Null;
        let cell = |q: usize, r: u32| cols.get(q).and_then(|c| c.get(r as usize)).unwrap_or(&null);
        let rowid = |r: u32| {
            self.rowids
                .as_ref()
                .and_then(|v| v.get(r as usize))
                .copied()
                .unwrap_or(u64::MAX)
        };
        let id = |r: u32| self.ids.get(r as usize).map_or("", |s| s);
        let cmp = |a: &u32, b: &u32| {
            for key in order {
                let (ord, desc) = match *key {
                    Key::Col(q, desc) => (total_cmp(&cell(q, *a).val(), &cell(q, *b).val()), desc),
                    Key::Rowid(desc) => (rowid(*a).cmp(&rowid(*b)), desc),
                };
                if ord != Ordering::Equal {
                    return if desc { ord.reverse() } else { ord };
                }
            }
            let tie = id(*a).cmp(id(*b));
            if tie_desc {
                tie.reverse()
            } else {
                tie
            }
        };
        let keep = offset.saturating_add(per_page);
        if keep > 0 && hits.len() > keep {
            hits.select_nth_unstable_by(keep - 1, cmp);
            hits.truncate(keep);
        }
        hits.sort_by(cmp);
        let ids = hits
            .iter()
            .skip(offset)
            .take(per_page)
            .map(|&r| RecordId::from(id(r)))
            .collect();
        Ok((ids, total))
    }
}
