//! The request log behind `GET /api/logs`, `/api/logs/{id}` and `/api/logs/stats` (superusers).
//!
//! Every request becomes one entry (`id`, `created`, `level`, `message` = `"GET /api/…"`,
//! `data` = method, url, status, execTime, remoteIP, userIP, referer, userAgent, auth, authId,
//! error). The request path only builds the entry and `try_send`s it into a bounded channel; a
//! full channel drops the entry and counts it ([`RequestLog::dropped`]), so logging never
//! blocks or slows a request. One task drains the channel in batches (up to `[request_logs]
//! batch` entries or `flush_ms` after the first), serializes them and appends each batch on a
//! blocking thread to the log's own storage ([`segments`]: JSON-lines files per hour under
//! `<data dir>/logs/`, nothing shared with the data store).
//!
//! Entry ids are 16 hex digits of `ms << 12 | seq`: they sort by time and name their hour's
//! segment, so listing newest first scans segments newest first, get by id reads one segment,
//! and retention (`logs.maxDays`, trimmed every `trim_secs`) deletes whole segments. The settings `logs.*` (`minLevel`, `logIP`, `logAuthId`, `maxDays` = 0 turns
//! logging off) are read per entry, so a PATCH applies to the next request.

use crate::auth::Caller;
use crate::config::RequestLogsConfig;
use crate::error::{ApiError, ApiResult};
use crate::ids::RecordData;
use crate::query::{virtual_collection, EvalEnv, RequestInfo, RowQuery, RuleCache};
use crate::records::{Page, PageParams};
use crate::schema::{format_datetime, Field, FieldKind, Registry, TextOptions};
use crate::settings::SettingsService;
use crate::store::Store;
use segments::Segments;
pub mod segments;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// The request log's directory inside the data dir.
pub const DIR: &str = "logs";

/// PocketBase's (slog's) levels.
pub const LEVEL_INFO: i64 = 0;
pub const LEVEL_WARN: i64 = 4;
pub const LEVEL_ERROR: i64 = 8;

/// Most entries one list or stats request examines.
const MAX_SCANNED: usize = 500_000;
/// Longest url, referer, user agent or error kept in an entry (bytes, cut at a char boundary).
const MAX_TEXT: usize = 2048;

/// What the HTTP layer knows about one finished request.
#[derive(Debug, Clone)]
pub struct Request {
    pub created: DateTime<Utc>,
    pub method: String,
    /// Path and query.
    pub url: String,
    pub status: u16,
    /// Milliseconds from the request's arrival to its response head.
    pub exec_ms: f64,
    pub remote_ip: String,
    /// The client IP after the trusted proxy headers (`trustedProxy`).
    pub user_ip: String,
    pub referer: String,
    pub user_agent: String,
    /// The caller, when the request carried a valid token.
    pub caller: Caller,
    /// The error the response reports, if any.
    pub error: Option<String>,
}

/// The level of a response: error for 5xx, warn for other failures, else info.
pub fn level_of(status: u16) -> i64 {
    match status {
        500.. => LEVEL_ERROR,
        400..=499 => LEVEL_WARN,
        _ => LEVEL_INFO,
    }
}

/// `logs.maxDays` = 0 turns logging off; below `logs.minLevel` is not logged.
fn wanted(logs: &crate::settings::Logs, level: i64) -> bool {
    logs.max_days > 0 && level >= logs.min_level
}

