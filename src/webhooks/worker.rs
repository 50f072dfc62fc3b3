//! One dispatcher task per enabled webhook (transactional outbox): it reads the change log from
//! the webhook's persisted cursor, sends each selected event (at most `max_concurrency_per_endpoint`
//! at once), and commits the page's delivery records together with the advanced cursor. An event
//! is therefore delivered at least once iff its write committed: a crash before that commit
//! resends the page (same `webhook-id`s), never skips it. Failed deliveries wait in the durable
//! retry queue; a webhook whose endpoint keeps failing records new events straight into the
//! queue (breaker) and, past `max_pending`, stops reading (the change log keeps the events,
//! since trimming never passes a cursor) and reports itself backlogged.

use super::delivery::{self, Attempt, Delivery, Status};
use super::model::Webhook;
use super::{payload, send};
use crate::config::WebhooksConfig;
use crate::ids::Seq;
use crate::records::RecordService;
use crate::schema::now_string;
use crate::store::{cursor_op, ChangeEvent, Store, StoreError, WriteOp};
use rand::Rng;
use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch, Notify, Semaphore};
use tokio::task::JoinSet;

/// Change-log entries read per page.
const PAGE: usize = 256;
/// How long a page waits for more events once the first one arrived: one commit (delivery
/// records + cursor) then carries many events instead of one each.
const LINGER: Duration = Duration::from_millis(10);
/// Longest time the cursor stays unpersisted while pages select nothing (a crash re-judges at
/// most that much; nothing matched, so nothing is re-sent).
const CURSOR_EVERY: Duration = Duration::from_secs(1);

/// What every worker shares.
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub records: Arc<RecordService>,
    pub client: reqwest::Client,
    pub config: WebhooksConfig,
    pub delays: Vec<Duration>,
}

impl Shared {
    /// One signed attempt of `body` as event `event_id` to `hook`.
    pub async fn send(&self, hook: &Webhook, event_id: &str, body: &str) -> Attempt {
        send::attempt(
            &self.client,
            hook,
            event_id,
            body,
            self.config.allow_private_targets,
        )
        .await
    }

    pub fn next_attempt(&self, failed: usize, now: i64) -> Option<i64> {
        next_attempt(&self.delays, failed, now)
    }

    pub fn record_attempt(&self, d: &mut Delivery, a: Attempt, now: i64) {
        record_attempt(&self.delays, d, a, now);
    }
}

/// When attempt number `failed` (1-based) failed at `now`: the next attempt's time, or `None`
/// when the schedule is exhausted. ±20 % jitter, so failed bursts do not retry in lockstep.
pub fn next_attempt(delays: &[Duration], failed: usize, now: i64) -> Option<i64> {
    let base = delays.get(failed.checked_sub(1)?)?;
    let factor = rand::thread_rng().gen_range(0.8..=1.2);
    Some(now + (base.as_secs_f64() * factor * 1000.0) as i64)
}

/// Applies an attempt to a delivery: its status and next attempt follow.
pub fn record_attempt(delays: &[Duration], d: &mut Delivery, a: Attempt, now: i64) {
    let ok = a.ok();
    d.attempts.push(a);
    d.updated = now_string();
    if ok {
        d.status = Status::Delivered;
        d.next_attempt_at = None;
    } else {
        d.next_attempt_at = next_attempt(delays, d.attempts.len(), now);
        d.status = if d.next_attempt_at.is_some() {
            Status::Retrying
        } else {
            Status::Failed
        };
    }
}

/// A running webhook's state, read by the API.
#[derive(Default)]
pub struct Health {
    pub cursor: AtomicU64,
    /// Deliveries waiting for a retry (queued or in flight).
    pub pending: AtomicUsize,
    /// Consecutive failed attempts (the breaker opens at `breaker_after`).
    pub failures: AtomicU32,
    pub backlogged: AtomicBool,
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub last_error: Mutex<Option<String>>,
    /// Wakes the worker early (redeliveries, tests).
    pub wake: Notify,
}

