//! [`Files`]: file storage of one data dir, laid out like PocketBase's (`<collection id>/<record
//! id>/<name>`, thumbnails in `thumbs_<name>/<size>_<name>` beside it) in a [`Storage`]: local
//! disk under `<data dir>/storage` by default, or an S3-compatible bucket. Uploads are staged in
//! `<data dir>/storage/.tmp` either way.
//!
//! Durability: a staged upload is fsynced, then stored durably (a hard link plus folder fsyncs on
//! disk, a completed PUT in a bucket) before the record that names it commits; files a commit
//! drops are removed after it. A crash in between leaves an orphan, never a record naming a
//! missing file; [`Files::sweep`] collects orphans at start-up.

use super::backend::{Local, Meta, ReadStream, S3Options, Storage, S3};
use super::names::safe_segment;
use super::staged::{stage, StageError, StagedFile};
use super::thumb::{self, ThumbSpec};
use std::collections::HashSet;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::io::AsyncRead;

/// Where placed files go now: local disk or a bucket (swapped at runtime by
/// [`Files::use_s3`]).
#[derive(Debug)]
struct Backend {
    store: Box<dyn Storage>,
    /// The bucket files are kept in (`None`: local disk).
    s3: Option<S3Options>,
}

/// File storage of one data dir.
#[derive(Debug)]
pub struct Files {
    backend: std::sync::RwLock<Arc<Backend>>,
    /// `<data dir>/storage`: local storage's root.
    root: PathBuf,
    tmp: PathBuf,
    /// Files placed after this instant may belong to writes still in flight: never swept.
    opened: SystemTime,
    /// Thumbnails made at once (each may decode a large image).
    thumb_slots: tokio::sync::Semaphore,
    /// Keys placed by this process while the start-up sweep has not finished (`None` after):
    /// the sweep never removes them, whatever the clocks of a bucket say about their age.
    placing: std::sync::Mutex<Option<HashSet<String>>>,
    /// Removal holds (a backup copying the files) and the removals queued while one is held.
    holds: Arc<std::sync::Mutex<Holds>>,
}

/// Removal holds taken and the removals that wait for the last one to go, each with the
/// backend it was meant for (the settings may switch storage meanwhile).
#[derive(Debug, Default)]
struct Holds {
    taken: usize,
    queued: Vec<(Arc<Backend>, Removal)>,
}

#[derive(Debug)]
enum Removal {
    Key(String),
    Prefix(String),
}

impl Removal {
    fn run(&self, backend: &Backend) -> io::Result<()> {
        match self {
            Removal::Key(k) => backend.store.remove(k),
            Removal::Prefix(p) => backend.store.remove_prefix(p),
        }
    }
}

/// While held, removals (and the orphan sweep's) queue up instead of running; they run when
/// the last hold drops. A backup takes one before its snapshot and drops it after copying the
/// files, so a file its records name cannot vanish in between.
#[must_use]
pub struct RemovalHold {
    holds: Arc<std::sync::Mutex<Holds>>,
}

impl Drop for RemovalHold {
    fn drop(&mut self) {
        let queued = {
            let mut h = self.holds.lock().unwrap_or_else(|e| e.into_inner());
            h.taken = h.taken.saturating_sub(1);
            if h.taken > 0 {
                return;
            }
            std::mem::take(&mut h.queued)
        };
        for (backend, r) in queued {
            if let Err(e) = r.run(&backend) {
                tracing::warn!(error = %e, removal = ?r, "removal held during a backup failed");
            }
        }
    }
}

/// Thumbnails generated concurrently.
const THUMB_SLOTS: usize = 2;

fn bad_name() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "unsafe storage path segment")
}

/// A local temporary file, removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `(collection, record, file name)` of a key in the layout `Files` writes (a file, or one of
/// its thumbnails); `None` for any other key, which the sweep leaves alone.
fn parse_key(key: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = key.split('/').collect();
    if !parts.iter().all(|p| safe_segment(p)) {
        return None;
    }
    match parts.as_slice() {
        [col, rec, name] => Some((col, rec, name)),
        [col, rec, thumbs, _] => Some((col, rec, thumbs.strip_prefix("thumbs_")?)),
        _ => None,
    }
}

