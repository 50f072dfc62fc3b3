//! `App`: the shared state every request handler sees — config, store, collection registry.

use crate::accounts::AccountService;
use crate::auth::{LimitPolicy, LoginLimiter, RequestLimiter};
use crate::backups::Backups;
use crate::collections::CollectionService;
use crate::config::{Config, Durability};
use crate::conn::Live;
use crate::files::Files;
use crate::logs::RequestLog;
use crate::mail::Mailer;
use crate::plugins::Plugins;
use crate::query::{ColumnCache, ColumnLimits};
use crate::realtime::Realtime;
use crate::records::{RecordLimits, RecordService};
use crate::schema::Registry;
use crate::settings::SettingsService;
use crate::store::{SledStore, Store, StoreOptions};
use crate::webhooks::WebhookService;
use crate::work::Pool;
use std::sync::Arc;
use std::time::Duration;

pub struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub schema: Arc<Registry>,
    /// Superuser-only schema operations (see `collections::CollectionService`).
    pub collections: CollectionService,
    /// Request counts per rate limit rule and client IP (settings `rateLimits`).
    pub requests: RequestLimiter,
    /// Records: validation, access rules, writes and lists (see `records::RecordService`).
    pub records: Arc<RecordService>,
    /// Login, token refresh, account flows and their mail (see `accounts::AccountService`).
    pub accounts: Arc<AccountService>,
    /// Realtime subscriptions (WebSocket and SSE), fed by committed change events.
    pub realtime: Arc<Realtime>,
    /// Webhook definitions, their dispatchers and delivery logs (see `webhooks`).
    pub webhooks: Arc<WebhookService>,
    /// The bounded pool that runs requests' CPU work under their time budget.
    pub work: Pool,
    /// Open connections, so a request's work can stop when its client leaves.
    pub connections: Live,
    /// Settings saved through `/api/settings` over the config file's defaults.
    pub settings: Arc<SettingsService>,
    /// The request log (`/api/logs`), written off the request path.
    pub logs: Arc<RequestLog>,
    /// Backups and restores (`/api/backups`, the backup schedule).
    pub backups: Arc<Backups>,
    /// Loaded plugins (none unless `serve` was given a plugins dir; see `plugins::Plugins`).
    pub plugins: Arc<Plugins>,
}

/// The store's settings from `[store]`.
pub fn store_options(config: &Config) -> StoreOptions {
    StoreOptions {
        fsync: config.store.durability == Durability::Fsync,
        cache_capacity_bytes: config.store.cache_mb * 1024 * 1024,
        retain_entries: config.store.changelog_entries,
        retain_age: Duration::from_secs(config.store.changelog_hours * 3600),
        max_group: config.store.writer_max_group,
        queue: config.store.writer_queue,
        event_buffer: config.store.event_buffer,
        relaxed_flush: Duration::from_millis(config.store.relaxed_flush_ms),
    }
}

impl App {
    /// Opens the data dir and loads collections, without plugins (CLI commands).
    pub async fn open(config: Config) -> Result<Arc<Self>, String> {
        Self::open_with(config, Arc::new(Plugins::none())).await
    }