impl Health {
    fn note(&self, a: &Attempt) {
        if a.ok() {
            self.failures.store(0, Ordering::Relaxed);
        } else {
            self.failures.fetch_add(1, Ordering::Relaxed);
            let why = a
                .error
                .clone()
                .or_else(|| a.status_code.map(|c| format!("HTTP {c}")));
            if let Ok(mut g) = self.last_error.lock() {
                *g = why;
            }
        }
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs `hook` until `stop` turns true or the store closes.
pub async fn run(
    shared: Arc<Shared>,
    hook: Arc<Webhook>,
    health: Arc<Health>,
    mut stop: watch::Receiver<bool>,
) {
    let mut events = shared.store.subscribe();
    // Committed events as the store broadcasts them (already decoded, shared by every
    // consumer); the change log is read only when this buffer has a gap (lag, restart, backlog).
    let mut buffered: VecDeque<Arc<ChangeEvent>> = VecDeque::new();
    let Ok(mut cursor) = load_cursor(&shared, &hook).await else {
        return;
    };
    health.cursor.store(cursor.0, Ordering::Relaxed);
    let mut queue = load_queue(&shared, &hook).await;
    let sem = Arc::new(Semaphore::new(
        shared.config.max_concurrency_per_endpoint.max(1),
    ));
    let mut retries: JoinSet<Option<(i64, String)>> = JoinSet::new();
    let mut persisted = (cursor, std::time::Instant::now());
    // The filter compiled per collection, kept across pages (rebuilt on schema changes).
    let filters = Arc::new(Mutex::new(payload::Filters::default()));
    // Read the change log (not just the broadcast) at start and after any gap or lag, until a
    // read comes back short.
    let mut from_log = true;
    loop {
        if *stop.borrow() {
            return;
        }
        while let Some(done) = retries.try_join_next() {
            if let Ok(Some(next)) = done {
                queue.insert(next);
            }
        }
        let now = now_ms();
        while retries.len() < shared.config.max_concurrency_per_endpoint.max(1) {
            let Some(first) = queue.first().cloned().filter(|(due, _)| *due <= now) else {
                break;
            };
            queue.remove(&first);
            retries.spawn(retry(
                shared.clone(),
                hook.clone(),
                health.clone(),
                sem.clone(),
                first.1,
            ));
        }
        health
            .pending
            .store(queue.len() + retries.len(), Ordering::Relaxed);
        let room = queue.len() + retries.len() < shared.config.max_pending;
        health.backlogged.store(!room, Ordering::Relaxed);
        if room {
            if !buffered.is_empty() && buffered.len() < PAGE {
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = tokio::time::sleep(LINGER) => {}
                }
            }
            match drain(&mut events, &mut buffered) {
                None => return,
                Some(lagged) => from_log |= lagged,
            }
            let fresh = if from_log {
                buffered.clear();
                Vec::new()
            } else {
                match contiguous(&mut buffered, cursor) {
                    Some(page) => page,
                    None => {
                        from_log = true;
                        Vec::new()
                    }
                }
            };
            let page = if fresh.is_empty() && !from_log {
                Ok(None)
            } else {
                let persist = persisted.1.elapsed() >= CURSOR_EVERY;
                let reading = from_log;
                tokio::select! {
                    _ = stop.changed() => return,
                    page = next_page(&shared, &hook, &health, &sem, &filters, cursor, fresh, persist) => {
                        if reading && matches!(&page, Ok(Some((last, ..))) if last.0 < cursor.0 + PAGE as u64) {
                            from_log = false; // caught up: the broadcast carries on
                        }
                        if reading && matches!(page, Ok(None)) {
                            from_log = false;
                        }
                        page
                    }
                }
            };
            match page {
                Ok(Some((last, waiting, committed))) => {
                    cursor = last;
                    if committed {
                        persisted = (cursor, std::time::Instant::now());
                    }
                    health.cursor.store(cursor.0, Ordering::Relaxed);
                    queue.extend(waiting);
                    continue;
                }
                Ok(None) => {}
                Err(StoreError::Closed) => return,
                Err(e) => {
                    tracing::warn!(webhook = %hook.id, error = %e, "webhook dispatch failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
        }
        if persisted.0 < cursor && persisted.1.elapsed() >= CURSOR_EVERY {
            // Persist what pages that selected nothing left in memory (at most once a second).
            let op = cursor_op(&delivery::consumer(&hook.id), cursor);
            match shared.store.commit(vec![op]).await {
                Ok(_) => persisted = (cursor, std::time::Instant::now()),
                Err(StoreError::Closed) => return,
                Err(_) => {}
            }
        }
        let next_due = queue.first().map(|(due, _)| *due);
        let mut sleep = next_due.map_or(Duration::from_secs(3600), |d| {
            Duration::from_millis(d.saturating_sub(now_ms()).max(0) as u64)
        });
        if persisted.0 < cursor {
            sleep = sleep.min(CURSOR_EVERY.saturating_sub(persisted.1.elapsed()));
        }
        tokio::select! {
            _ = stop.changed() => {}
            r = events.recv() => match r {
                Ok(ev) => buffered.push_back(ev),
                Err(broadcast::error::RecvError::Lagged(_)) => from_log = true,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            Some(done) = retries.join_next() => if let Ok(Some(next)) = done { queue.insert(next); },
            _ = tokio::time::sleep(sleep) => {}
            _ = health.wake.notified() => {}
        }
    }
}

/// Moves what the store broadcast meanwhile into `buf`: `Some(lagged)` (after a lag the log
/// must be read), `None` once the store is gone.
fn drain(
    events: &mut broadcast::Receiver<Arc<ChangeEvent>>,
    buf: &mut VecDeque<Arc<ChangeEvent>>,
) -> Option<bool> {
    let mut lagged = false;
    loop {
        match events.try_recv() {
            Ok(ev) => buf.push_back(ev),
            Err(broadcast::error::TryRecvError::Lagged(_)) => lagged = true,
            Err(broadcast::error::TryRecvError::Empty) => return Some(lagged),
            Err(broadcast::error::TryRecvError::Closed) => return None,
        }
    }
}

/// The next page after `cursor` from `buf` (possibly empty: nothing new), or `None` when `buf`
/// has a gap after `cursor` (then the log must be read; `buf` is emptied).
fn contiguous(buf: &mut VecDeque<Arc<ChangeEvent>>, cursor: Seq) -> Option<Vec<Arc<ChangeEvent>>> {
    while buf.front().is_some_and(|e| e.seq <= cursor) {
        buf.pop_front();
    }
    let n = buf.len().min(PAGE);
    if n == 0 {
        return Some(Vec::new());
    }
    let gapless = buf.front().is_some_and(|e| e.seq.0 == cursor.0 + 1)
        && buf
            .get(n - 1)
            .is_some_and(|e| e.seq.0 == cursor.0 + n as u64);
    if !gapless {
        buf.clear();
        return None;
    }
    Some(buf.drain(..n).collect())
}

async fn load_cursor(shared: &Shared, hook: &Webhook) -> Result<Seq, StoreError> {
    let key = format!(
        "{}{}",
        crate::store::META_CURSOR,
        delivery::consumer(&hook.id)
    );
    match shared.store.get_meta(&key)? {
        Some(v) if v.len() == 8 => Ok(Seq(u64::from_be_bytes(v.try_into().unwrap_or([0; 8])))),
        _ => {
            // A webhook starts at the present: the service writes its cursor with it; this is
            // the fallback for a definition written without one.
            let head = shared.store.head();
            shared
                .store
                .commit(vec![cursor_op(&delivery::consumer(&hook.id), head)])
                .await?;
            Ok(head)
        }
    }
}

async fn load_queue(shared: &Shared, hook: &Webhook) -> BTreeSet<(i64, String)> {
    let prefix = delivery::queue_prefix(&hook.id);
    let store = shared.store.clone();
    let scanned = tokio::task::spawn_blocking(move || store.scan_meta(&prefix)).await;
    let Ok(Ok(entries)) = scanned else {
        return BTreeSet::new();
    };
    entries
        .into_iter()
        .filter_map(|(k, v)| {
            let id = k.rsplit('/').next()?.to_string();
            let due = i64::try_from(u64::from_be_bytes(v.try_into().ok()?)).ok()?;
            Some((due, id))
        })
        .collect()
}

/// Reads, sends and commits one page after `cursor`: the last seq judged, deliveries waiting
/// for a retry, and whether the cursor was persisted (always when something was selected, else
/// only with `persist`). `Ok(None)`: nothing new.
#[allow(clippy::too_many_arguments)]
async fn next_page(
    shared: &Arc<Shared>,
    hook: &Arc<Webhook>,
    health: &Arc<Health>,
    sem: &Arc<Semaphore>,
    filters: &Arc<Mutex<payload::Filters>>,
    cursor: Seq,
    fresh: Vec<Arc<ChangeEvent>>,
    persist: bool,
) -> Result<Option<(Seq, Vec<(i64, String)>, bool)>, StoreError> {
    let (s, h, filters) = (shared.clone(), hook.clone(), filters.clone());
    type Judged = Option<(Seq, Vec<(u64, &'static str, String)>)>;
    let judged = tokio::task::spawn_blocking(move || -> Result<Judged, StoreError> {
        let page = if fresh.is_empty() {
            s.store
                .changes_since(cursor, PAGE)?
                .into_iter()
                .map(Arc::new)
                .collect()
        } else {
            fresh
        };
        let Some(last) = page.last().map(|e| e.seq) else {
            return Ok(None);
        };
        let mut filters = filters.lock().unwrap_or_else(|p| p.into_inner());
        let snap = s.records.schema.snapshot();
        let bodies: Vec<(u64, &'static str, String)> = page
            .iter()
            .filter_map(|ev| {
                payload::body_for(&s.records, &snap, &h, &mut filters, ev)
                    .map(|b| (ev.seq.0, payload::event_type(ev.action), b))
            })
            .collect();
        Ok(Some((last, bodies)))
    })
    .await
    .map_err(|e| StoreError::Io(e.to_string()))?;
    let Some((last, bodies)) = judged? else {
        return Ok(None);
    };
    if bodies.is_empty() && !persist {
        return Ok(Some((last, Vec::new(), false)));
    }
    let now = now_ms();
    let open = health.failures.load(Ordering::Relaxed) >= shared.config.breaker_after.max(1);
    let mut sends = JoinSet::new();
    let mut deliveries = Vec::with_capacity(bodies.len());
    for (i, (seq, kind, body)) in bodies.into_iter().enumerate() {
        let d = Delivery {
            id: delivery::new_id(now),
            webhook_id: hook.id.clone(),
            event_id: format!("msg_{}_{seq}", hook.id),
            seq: Some(seq),
            kind: kind.to_string(),
            status: Status::Pending,
            attempts: Vec::new(),
            next_attempt_at: None,
            created: now_string(),
            updated: now_string(),
            body,
        };
        if !open {
            let (s, h, sem) = (shared.clone(), hook.clone(), sem.clone());
            let (event_id, body) = (d.event_id.clone(), d.body.clone());
            sends.spawn(async move {
                let _permit = sem.acquire_owned().await;
                (i, s.send(&h, &event_id, &body).await)
            });
        }
        deliveries.push(d);
    }
    let mut attempts: Vec<Option<Attempt>> = vec![None; deliveries.len()];
    while let Some(done) = sends.join_next().await {
        if let Ok((i, a)) = done {
            health.note(&a);
            attempts[i] = Some(a);
        }
    }
    let mut ops = Vec::with_capacity(deliveries.len() * 2 + 1);
    let mut waiting = Vec::new();
    for (d, a) in deliveries.iter_mut().zip(attempts) {
        match a {
            Some(a) => shared.record_attempt(d, a, now_ms()),
            None => {
                // The breaker is open: wait for the first retry slot without trying now.
                d.status = Status::Retrying;
                d.next_attempt_at = Some(shared.next_attempt(1, now).unwrap_or(now));
            }
        }
        count(health, d.status);
        if let (Status::Retrying, Some(at)) = (d.status, d.next_attempt_at) {
            waiting.push((at, d.id.clone()));
        }
        ops.extend(
            d.ops()
                .into_iter()
                .filter(|op| !matches!(op, WriteOp::DeleteMeta { .. })),
        );
    }
    ops.push(cursor_op(&delivery::consumer(&hook.id), last));
    shared.store.commit(ops).await?;
    Ok(Some((last, waiting, true)))
}

fn count(health: &Health, status: Status) {
    match status {
        Status::Delivered => health.delivered.fetch_add(1, Ordering::Relaxed),
        Status::Failed => health.failed.fetch_add(1, Ordering::Relaxed),
        _ => 0,
    };
}

/// One retry of a queued delivery; the next due time if it must wait again.
async fn retry(
    shared: Arc<Shared>,
    hook: Arc<Webhook>,
    health: Arc<Health>,
    sem: Arc<Semaphore>,
    id: String,
) -> Option<(i64, String)> {
    let _permit = sem.acquire_owned().await;
    let key = delivery::delivery_key(&hook.id, &id);
    let mut d: Delivery = match shared.store.get_meta(&key) {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).ok()?,
        _ => None?,
    };
    if d.status != Status::Retrying {
        // Redelivered or settled meanwhile: drop the stale queue entry.
        let _ = shared
            .store
            .commit(vec![WriteOp::DeleteMeta {
                key: delivery::queue_key(&hook.id, &id),
            }])
            .await;
        return None;
    }
    let a = shared.send(&hook, &d.event_id, &d.body).await;
    health.note(&a);
    shared.record_attempt(&mut d, a, now_ms());
    count(&health, d.status);
    if let Err(e) = shared.store.commit(d.ops()).await {
        tracing::warn!(webhook = %hook.id, error = %e, "cannot record a webhook retry");
        // Try again later rather than lose track of it.
        return Some((now_ms() + 1000, id));
    }
    match (d.status, d.next_attempt_at) {
        (Status::Retrying, Some(at)) => Some((at, id)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(code: Option<u16>) -> Attempt {
        Attempt {
            at: String::new(),
            status_code: code,
            duration_ms: 1,
            response_excerpt: String::new(),
            error: code.is_none().then(|| "timeout".to_string()),
        }
    }

    fn delivery() -> Delivery {
        Delivery {
            id: "d".into(),
            webhook_id: "w".into(),
            event_id: "msg_w_1".into(),
            seq: Some(1),
            kind: "record.created".into(),
            status: Status::Pending,
            attempts: Vec::new(),
            next_attempt_at: None,
            created: String::new(),
            updated: String::new(),
            body: "{}".into(),
        }
    }

    #[test]
    fn retries_follow_the_schedule_with_jitter_then_fail() {
        let delays = [Duration::from_secs(5), Duration::from_secs(30)];
        for _ in 0..200 {
            let at = next_attempt(&delays, 1, 1_000_000).expect("first retry");
            assert!((1_004_000..=1_006_000).contains(&at), "{at}");
            let at = next_attempt(&delays, 2, 0).expect("second retry");
            assert!((24_000..=36_000).contains(&at), "{at}");
        }
        assert_eq!(next_attempt(&delays, 3, 0), None);
        assert_eq!(next_attempt(&delays, 0, 0), None);

        let mut d = delivery();
        record_attempt(&delays, &mut d, attempt(Some(500)), 0);
        assert_eq!(d.status, Status::Retrying);
        record_attempt(&delays, &mut d, attempt(None), 0);
        assert_eq!(d.status, Status::Retrying);
        record_attempt(&delays, &mut d, attempt(Some(404)), 0);
        assert_eq!((d.status, d.next_attempt_at), (Status::Failed, None));
        assert_eq!(d.attempts.len(), 3);
    }

    fn ev(seq: u64) -> Arc<ChangeEvent> {
        Arc::new(ChangeEvent {
            seq: Seq(seq),
            ts: 0,
            collection: crate::ids::CollectionId("c".into()),
            record: crate::ids::RecordId::from("r"),
            action: crate::store::Action::Create,
            before: None,
            after: None,
        })
    }

    #[test]
    fn broadcast_events_are_used_only_without_a_gap() {
        let mut buf: VecDeque<_> = (3..=6).map(ev).collect();
        let page = contiguous(&mut buf, Seq(4)).expect("no gap");
        assert_eq!(page.iter().map(|e| e.seq.0).collect::<Vec<_>>(), [5, 6]);
        assert!(buf.is_empty());
        let nothing = contiguous(&mut buf, Seq(6)).expect("nothing new is no gap");
        assert!(nothing.is_empty());
        let mut gap: VecDeque<_> = [ev(8), ev(9)].into_iter().collect();
        assert!(
            contiguous(&mut gap, Seq(6)).is_none(),
            "7 is missing: read the log"
        );
        assert!(gap.is_empty());
        let mut holey: VecDeque<_> = [ev(7), ev(9)].into_iter().collect();
        assert!(contiguous(&mut holey, Seq(6)).is_none());
        let mut long: VecDeque<_> = (1..=(PAGE as u64 + 5)).map(ev).collect();
        assert_eq!(contiguous(&mut long, Seq(0)).map(|p| p.len()), Some(PAGE));
        assert_eq!(long.len(), 5);
    }

    #[test]
    fn any_2xx_settles_a_delivery() {
        let mut d = delivery();
        record_attempt(&[Duration::from_secs(1)], &mut d, attempt(Some(500)), 0);
        record_attempt(&[Duration::from_secs(1)], &mut d, attempt(Some(204)), 0);
        assert_eq!((d.status, d.next_attempt_at), (Status::Delivered, None));
        let mut redirect = delivery();
        record_attempt(&[], &mut redirect, attempt(Some(301)), 0);
        assert_eq!(
            redirect.status,
            Status::Failed,
            "redirects are not followed nor success"
        );
    }
}