/// `s` cut to at most [`MAX_TEXT`] bytes at a char boundary.
fn cut(s: &str) -> &str {
    if s.len() <= MAX_TEXT {
        return s;
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The smallest entry id created at `ms` (ids are `ms << 12 | seq`, 16 hex digits).
#[cfg(test)]
fn id_at(ms: u64) -> String {
    format!("{:016x}", ms << 12)
}

/// An entry on its way to the writer: the request plus what the settings said when it ended.
struct Pending {
    id: String,
    level: i64,
    log_ip: bool,
    log_auth_id: bool,
    request: Request,
}

/// A stored entry, PocketBase's shape (serialized straight to bytes by the writer).
#[derive(serde::Serialize)]
struct Entry<'a> {
    id: &'a str,
    created: String,
    level: i64,
    message: String,
    data: EntryData<'a>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct EntryData<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    method: &'a str,
    url: &'a str,
    status: u16,
    exec_time: f64,
    #[serde(rename = "remoteIP")]
    remote_ip: &'a str,
    #[serde(rename = "userIP")]
    user_ip: &'a str,
    referer: &'a str,
    user_agent: &'a str,
    auth: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

impl Pending {
    /// The stored entry's JSON bytes.
    fn to_bytes(&self) -> Vec<u8> {
        let r = &self.request;
        let (remote_ip, user_ip) = if self.log_ip {
            (r.remote_ip.as_str(), r.user_ip.as_str())
        } else {
            ("", "")
        };
        let auth = r.caller.auth();
        let url = cut(&r.url);
        let entry = Entry {
            id: &self.id,
            created: format_datetime(r.created),
            level: self.level,
            message: format!("{} {url}", r.method),
            data: EntryData {
                kind: "request",
                method: &r.method,
                url,
                status: r.status,
                exec_time: r.exec_ms,
                remote_ip,
                user_ip,
                referer: cut(&r.referer),
                user_agent: cut(&r.user_agent),
                auth: auth.map_or("", |a| a.collection.name.as_str()),
                auth_id: auth
                    .filter(|_| self.log_auth_id)
                    .map(|a| a.id().to_string()),
                error: r.error.as_deref().map(cut),
            },
        };
        serde_json::to_vec(&entry).unwrap_or_default()
    }
}

pub struct RequestLog {
    store: Arc<dyn Store>,
    segments: Arc<Segments>,
    schema: Arc<Registry>,
    settings: Arc<SettingsService>,
    tx: Mutex<Option<mpsc::Sender<Pending>>>,
    worker: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    seq: AtomicU64,
    dropped: AtomicU64,
    written: Arc<AtomicU64>,
}

impl RequestLog {
    /// Opens the segments in `dir` (`<data dir>/logs`) and starts the writer task (needs a
    /// tokio runtime).
    pub fn start(
        dir: PathBuf,
        store: Arc<dyn Store>,
        schema: Arc<Registry>,
        settings: Arc<SettingsService>,
        cfg: &RequestLogsConfig,
    ) -> std::io::Result<Arc<Self>> {
        let segments = Arc::new(Segments::open(dir)?);
        let (tx, rx) = mpsc::channel(cfg.queue.max(1));
        let written = Arc::new(AtomicU64::new(0));
        let worker = tokio::spawn(write_loop(
            segments.clone(),
            rx,
            cfg.batch.max(1),
            Duration::from_millis(cfg.flush_ms),
            written.clone(),
        ));
        Ok(Arc::new(Self {
            store,
            segments,
            schema,
            settings,
            tx: Mutex::new(Some(tx)),
            worker: tokio::sync::Mutex::new(Some(worker)),
            seq: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            written,
        }))
    }

    /// Entries dropped because the writer was behind (since start).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Entries written (since start).
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Queues `r` as an entry, as the settings say (never waits; a full queue drops it). Only
    /// the settings check and the id are computed here; the writer builds the JSON.
    pub fn record(&self, r: Request) {
        let settings = self.settings.current();
        let logs = &settings.logs;
        let level = level_of(r.status);
        if !wanted(logs, level) {
            return;
        }
        let ms = u64::try_from(r.created.timestamp_millis()).unwrap_or(0);
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) & 0xfff;
        let pending = Pending {
            id: format!("{:016x}", (ms << 12) | seq),
            level,
            log_ip: logs.log_ip,
            log_auth_id: logs.log_auth_id,
            request: r,
        };
        let sent = match self.tx.lock() {
            Ok(tx) => tx.as_ref().is_some_and(|tx| tx.try_send(pending).is_ok()),
            Err(_) => false,
        };
        if !sent {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether a response with `status` would be logged now (callers skip work otherwise).
    /// Whether a request of any status could be logged (false when logging is off).
    pub fn wants_any(&self) -> bool {
        wanted(&self.settings.current().logs, level_of(599))
    }

    pub fn wants(&self, status: u16) -> bool {
        wanted(&self.settings.current().logs, level_of(status))
    }

    /// Stops accepting entries and waits until the queued ones are written (before the store
    /// shuts down).
    pub async fn shutdown(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Some(worker) = self.worker.lock().await.take() {
            let _ = worker.await;
        }
        if let Err(e) = self.segments.close() {
            tracing::warn!(error = %e, "cannot flush the request log");
        }
    }

    /// Deletes the segments (hours) whose entries are all older than `logs.maxDays` (every
    /// segment at 0); returns how many went.
    pub async fn trim(&self) -> u64 {
        let days = self.settings.current().logs.max_days.max(0);
        let cutoff = if days == 0 {
            u64::MAX
        } else {
            let keep_ms = u64::try_from(days).unwrap_or(0).saturating_mul(86_400_000);
            let now = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
            now.saturating_sub(keep_ms)
        };
        let segments = self.segments.clone();
        tokio::task::spawn_blocking(move || match segments.remove_before(cutoff) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "request log trim failed");
                0
            }
        })
        .await
        .unwrap_or(0)
    }

    /// `GET /api/logs/{id}`.
    pub async fn view(&self, caller: &Caller, id: &str) -> ApiResult<Value> {
        caller.require_superuser()?;
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::not_found());
        }
        let segments = self.segments.clone();
        let id = id.to_string();
        let line = run(move || segments.get(&id).map_err(ApiError::internal))
            .await?
            .ok_or_else(ApiError::not_found)?;
        // A line that does not parse is a corrupt entry: as good as gone.
        serde_json::from_slice(&line).map_err(|_| ApiError::not_found())
    }

    /// `GET /api/logs`: PocketBase's list parameters; `filter`/`sort` over `id`, `created`,
    /// `level`, `message` and `data.*`; newest first without a sort.
    pub async fn list(&self, caller: &Caller, q: &PageParams) -> ApiResult<Page<Value>> {
        caller.require_superuser()?;
        let (page, per_page, skip_total) = q.resolve()?;
        let query = self.compile(q.filter(), q.sort.as_deref())?;
        let store = self.store.clone();
        let segments = self.segments.clone();
        let schema = self.schema.clone();
        run(move || {
            let snap = schema.snapshot();
            let rules = RuleCache::default();
            let env = env(store.as_ref(), &snap, &rules);
            let skip = (page - 1).saturating_mul(per_page);
            let mut matched = Vec::new();
            let mut count = 0usize;
            let sorted = query.has_sort();
            scan(&segments, |row| {
                if !query.matches(&row, &env)? {
                    return Ok(true);
                }
                if sorted || (count >= skip && count < skip + per_page) {
                    matched.push(row);
                }
                count += 1;
                // Without a sort or a total, stop once the page is full.
                Ok(sorted || !skip_total || count < skip + per_page)
            })?;
            let items: Vec<RecordData> = if sorted {
                query
                    .select(matched, &env)?
                    .into_iter()
                    .skip(skip)
                    .take(per_page)
                    .collect()
            } else {
                matched
            };
            let items = items.into_iter().map(Value::Object).collect();
            Ok(Page::new(
                items,
                page,
                per_page,
                (!skip_total).then_some(count),
            ))
        })
        .await
    }

    /// `GET /api/logs/stats`: `[{total, date}]` per hour (`date` = the hour's start), oldest
    /// first, over the entries matching `filter`.
    pub async fn stats(&self, caller: &Caller, filter: Option<&str>) -> ApiResult<Value> {
        caller.require_superuser()?;
        let query = self.compile(filter, None)?;
        let store = self.store.clone();
        let segments = self.segments.clone();
        let schema = self.schema.clone();
        run(move || {
            let snap = schema.snapshot();
            let rules = RuleCache::default();
            let env = env(store.as_ref(), &snap, &rules);
            let mut hours: BTreeMap<String, u64> = BTreeMap::new();
            scan(&segments, |row| {
                if query.matches(&row, &env)? {
                    let created = row.get("created").and_then(Value::as_str).unwrap_or("");
                    if let Some(hour) = created.get(..13) {
                        *hours.entry(format!("{hour}:00:00.000Z")).or_default() += 1;
                    }
                }
                Ok(true)
            })?;
            Ok(Value::Array(
                hours
                    .into_iter()
                    .map(|(date, total)| json!({"total": total, "date": date}))
                    .collect(),
            ))
        })
        .await
    }

    fn compile(&self, filter: Option<&str>, sort: Option<&str>) -> ApiResult<RowQuery> {
        let snap = self.schema.snapshot();
        RowQuery::compile(&log_fields(), &snap, filter, sort)
    }
}

