//! Backups: consistent online snapshots of a data dir (store + local files) as zips in
//! `<data dir>/backups/`, listed, downloaded, uploaded, deleted and restored through
//! `/api/backups` (superusers), made on the settings' `backups.cron` schedule, and by the
//! `ferrobase backup|restore` commands on a stopped dir.
//!
//! A restore is staged in `<data dir>/.restore/` and swapped in by [`finish_restore`] when the
//! server next starts (the API asks the server to restart itself; see `serve`). One backup or
//! restore runs at a time. Uses the store, the files and the settings; knows nothing of HTTP.
//!
//! - `archive`: the zip layout, writing one, staging a restore, the start-up swap.
//! - `schedule`: the cron task.

mod archive;
mod schedule;

pub use archive::{finish_restore, open_backup, prepare_restore, write_backup, Manifest, Progress};

use crate::auth::Caller;
use crate::error::{ApiError, FieldError, FieldErrors};
use crate::files::{Files, ReadStream, S3Options, Storage, S3};
use crate::settings::SettingsService;
use crate::store::{Store, StoreOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};
use tokio::sync::watch;

/// The folder of local backups inside the data dir.
pub const BACKUPS_DIR: &str = "backups";
/// Prefix of scheduled backups' names (PocketBase: `@auto_pb_backup_`).
pub const AUTO_PREFIX: &str = "@auto_ferrobase_backup_";

/// Why a backup operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackupError {
    #[error("another backup or restore is running; try again later")]
    Busy,
    #[error("the backup name must match ^[a-z0-9_-]+\\.zip$ (at most 150 characters)")]
    BadName,
    #[error("a backup with this name already exists")]
    Exists,
    #[error("no such backup")]
    Missing,
    #[error("the backup is being created or restored")]
    InUse,
    #[error("the file is not a zip archive")]
    NotZip,
    #[error("the zip is not a Ferrobase backup (no valid manifest.json or data.dump)")]
    NoManifest,
    #[error("the backup is of data-dir format {0}, newer than this Ferrobase understands; upgrade Ferrobase")]
    NewerFormat(u64),
    #[error("the backup is corrupt: {0}")]
    Invalid(String),
    #[error("{0}")]
    Io(String),
}

impl From<BackupError> for ApiError {
    fn from(e: BackupError) -> Self {
        let field = |name: &str, code: &'static str, message: &str| {
            ApiError::validation(
                message,
                FieldErrors::single(name, FieldError::new(code, e.to_string())),
            )
        };
        match &e {
            BackupError::Busy => field(
                "backup",
                "backup_in_progress",
                "Try again later - another backup/restore process has already been started.",
            ),
            BackupError::BadName => field(
                "name",
                "validation_match_invalid",
                "An error occurred while validating the submitted data.",
            ),
            BackupError::Exists => field(
                "name",
                "validation_backup_name_exists",
                "An error occurred while validating the submitted data.",
            ),
            BackupError::Missing => {
                field("key", "backup_not_found", "Missing or invalid backup file.")
            }
            BackupError::InUse => field(
                "key",
                "backup_in_use",
                "The backup is currently being used and cannot be deleted.",
            ),
            BackupError::NotZip => field(
                "file",
                "validation_invalid_mime_type",
                "An error occurred while validating the submitted data.",
            ),
            BackupError::NoManifest | BackupError::Invalid(_) => {
                field("key", "backup_invalid", "Failed to restore the backup.")
            }
            BackupError::NewerFormat(_) => field(
                "key",
                "backup_newer_format",
                "Failed to restore the backup.",
            ),
            BackupError::Io(m) => ApiError::internal(m),
        }
    }
}

/// One backup as `GET /api/backups` lists it.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct BackupInfo {
    pub key: String,
    pub size: u64,
    /// PocketBase's datetime format (`2006-01-02 15:04:05.000Z`).
    pub modified: String,
    #[serde(skip)]
    pub modified_at: SystemTime,
}

/// What is running.
#[derive(Debug, Clone)]
enum Active {
    Creating(String),
    Restoring(String),
}