    /// Opens the data dir and loads collections; `plugins` are loaded but not started.
    pub async fn open_with(config: Config, plugins: Arc<Plugins>) -> Result<Arc<Self>, String> {
        std::fs::create_dir_all(&config.server.dir).map_err(|e| {
            format!(
                "cannot create data dir {}: {e}",
                config.server.dir.display()
            )
        })?;
        // A restore staged before the last restart is swapped in before the store opens.
        if crate::backups::finish_restore(&config.server.dir)? {
            tracing::info!(dir = %config.server.dir.display(), "restored a backup");
        }
        let store: Arc<dyn Store> = SledStore::open(&config.server.dir, store_options(&config))
            .map_err(|e| format!("cannot open store in {}: {e}", config.server.dir.display()))?;
        let schema = Arc::new(Registry::load(store.as_ref(), crate::query::invalid_rules).await?);
        let settings = Arc::new(SettingsService::open(store.clone(), &config));
        let s3 = storage_s3(&config, &settings);
        let files = Files::open(&config.server.dir, s3.as_ref()).map_err(|e| match &s3 {
            Some(o) => format!("cannot open S3 file storage (bucket {:?}): {e}", o.bucket),
            None => format!(
                "cannot open file storage in {}: {e}",
                config.server.dir.display()
            ),
        })?;
        let columns = ColumnCache::new(ColumnLimits {
            max_rows: config.query.column_cache_max_rows,
            max_bytes: config.query.column_cache_mb.saturating_mul(1024 * 1024),
            ..ColumnLimits::default()
        });
        let records = Arc::new(RecordService::new(
            store.clone(),
            schema.clone(),
            columns,
            RecordLimits {
                max_expanded_records: config.server.max_expanded_records,
            },
            Arc::new(files),
        ));
        let logins = LoginLimiter::new(LimitPolicy {
            max_per_identity: config.auth.max_failed_logins_per_account,
            max_per_ip: config.auth.max_failed_logins_per_ip,
            window: Duration::from_secs(config.auth.failed_login_window_secs),
        });
        // Rules and budgets come from the settings per request (`api::rate_limit`).
        let requests = RequestLimiter::new(
            config.rate_limit.max_requests,
            Duration::from_secs(config.rate_limit.window_secs.max(1)),
        );
        let realtime = Realtime::new(config.realtime.clone(), records.clone());
        let webhooks = Arc::new(WebhookService::open(
            store.clone(),
            records.clone(),
            config.webhooks.clone(),
        )?);
        let mailer = Mailer::new(&config.smtp, settings.clone(), store.clone())?;
        let accounts = Arc::new(AccountService::new(
            records.clone(),
            logins,
            mailer,
            settings.clone(),
        ));
        let work = Pool::new(
            config.server.work_threads,
            Duration::from_millis(config.server.request_budget_ms.max(1)),
            Duration::from_micros(config.server.inline_work_us),
        );
        let backups = Backups::new(
            store.clone(),
            records.files.clone(),
            settings.clone(),
            &config.server.dir,
            store_options(&config),
            config.backups.max_upload_mb.saturating_mul(1024 * 1024),
        );
        let logs_dir = config.server.dir.join(crate::logs::DIR);
        let logs = RequestLog::start(
            logs_dir.clone(),
            store.clone(),
            schema.clone(),
            settings.clone(),
            &config.request_logs,
        )
        .map_err(|e| format!("cannot open the request log in {}: {e}", logs_dir.display()))?;
        Ok(Arc::new(Self {
            logs,
            work,
            connections: Live::default(),
            realtime,
            webhooks,
            collections: CollectionService::new(
                store.clone(),
                schema.clone(),
                records.files.clone(),
            ),
            settings,
            config,
            store,
            schema,
            requests,
            accounts,
            records,
            plugins,
            backups,
        }))
    }