/// The fields a logs filter or sort may name (PocketBase: `id`, `created`, `level`, `message`,
/// `data.*`).
fn log_fields() -> Arc<crate::schema::Collection> {
    let text = |n: &str| Field::new(n, FieldKind::Text(TextOptions::default()));
    virtual_collection(
        "_logs",
        vec![
            text("id"),
            text("created"),
            Field::new(
                "level",
                FieldKind::Number {
                    min: None,
                    max: None,
                    only_int: true,
                },
            ),
            text("message"),
            Field::new("data", FieldKind::Json { max_size: 0 }),
        ],
    )
}

fn env<'a>(
    store: &'a dyn Store,
    snap: &'a crate::schema::Snapshot,
    rules: &'a RuleCache,
) -> EvalEnv<'a> {
    EvalEnv::new(store, snap, rules, RequestInfo::default(), Utc::now())
}

/// Calls `visit` with entries newest first until it returns `Ok(false)`, the log ends or
/// [`MAX_SCANNED`] entries were seen (corrupt lines are skipped, see [`segments`]).
fn scan(
    segments: &Segments,
    mut visit: impl FnMut(RecordData) -> ApiResult<bool>,
) -> ApiResult<()> {
    let mut scanned = 0usize;
    let mut unparsed = 0u64;
    segments.scan(
        |line: &[u8]| {
            scanned += 1;
            match serde_json::from_slice::<Value>(line) {
                Ok(Value::Object(row)) => {
                    if !visit(row)? {
                        return Ok(false);
                    }
                }
                _ => unparsed += 1,
            }
            Ok(scanned < MAX_SCANNED)
        },
        ApiError::internal,
    )?;
    if unparsed > 0 {
        tracing::warn!(
            lines = unparsed,
            "skipped request log lines that are not JSON"
        );
    }
    Ok(())
}