/// Whether `name` is a valid backup key (`^[a-z0-9_-]+\.zip$`, at most 150 chars), or an auto
/// backup's name (the same after [`AUTO_PREFIX`]).
pub fn valid_name(name: &str) -> bool {
    let plain = name.strip_prefix(AUTO_PREFIX).unwrap_or(name);
    let Some(stem) = plain.strip_suffix(".zip") else {
        return false;
    };
    name.len() <= 150
        && !stem.is_empty()
        && stem
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A default backup name: `ferrobase_backup_YYYYMMDDHHMMSS.zip`.
pub fn default_name() -> String {
    format!(
        "ferrobase_backup_{}.zip",
        chrono::Utc::now().format("%Y%m%d%H%M%S")
    )
}

/// Where backups are kept: `<data dir>/backups`, or the settings' `backups.s3` bucket when
/// enabled (chosen per operation, so a settings change applies at once).
enum Target {
    Local(PathBuf),
    Bucket(S3),
}

/// A backup fetched to local disk for a restore; a bucket's temporary copy goes when dropped.
struct LocalCopy {
    path: PathBuf,
    temporary: bool,
}

impl Drop for LocalCopy {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn format_time(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%d %H:%M:%S%.3fZ")
        .to_string()
}

impl Target {
    fn list(&self) -> Result<Vec<BackupInfo>, BackupError> {
        let bucket = match self {
            Target::Local(dir) => return list_dir(dir),
            Target::Bucket(b) => b,
        };
        let mut keys = Vec::new();
        bucket
            .list(&mut |item| {
                if valid_name(&item.key) {
                    keys.push(item.key);
                }
                Ok(())
            })
            .map_err(io_err)?;
        let mut out = Vec::new();
        for key in keys {
            if let Some(meta) = bucket.meta(&key).map_err(io_err)? {
                out.push(BackupInfo {
                    modified: format_time(meta.modified),
                    modified_at: meta.modified,
                    size: meta.size,
                    key,
                });
            }
        }
        out.sort_by(|a, b| b.modified_at.cmp(&a.modified_at).then(b.key.cmp(&a.key)));
        Ok(out)
    }

    fn exists(&self, key: &str) -> Result<bool, BackupError> {
        if !valid_name(key) {
            return Ok(false);
        }
        match self {
            Target::Local(dir) => Ok(dir.join(key).is_file()),
            Target::Bucket(b) => Ok(b.meta(key).map_err(io_err)?.is_some()),
        }
    }

    /// Keeps the complete local file `tmp` as backup `key` (moved, or uploaded then removed).
    fn keep(&self, key: &str, tmp: &Path) -> Result<(), BackupError> {
        match self {
            Target::Local(dir) => {
                std::fs::rename(tmp, dir.join(key)).map_err(io_err)?;
                if let Ok(d) = std::fs::File::open(dir) {
                    let _ = d.sync_all();
                }
                Ok(())
            }
            Target::Bucket(b) => {
                let put = b.put(key, tmp).map_err(io_err);
                let _ = std::fs::remove_file(tmp);
                put
            }
        }
    }

    fn delete(&self, key: &str) -> Result<(), BackupError> {
        if !self.exists(key)? {
            return Err(BackupError::Missing);
        }
        match self {
            Target::Local(dir) => std::fs::remove_file(dir.join(key)).map_err(io_err),
            Target::Bucket(b) => b.remove(key).map_err(io_err),
        }
    }

    /// Backup `key` as a local file (a bucket's is downloaded into `scratch`).
    fn local_copy(&self, key: &str, scratch: &Path) -> Result<LocalCopy, BackupError> {
        if !self.exists(key)? {
            return Err(BackupError::Missing);
        }
        match self {
            Target::Local(dir) => Ok(LocalCopy {
                path: dir.join(key),
                temporary: false,
            }),
            Target::Bucket(b) => {
                std::fs::create_dir_all(scratch).map_err(io_err)?;
                let copy = LocalCopy {
                    path: scratch.join(format!(".{key}.download")),
                    temporary: true,
                };
                b.download(key, &copy.path).map_err(io_err)?;
                Ok(copy)
            }
        }
    }
}

/// How `GET /api/backups/{key}` serves a backup.
pub enum Download {
    /// A local file (served with ranges and conditional requests).
    File(PathBuf),
    /// An object of the backups bucket.
    Stream { size: u64, body: ReadStream },
}

/// The backups service (see the module docs).
pub struct Backups {
    store: Arc<dyn Store>,
    files: Arc<Files>,
    settings: Arc<SettingsService>,
    data_dir: PathBuf,
    dir: PathBuf,
    options: StoreOptions,
    active: Mutex<Option<Active>>,
    /// Set once a restore is staged: the server should restart to swap it in.
    restart: watch::Sender<bool>,
    /// Largest accepted upload, bytes.
    pub max_upload: u64,
}

/// Clears the active operation when dropped (unless kept for a restart).
struct ActiveGuard<'a> {
    active: &'a Mutex<Option<Active>>,
    keep: bool,
}

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        if !self.keep {
            *self.active.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }
}