impl Files {
    /// Opens (creating) `<data_dir>/storage` and empties its staging folder: staged uploads of a
    /// previous run belong to requests that never finished. Placed files go to the bucket of
    /// `s3` when given (then this must run within a tokio runtime), else beside the staging
    /// folder on disk.
    pub fn open(data_dir: &Path, s3: Option<&S3Options>) -> io::Result<Self> {
        let root = data_dir.join("storage");
        let tmp = root.join(".tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        let backend = Self::backend_for(&root, s3)?;
        Ok(Self {
            backend: std::sync::RwLock::new(Arc::new(backend)),
            root,
            tmp,
            opened: SystemTime::now(),
            thumb_slots: tokio::sync::Semaphore::new(THUMB_SLOTS),
            placing: std::sync::Mutex::new(Some(HashSet::new())),
            holds: Arc::default(),
        })
    }

    fn backend_for(root: &Path, s3: Option<&S3Options>) -> io::Result<Backend> {
        let store: Box<dyn Storage> = match s3 {
            Some(o) => Box::new(S3::new(o)?),
            None => Box::new(Local::new(root.to_path_buf())),
        };
        Ok(Backend {
            store,
            s3: s3.cloned(),
        })
    }

    fn backend(&self) -> Arc<Backend> {
        match self.backend.read() {
            Ok(b) => b.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Sends new file writes and reads to the bucket of `s3`, or to local disk with `None`
    /// (the settings `s3` changed at runtime, as PocketBase). Files already stored stay where
    /// they are (nothing is migrated). Returns whether the backend changed; on an error the
    /// current one stays. Must run within a tokio runtime when `s3` is given.
    pub fn use_s3(&self, s3: Option<&S3Options>) -> io::Result<bool> {
        if self.backend().s3.as_ref() == s3 {
            return Ok(false);
        }
        let next = Arc::new(Self::backend_for(&self.root, s3)?);
        match self.backend.write() {
            Ok(mut b) => *b = next,
            Err(p) => *p.into_inner() = next,
        }
        Ok(true)
    }

    /// The folder placed files live in when storage is local (`None` with S3).
    pub fn local_root(&self) -> Option<PathBuf> {
        self.backend().s3.is_none().then(|| self.root.clone())
    }

    /// Holds every removal until the returned guard drops (see [`RemovalHold`]).
    pub fn hold_removals(&self) -> RemovalHold {
        self.holds.lock().unwrap_or_else(|e| e.into_inner()).taken += 1;
        RemovalHold {
            holds: self.holds.clone(),
        }
    }

    /// Runs a removal now, or queues it while a hold is taken.
    fn removal(&self, backend: Arc<Backend>, r: Removal) -> io::Result<()> {
        {
            let mut h = self.holds.lock().unwrap_or_else(|e| e.into_inner());
            if h.taken > 0 {
                h.queued.push((backend, r));
                return Ok(());
            }
        }
        r.run(&backend)
    }

    /// The bucket files go to now (`None`: local disk).
    pub fn bucket(&self) -> Option<String> {
        self.backend().s3.as_ref().map(|o| o.bucket.clone())
    }

    fn placing(&self) -> std::sync::MutexGuard<'_, Option<HashSet<String>>> {
        self.placing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `src` at `key`, first telling a running sweep to keep it.
    fn place(&self, key: &str, src: &Path) -> io::Result<()> {
        if let Some(keys) = self.placing().as_mut() {
            keys.insert(key.to_string());
        }
        self.backend().store.put(key, src)
    }

    /// Streams an upload into the staging folder (see [`stage`]).
    pub async fn stage(
        &self,
        original: &str,
        reader: impl AsyncRead + Unpin,
        limit: u64,
    ) -> Result<StagedFile, StageError> {
        stage(&self.tmp, original, reader, limit).await
    }

    fn record_prefix(col: &str, rec: &str) -> io::Result<String> {
        if !safe_segment(col) || !safe_segment(rec) {
            return Err(bad_name());
        }
        Ok(format!("{col}/{rec}/"))
    }

    /// The storage key of the file `name` of a record (it may not exist).
    pub fn key(&self, col: &str, rec: &str, name: &str) -> io::Result<String> {
        if !safe_segment(name) {
            return Err(bad_name());
        }
        Ok(format!("{}{name}", Self::record_prefix(col, rec)?))
    }

    fn thumbs_prefix(col: &str, rec: &str, name: &str) -> io::Result<String> {
        if !safe_segment(name) {
            return Err(bad_name());
        }
        Ok(format!("{}thumbs_{name}/", Self::record_prefix(col, rec)?))
    }

    /// Where the object `key` is on local disk, when storage is local (else `None`).
    pub fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.backend().store.local_path(key)
    }

    /// The size, time and tag of the object `key`; `None` if it does not exist. Blocking.
    pub fn meta(&self, key: &str) -> io::Result<Option<Meta>> {
        self.backend().store.meta(key)
    }

    /// Streams the object `key` (or a byte range within its size). Blocking to start.
    pub fn read(&self, key: &str, range: Option<Range<u64>>) -> io::Result<ReadStream> {
        self.backend().store.read(key, range)
    }

    /// Places `file` as `name` of a record, durably. Idempotent: placing the same staged file
    /// again is harmless. Blocking.
    pub fn put(&self, col: &str, rec: &str, name: &str, file: &StagedFile) -> io::Result<()> {
        self.place(&self.key(col, rec, name)?, file.path())
    }

    /// Removes the file `name` of a record and its thumbnails. Blocking.
    pub fn remove(&self, col: &str, rec: &str, name: &str) -> io::Result<()> {
        let backend = self.backend();
        self.removal(backend.clone(), Removal::Key(self.key(col, rec, name)?))?;
        self.removal(
            backend,
            Removal::Prefix(Self::thumbs_prefix(col, rec, name)?),
        )
    }

    /// Removes every file of a record. Blocking.
    pub fn remove_record(&self, col: &str, rec: &str) -> io::Result<()> {
        self.removal(
            self.backend(),
            Removal::Prefix(Self::record_prefix(col, rec)?),
        )
    }

    /// Removes every file of a collection (deleted or truncated). Blocking.
    pub fn remove_collection(&self, col: &str) -> io::Result<()> {
        if !safe_segment(col) {
            return Err(bad_name());
        }
        self.removal(self.backend(), Removal::Prefix(format!("{col}/")))
    }

    /// The storage key of thumbnail `spec` of an image file, made on first use (from a local
    /// copy of the file) and stored beside it, with its metadata when it was already there (so
    /// serving it needs no second look). Blocking (decodes and encodes the image): run it off
    /// the async workers.
    pub fn thumb(
        &self,
        col: &str,
        rec: &str,
        name: &str,
        spec: &str,
    ) -> Result<(String, Option<Meta>), String> {
        let parsed = ThumbSpec::parse(spec).ok_or("invalid thumb size")?;
        let backend = self.backend();
        let src_key = self.key(col, rec, name).map_err(|e| e.to_string())?;
        let dst_key = format!(
            "{}{spec}_{name}",
            Self::thumbs_prefix(col, rec, name).map_err(|e| e.to_string())?
        );
        if let Some(meta) = backend.store.meta(&dst_key).map_err(|e| e.to_string())? {
            return Ok((dst_key, Some(meta)));
        }
        let id = crate::schema::random_id();
        let (_copy, src) = match backend.store.local_path(&src_key) {
            Some(p) => (None, p),
            None => {
                let copy = TempFile(self.tmp.join(format!("src_{id}")));
                backend
                    .store
                    .download(&src_key, &copy.0)
                    .map_err(|e| e.to_string())?;
                let p = copy.0.clone();
                (Some(copy), p)
            }
        };
        let made = TempFile(self.tmp.join(format!("thumb_{id}")));
        thumb::generate(&src, &made.0, parsed)?;
        self.place(&dst_key, &made.0).map_err(|e| e.to_string())?;
        Ok((dst_key, None))
    }

    /// [`Files::thumb`] on the blocking pool, at most [`THUMB_SLOTS`] at once.
    pub async fn thumb_async(
        self: &Arc<Self>,
        col: &str,
        rec: &str,
        name: &str,
        spec: &str,
    ) -> Result<(String, Option<Meta>), String> {
        let _slot = self
            .thumb_slots
            .acquire()
            .await
            .map_err(|e| e.to_string())?;
        let (me, col, rec, name, spec) = (
            self.clone(),
            col.to_string(),
            rec.to_string(),
            name.to_string(),
            spec.to_string(),
        );
        tokio::task::spawn_blocking(move || me.thumb(&col, &rec, &name, &spec))
            .await
            .map_err(|e| e.to_string())?
    }

    /// Removes what no record names: files of unknown records, and files (with their
    /// thumbnails) a record does not hold. `names(collection, record)` gives the names a record
    /// holds, or `None` when the record (or collection) does not exist. Files placed since
    /// `open` are kept (their write may be in flight): those of this process by key, whatever
    /// their timestamps, others by their modification time. Keys outside the layout are left alone,
    /// and so, in a bucket (which may hold more than Ferrobase's files), are keys under
    /// collections `known` does not know; on local disk the folders of deleted collections go.
    /// Returns how many objects were removed. Blocking.
    pub fn sweep(
        &self,
        known: impl Fn(&str) -> bool,
        names: impl Fn(&str, &str) -> Option<HashSet<String>>,
    ) -> io::Result<usize> {
        let swept = self.sweep_keys(known, names);
        // From now on nothing needs protecting from the sweep.
        *self.placing() = None;
        swept
    }

    fn sweep_keys(
        &self,
        known: impl Fn(&str) -> bool,
        names: impl Fn(&str, &str) -> Option<HashSet<String>>,
    ) -> io::Result<usize> {
        // On local disk the storage folder is Ferrobase's own; a bucket may be shared.
        let backend = self.backend();
        let own_root = backend.s3.is_none();
        let mut removed = 0;
        // A record's keys come one after another: its names are looked up once.
        let mut last: Option<(String, String, Option<HashSet<String>>)> = None;
        backend.store.list(&mut |item| {
            let Some((col, rec, base)) = parse_key(&item.key) else {
                return Ok(());
            };
            if item.modified >= self.opened || !(own_root || known(col)) {
                return Ok(());
            }
            if !matches!(&last, Some((c, r, _)) if c == col && r == rec) {
                last = Some((col.to_string(), rec.to_string(), names(col, rec)));
            }
            let held = last.as_ref().and_then(|(_, _, h)| h.as_ref());
            if !held.is_some_and(|h| h.contains(base)) {
                // Held while removing: a put of the same key waits, then stores it again.
                let placing = self.placing();
                if placing.as_ref().is_some_and(|k| k.contains(&item.key)) {
                    return Ok(());
                }
                self.removal(backend.clone(), Removal::Key(item.key.clone()))?;
                drop(placing);
                removed += 1;
            }
            Ok(())
        })?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("fb-files-{}", crate::schema::random_id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[tokio::test]
    async fn put_is_durable_idempotent_and_survives_the_staged_copy() {
        let dir = temp_dir();
        let files = Files::open(&dir, None).unwrap();
        let staged = files.stage("a.txt", &b"hello"[..], 100).await.unwrap();
        files.put("c1", "r1", "a_x.txt", &staged).unwrap();
        files.put("c1", "r1", "a_x.txt", &staged).unwrap();
        drop(staged);
        let key = files.key("c1", "r1", "a_x.txt").unwrap();
        let path = files.local_path(&key).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        assert!(files.key("c1", "..", "a").is_err());
        assert!(files.key("c1", "r1", "../../x").is_err());
        files.remove("c1", "r1", "a_x.txt").unwrap();
        assert!(!path.exists());
        files.remove("c1", "r1", "a_x.txt").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn sweep_keeps_what_this_process_placed_whatever_its_timestamp() {
        let dir = temp_dir();
        let files = Files::open(&dir, None).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let staged = files.stage("a.txt", &b"x"[..], 10).await.unwrap();
        files.put("c1", "r1", "inflight.txt", &staged).unwrap();
        // A clock that says the object is older than this run (a bucket's may).
        let path = dir.join("storage/c1/r1/inflight.txt");
        let old = SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_eq!(files.sweep(|_| true, |_, _| None).unwrap(), 0);
        assert!(path.exists());
        // The sweep is over: later placements are not tracked.
        assert!(files.placing().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_keys_in_the_layout_are_parsed() {
        assert_eq!(parse_key("c/r/a.txt"), Some(("c", "r", "a.txt")));
        assert_eq!(
            parse_key("c/r/thumbs_a.png/10x10_a.png"),
            Some(("c", "r", "a.png"))
        );
        for other in ["a.txt", "c/r", "c/r/x/y", "c/r/a/b/c", "c/../a.txt", "c/r/"] {
            assert_eq!(parse_key(other), None, "{other}");
        }
    }

    #[tokio::test]
    async fn sweep_removes_orphans_of_earlier_runs_only() {
        let dir = temp_dir();
        let files = Files::open(&dir, None).unwrap();
        for (rec, name) in [("r1", "keep.txt"), ("r1", "orphan.txt"), ("gone", "x.txt")] {
            let staged = files.stage(name, &b"x"[..], 10).await.unwrap();
            files.put("c1", rec, name, &staged).unwrap();
        }
        // Nothing is older than this run yet: the sweep keeps everything.
        let names = |_: &str, rec: &str| -> Option<HashSet<String>> {
            (rec == "r1").then(|| HashSet::from(["keep.txt".to_string()]))
        };
        assert_eq!(files.sweep(|_| true, names).unwrap(), 0);
        // A restart: the same folders are now from an earlier run.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let files = Files::open(&dir, None).unwrap();
        assert_eq!(files.sweep(|_| false, names).unwrap(), 2);
        assert!(dir.join("storage/c1/r1/keep.txt").exists());
        assert!(!dir.join("storage/c1/r1/orphan.txt").exists());
        assert!(!dir.join("storage/c1/gone").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn removals_wait_for_the_last_hold() {
        let dir = temp_dir();
        let files = Files::open(&dir, None).unwrap();
        let staged = files.stage("a.txt", &b"hello"[..], 100).await.unwrap();
        files.put("c1", "r1", "a.txt", &staged).unwrap();
        files.put("c1", "r2", "b.txt", &staged).unwrap();
        let path = |rec: &str, name: &str| files.local_path(&files.key("c1", rec, name).unwrap());
        let (a, b) = (path("r1", "a.txt").unwrap(), path("r2", "b.txt").unwrap());
        let first = files.hold_removals();
        let second = files.hold_removals();
        files.remove("c1", "r1", "a.txt").unwrap();
        files.remove_record("c1", "r2").unwrap();
        assert!(a.exists() && b.exists(), "held");
        drop(first);
        assert!(a.exists() && b.exists(), "still held by the second");
        drop(second);
        assert!(!a.exists() && !b.exists(), "queued removals ran");
        // Without a hold, removals run at once.
        files.put("c1", "r1", "a.txt", &staged).unwrap();
        files.remove("c1", "r1", "a.txt").unwrap();
        assert!(!a.exists());
        assert_eq!(files.local_root(), Some(dir.join("storage")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