    /// Trims the change log periodically; stops when the app is dropped.
    pub fn spawn_maintenance(self: &Arc<Self>) {
        self.spawn_log_trim();
        let weak = Arc::downgrade(self);
        let every = Duration::from_secs(self.config.store.changelog_trim_secs.max(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(app) = weak.upgrade() else { break };
                let store = app.store.clone();
                let webhooks = app.webhooks.clone();
                drop(app);
                let n = webhooks.trim_deliveries().await;
                if n > 0 {
                    tracing::info!(removed = n, "trimmed webhook delivery log");
                }
                match tokio::task::spawn_blocking(move || store.trim_changelog()).await {
                    Ok(Ok(n)) if n > 0 => tracing::info!(removed = n, "trimmed change log"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "change log trim failed"),
                    _ => {}
                }
            }
        });
    }

    /// Removes, in the background, stored files no record names: what a crash between placing
    /// an upload and its commit (or between a commit and removing what it dropped) left.
    pub fn spawn_file_sweep(self: &Arc<Self>) {
        let records = self.records.clone();
        tokio::task::spawn_blocking(move || {
            let schema = records.schema.snapshot();
            let held = |col: &str, rec: &str| {
                let col = schema.by_id(&col.into())?;
                let stored = records.store.get_record(&col.id, &rec.into()).ok()??;
                Some(
                    col.fields
                        .iter()
                        .filter(|f| matches!(f.kind, crate::schema::FieldKind::File(_)))
                        .filter_map(|f| stored.record.fields().get(&f.name))
                        .flat_map(crate::records::file_names)
                        .collect(),
                )
            };
            let known = |col: &str| schema.by_id(&col.into()).is_some();
            match records.files.sweep(known, held) {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "removed orphaned files"),
                Err(e) => tracing::warn!(error = %e, "file sweep failed"),
            }
        });
    }

    /// Points file storage at what the settings say now (after a PATCH of `s3`): new writes
    /// and reads go to the new bucket (or local disk); stored files are not moved.
    pub fn apply_storage_settings(&self) {
        let s3 = storage_s3(&self.config, &self.settings);
        match self.records.files.use_s3(s3.as_ref()) {
            Ok(true) => tracing::info!(
                bucket = s3.as_ref().map(|o| o.bucket.as_str()),
                "file storage switched (existing files stay where they were)"
            ),
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %e, "cannot switch file storage; keeping the current one")
            }
        }
    }

    /// Resolves a bearer token to its caller against the current schema (a guest if invalid).
    pub fn caller(&self, raw: &str) -> crate::auth::Caller {
        self.records.caller(raw)
    }

    /// Trims the request log to `logs.maxDays` periodically; stops when the app is dropped.
    fn spawn_log_trim(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let every = Duration::from_secs(self.config.request_logs.trim_secs.max(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(logs) = weak.upgrade().map(|app| app.logs.clone()) else {
                    break;
                };
                let n = logs.trim().await;
                if n > 0 {
                    tracing::info!(segments = n, "trimmed request log");
                }
            }
        });
    }

    /// Stops the webhook dispatchers, writes the queued request logs, drains queued writes and
    /// flushes the store.
    pub async fn shutdown(&self) {
        self.webhooks.stop();
        self.logs.shutdown().await;
        self.store.shutdown().await;
    }
}

/// Where file fields' files go: the settings `s3` once a PATCH saved it (PocketBase's
/// behaviour; disabled = local disk), else the config file's `[storage]`.
fn storage_s3(config: &Config, settings: &SettingsService) -> Option<crate::files::S3Options> {
    if settings.is_saved("s3") {
        let s = settings.current();
        s.s3.enabled.then(|| s3_from_settings(&s.s3))
    } else {
        config
            .storage
            .s3_enabled
            .then(|| s3_options(&config.storage))
    }
}

/// The bucket the settings `s3` (or `backups.s3`) name.
pub(crate) fn s3_from_settings(s: &crate::settings::S3) -> crate::files::S3Options {
    crate::files::S3Options {
        bucket: s.bucket.clone(),
        region: s.region.clone(),
        endpoint: s.endpoint.clone(),
        access_key: s.access_key.clone(),
        secret: s.secret.clone(),
        force_path_style: s.force_path_style,
    }
}

/// The bucket `[storage]` names (PocketBase's `s3` settings).
fn s3_options(c: &crate::config::StorageConfig) -> crate::files::S3Options {
    crate::files::S3Options {
        bucket: c.s3_bucket.clone(),
        region: c.s3_region.clone(),
        endpoint: c.s3_endpoint.clone(),
        access_key: c.s3_access_key.clone(),
        secret: c.s3_secret.clone(),
        force_path_style: c.s3_force_path_style,
    }
}