fn io_err(e: impl std::fmt::Display) -> BackupError {
    BackupError::Io(e.to_string())
}

impl Backups {
    pub fn new(
        store: Arc<dyn Store>,
        files: Arc<Files>,
        settings: Arc<SettingsService>,
        data_dir: &Path,
        options: StoreOptions,
        max_upload: u64,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            files,
            settings,
            data_dir: data_dir.to_path_buf(),
            dir: data_dir.join(BACKUPS_DIR),
            options,
            active: Mutex::new(None),
            restart: watch::channel(false).0,
            max_upload,
        })
    }

    /// Whether a backup or restore can start now (`canBackup` of `/api/health`).
    pub fn can_backup(&self) -> bool {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    /// Resolves once a restore is staged and the server should restart.
    pub async fn restart_requested(&self) {
        let mut rx = self.restart.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    /// Whether a restore asked for a restart.
    pub fn restart_pending(&self) -> bool {
        *self.restart.borrow()
    }

    fn begin(&self, what: Active) -> Result<ActiveGuard<'_>, BackupError> {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        if active.is_some() {
            return Err(BackupError::Busy);
        }
        *active = Some(what);
        Ok(ActiveGuard {
            active: &self.active,
            keep: false,
        })
    }

    /// Where backups go now (the settings' `backups.s3` when enabled). Blocking context of a
    /// tokio runtime (the bucket client runs its requests there).
    fn target(&self) -> Result<Target, BackupError> {
        let settings = self.settings.current();
        let s3 = &settings.backups.s3;
        if !s3.enabled {
            return Ok(Target::Local(self.dir.clone()));
        }
        let options = S3Options {
            bucket: s3.bucket.clone(),
            region: s3.region.clone(),
            endpoint: s3.endpoint.clone(),
            access_key: s3.access_key.clone(),
            secret: s3.secret.clone(),
            force_path_style: s3.force_path_style,
        };
        S3::new(&options)
            .map(Target::Bucket)
            .map_err(|e| BackupError::Io(format!("backups bucket {:?}: {e}", options.bucket)))
    }

    /// Every backup, newest first. Blocking.
    pub fn list(&self) -> Result<Vec<BackupInfo>, BackupError> {
        self.target()?.list()
    }

    /// `GET /api/backups` for `caller`.
    pub async fn list_for(self: &Arc<Self>, caller: &Caller) -> Result<Vec<BackupInfo>, ApiError> {
        caller.require_superuser()?;
        let me = self.clone();
        Ok(tokio::task::spawn_blocking(move || me.list())
            .await
            .map_err(ApiError::internal)??)
    }

    /// Makes a backup named `name` (default: [`default_name`]) and waits for it. Refused while
    /// another backup or restore runs.
    pub async fn create(self: &Arc<Self>, name: Option<String>) -> Result<Manifest, BackupError> {
        let name = name.filter(|n| !n.is_empty()).unwrap_or_else(default_name);
        if !valid_name(&name) {
            return Err(BackupError::BadName);
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.create_blocking(&name))
            .await
            .map_err(io_err)?
    }

    fn create_blocking(&self, name: &str) -> Result<Manifest, BackupError> {
        let _active = self.begin(Active::Creating(name.to_string()))?;
        let target = self.target()?;
        if target.exists(name)? {
            return Err(BackupError::Exists);
        }
        let started = Instant::now();
        let made = self.write_to(&target, name);
        crate::metrics::backup_done(made.is_ok(), started.elapsed().as_secs_f64());
        match &made {
            Ok(m) => tracing::info!(backup = name, head = m.head, files = m.files, "backup made"),
            Err(e) => tracing::error!(backup = name, error = %e, "backup failed"),
        }
        made
    }

    /// Streams the zip into a temporary file beside the backups, then renames it: a crash
    /// leaves no half-written backup in the list.
    fn write_to(&self, target: &Target, name: &str) -> Result<Manifest, BackupError> {
        std::fs::create_dir_all(&self.dir).map_err(io_err)?;
        let tmp = self.dir.join(format!(".{name}.partial"));
        let file = std::fs::File::create(&tmp).map_err(io_err)?;
        // No file a snapshot's record names may vanish before it is copied.
        let hold = self.files.hold_removals();
        let written = write_backup(
            self.store.as_ref(),
            self.files.local_root().as_deref(),
            file,
            &|_| {},
        );
        drop(hold);
        match written {
            Ok(manifest) => {
                target.keep(name, &tmp)?;
                Ok(manifest)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Backup `key` for a download. Blocking.
    pub fn download(&self, key: &str) -> Result<Download, BackupError> {
        match self.target()? {
            Target::Local(dir) if valid_name(key) && dir.join(key).is_file() => {
                Ok(Download::File(dir.join(key)))
            }
            Target::Local(_) => Err(BackupError::Missing),
            Target::Bucket(b) => {
                let meta = b
                    .meta(key)
                    .map_err(io_err)?
                    .filter(|_| valid_name(key))
                    .ok_or(BackupError::Missing)?;
                Ok(Download::Stream {
                    size: meta.size,
                    body: b.read(key, None).map_err(io_err)?,
                })
            }
        }
    }

    /// Deletes backup `key` (refused while it is being created or restored). Blocking.
    pub fn delete(&self, key: &str) -> Result<(), BackupError> {
        if let Some(Active::Creating(k) | Active::Restoring(k)) =
            &*self.active.lock().unwrap_or_else(|e| e.into_inner())
        {
            if k == key {
                return Err(BackupError::InUse);
            }
        }
        self.target()?.delete(key)
    }

    /// Keeps an uploaded zip (already streamed to `staged`, on the data dir's file system) as
    /// backup `name`. Blocking.
    pub fn upload(&self, name: &str, staged: &Path) -> Result<(), BackupError> {
        if !valid_name(name) {
            return Err(BackupError::BadName);
        }
        let file = std::fs::File::open(staged).map_err(io_err)?;
        zip::ZipArchive::new(file).map_err(|_| BackupError::NotZip)?;
        let target = self.target()?;
        if target.exists(name)? {
            return Err(BackupError::Exists);
        }
        std::fs::create_dir_all(&self.dir).map_err(io_err)?;
        // A copy beside the backups (a hard link when possible; the staged file cleans itself).
        let tmp = self.dir.join(format!(".{name}.upload"));
        if std::fs::hard_link(staged, &tmp).is_err() {
            std::fs::copy(staged, &tmp).map_err(io_err)?;
        }
        let kept = target.keep(name, &tmp);
        let _ = std::fs::remove_file(&tmp);
        kept
    }

    /// Stages backup `key` for restoring and asks the server to restart into it. Refused while
    /// another backup or restore runs; the backup is validated first (a zip with a manifest of
    /// a format this build can read).
    pub async fn restore(self: &Arc<Self>, key: &str) -> Result<(), BackupError> {
        let me = self.clone();
        let key = key.to_string();
        tokio::task::spawn_blocking(move || me.restore_blocking(&key))
            .await
            .map_err(io_err)?
    }

    fn restore_blocking(&self, key: &str) -> Result<(), BackupError> {
        let mut active = self.begin(Active::Restoring(key.to_string()))?;
        let copy = self.target()?.local_copy(key, &self.dir)?;
        let manifest = prepare_restore(&copy.path, &self.data_dir, &self.options, &|_| {})?;
        tracing::info!(
            backup = key,
            head = manifest.head,
            "restore staged; restarting"
        );
        // Stays active until the restart: nothing else may start.
        active.keep = true;
        self.restart.send_replace(true);
        Ok(())
    }

    /// The settings service (the schedule re-reads `backups.cron` from it).
    pub(crate) fn settings(&self) -> &SettingsService {
        &self.settings
    }
}

/// Every backup in `dir`, newest first. Blocking.
pub fn list_dir(dir: &Path) -> Result<Vec<BackupInfo>, BackupError> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io_err(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_err)?;
        let Some(key) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !valid_name(&key) {
            continue; // temporary files of a backup or upload in progress
        }
        let meta = entry.metadata().map_err(io_err)?;
        if !meta.is_file() {
            continue;
        }
        let modified_at = meta.modified().map_err(io_err)?;
        out.push(BackupInfo {
            key,
            size: meta.len(),
            modified: format_time(modified_at),
            modified_at,
        });
    }
    out.sort_by(|a, b| b.modified_at.cmp(&a.modified_at).then(b.key.cmp(&a.key)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    async fn service(dir: &Path) -> Arc<Backups> {
        let store: Arc<dyn Store> = SledStore::open(dir, StoreOptions::default()).expect("store");
        let files = Arc::new(Files::open(dir, None).expect("files"));
        let settings = Arc::new(SettingsService::open(
            store.clone(),
            &crate::config::Config::default(),
        ));
        Backups::new(
            store,
            files,
            settings,
            dir,
            StoreOptions::default(),
            1 << 20,
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_operation_at_a_time_and_the_busy_backup_cannot_be_deleted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = service(dir.path()).await;
        assert!(b.can_backup());
        b.create(Some("a.zip".into())).await.expect("create");
        assert!(b.can_backup(), "free again");
        assert_eq!(
            b.create(Some("a.zip".into())).await,
            Err(BackupError::Exists)
        );
        assert_eq!(
            b.create(Some("A.zip".into())).await,
            Err(BackupError::BadName)
        );
        let held = b.begin(Active::Creating("a.zip".into())).expect("begin");
        assert!(!b.can_backup());
        assert_eq!(b.create(Some("b.zip".into())).await, Err(BackupError::Busy));
        assert_eq!(b.restore("a.zip").await, Err(BackupError::Busy));
        assert_eq!(b.delete("a.zip"), Err(BackupError::InUse));
        drop(held);
        assert_eq!(b.delete("missing.zip"), Err(BackupError::Missing));
        assert_eq!(b.restore("missing.zip").await, Err(BackupError::Missing));
        assert!(b.can_backup(), "a failed restore frees the slot");
        b.delete("a.zip").expect("delete");
        assert!(b.list().expect("list").is_empty());
        // Auto backups beyond the max keep go, oldest first; manual ones stay.
        for name in [
            "manual.zip",
            "@auto_ferrobase_backup_1.zip",
            "@auto_ferrobase_backup_2.zip",
        ] {
            b.create(Some(name.into())).await.expect("create");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(b.prune_auto(1), Ok(1));
        let left: Vec<String> = b.list().expect("list").into_iter().map(|i| i.key).collect();
        assert_eq!(left, vec!["@auto_ferrobase_backup_2.zip", "manual.zip"]);
        b.store.shutdown().await;
    }

    #[test]
    fn names_follow_pocketbase_and_auto_names_pass() {
        for ok in [
            "a.zip",
            "pb_backup_20240101.zip",
            "x-y_z1.zip",
            "@auto_ferrobase_backup_1.zip",
        ] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".zip",
            "A.zip",
            "a.tar",
            "../a.zip",
            "a b.zip",
            "a.zip.partial",
            "@auto_x.zip",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(!valid_name(&format!("{}.zip", "a".repeat(150))));
        assert!(valid_name(&default_name()));
    }
}