async fn run<T: Send + 'static>(
    job: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(job)
        .await
        .map_err(ApiError::internal)?
}

async fn write_loop(
    segments: Arc<Segments>,
    mut rx: mpsc::Receiver<Pending>,
    batch: usize,
    wait: Duration,
    written: Arc<AtomicU64>,
) {
    while let Some(first) = rx.recv().await {
        let mut entries = vec![first];
        let deadline = tokio::time::Instant::now() + wait;
        while entries.len() < batch {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(e)) => entries.push(e),
                Ok(None) | Err(_) => break,
            }
        }
        let n = entries.len() as u64;
        let segments = segments.clone();
        let wrote = tokio::task::spawn_blocking(move || {
            let rows: Vec<(String, Vec<u8>)> = entries
                .into_iter()
                .map(|p| {
                    let bytes = p.to_bytes();
                    (p.id, bytes)
                })
                .collect();
            segments.append(rows.iter().map(|(id, b)| (id.as_str(), b.as_slice())))
        })
        .await;
        match wrote {
            Ok(Ok(())) => {
                written.fetch_add(n, Ordering::Relaxed);
            }
            Ok(Err(e)) => tracing::warn!(error = %e, entries = n, "cannot write request logs"),
            Err(e) => tracing::warn!(error = %e, entries = n, "request log writer failed"),
        }
    }
}

/// The instant of an entry id (for tests and tools).
pub fn created_of(id: &str) -> Option<DateTime<Utc>> {
    let n = u64::from_str_radix(id, 16).ok()?;
    Utc.timestamp_millis_opt(i64::try_from(n >> 12).ok()?)
        .single()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::store::{SledStore, StoreOptions};

    async fn started(
        dir: &std::path::Path,
        cfg: &RequestLogsConfig,
    ) -> (Arc<dyn Store>, Arc<RequestLog>) {
        let store: Arc<dyn Store> =
            SledStore::open(&dir.join("db"), StoreOptions::default()).unwrap();
        let schema = Arc::new(
            Registry::load(store.as_ref(), crate::query::invalid_rules)
                .await
                .unwrap(),
        );
        let settings = Arc::new(SettingsService::open(store.clone(), &Config::default()));
        let log = RequestLog::start(dir.join(DIR), store.clone(), schema, settings, cfg).unwrap();
        (store, log)
    }

    fn ids(log: &RequestLog) -> Vec<String> {
        let mut out = Vec::new();
        scan(&log.segments, |row| {
            out.push(row["id"].as_str().unwrap_or("").to_string());
            Ok(true)
        })
        .unwrap();
        out
    }

    #[tokio::test]
    async fn trim_deletes_the_segments_older_than_max_days_only() {
        let dir = tempfile::tempdir().unwrap();
        let (store, log) = started(dir.path(), &RequestLogsConfig::default()).await;
        let now = u64::try_from(Utc::now().timestamp_millis()).unwrap();
        let day = 86_400_000;
        let old = id_at(now - 6 * day);
        let recent = id_at(now - day);
        let line = |id: &str| format!("{{\"id\":\"{id}\"}}").into_bytes();
        let (a, b) = (line(&old), line(&recent));
        log.segments
            .append([
                (old.as_str(), a.as_slice()),
                (recent.as_str(), b.as_slice()),
            ])
            .unwrap();
        // maxDays is 5 by default: the 6-day-old segment goes, the 1-day-old one stays.
        assert_eq!(log.trim().await, 1);
        assert_eq!(ids(&log), [recent]);
        log.shutdown().await;
        store.shutdown().await;
    }

    #[tokio::test]
    async fn entries_recorded_before_a_clean_stop_are_read_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = RequestLogsConfig {
            flush_ms: 10_000,
            ..RequestLogsConfig::default()
        };
        let (store, log) = started(dir.path(), &cfg).await;
        for i in 0..3 {
            log.record(Request {
                created: Utc::now(),
                method: "GET".into(),
                url: format!("/x?{i}"),
                status: 200,
                exec_ms: 1.0,
                remote_ip: "127.0.0.1".into(),
                user_ip: "127.0.0.1".into(),
                referer: String::new(),
                user_agent: String::new(),
                caller: Caller::Guest,
                error: None,
            });
        }
        // The batch window is long: shutdown writes the queued entries.
        log.shutdown().await;
        assert_eq!(log.written(), 3);
        store.shutdown().await;
        drop((store, log));
        let (store, log) = started(dir.path(), &cfg).await;
        let urls: Vec<String> = {
            let mut out = Vec::new();
            scan(&log.segments, |row| {
                out.push(row["data"]["url"].as_str().unwrap_or("").to_string());
                Ok(true)
            })
            .unwrap();
            out
        };
        assert_eq!(urls, ["/x?2", "/x?1", "/x?0"]);
        let first = ids(&log).pop().unwrap();
        assert_eq!(
            log.segments
                .get(&first)
                .unwrap()
                .map(|l| l.starts_with(b"{\"id\":")),
            Some(true)
        );
        log.shutdown().await;
        store.shutdown().await;
    }

    #[test]
    fn ids_sort_by_time_and_levels_follow_status() {
        let a = id_at(1_700_000_000_000);
        let b = format!("{:016x}", (1_700_000_000_001u64 << 12) | 5);
        assert!(a < b);
        assert_eq!(a.len(), 16);
        assert_eq!(
            created_of(&b).map(|t| t.timestamp_millis()),
            Some(1_700_000_000_001)
        );
        assert_eq!(level_of(200), LEVEL_INFO);
        assert_eq!(level_of(304), LEVEL_INFO);
        assert_eq!(level_of(404), LEVEL_WARN);
        assert_eq!(level_of(503), LEVEL_ERROR);
        let long = "é".repeat(MAX_TEXT);
        assert!(cut(&long).len() <= MAX_TEXT);
    }
}
