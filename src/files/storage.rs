//! [`Files`]: file storage on local disk under `<data dir>/storage`, laid out like PocketBase's
//! (`<collection id>/<record id>/<name>`, thumbnails in `thumbs_<name>/<size>_<name>` beside it),
//! uploads staged in `storage/.tmp`.
//!
//! Durability: a staged upload is fsynced, placed by a hard link (plus an fsync of the record's
//! folder) before the record that names it commits; files a commit drops are removed after it.
//! A crash in between leaves an orphan, never a record naming a missing file; [`Files::sweep`]
//! collects orphans at start-up.

use super::names::safe_segment;
use super::staged::{stage, StageError, StagedFile};
use super::thumb::{self, ThumbSpec};
use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::io::AsyncRead;

/// File storage of one data dir.
#[derive(Debug)]
pub struct Files {
    root: PathBuf,
    tmp: PathBuf,
    /// Files placed after this instant may belong to writes still in flight: never swept.
    opened: SystemTime,
    /// Thumbnails made at once (each may decode a large image).
    thumb_slots: tokio::sync::Semaphore,
}

/// Thumbnails generated concurrently.
const THUMB_SLOTS: usize = 2;

fn bad_name() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "unsafe storage path segment")
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl Files {
    /// Opens (creating) `<data_dir>/storage` and empties its staging folder: staged uploads of a
    /// previous run belong to requests that never finished.
    pub fn open(data_dir: &Path) -> io::Result<Self> {
        let root = data_dir.join("storage");
        let tmp = root.join(".tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        Ok(Self {
            root,
            tmp,
            opened: SystemTime::now(),
            thumb_slots: tokio::sync::Semaphore::new(THUMB_SLOTS),
        })
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

    fn record_dir(&self, col: &str, rec: &str) -> io::Result<PathBuf> {
        if !safe_segment(col) || !safe_segment(rec) {
            return Err(bad_name());
        }
        Ok(self.root.join(col).join(rec))
    }

    /// Where the file `name` of a record lives (it may not exist).
    pub fn path(&self, col: &str, rec: &str, name: &str) -> io::Result<PathBuf> {
        if !safe_segment(name) {
            return Err(bad_name());
        }
        Ok(self.record_dir(col, rec)?.join(name))
    }

    /// Places `file` as `name` of a record, durably. Idempotent: placing the same staged file
    /// again is a no-op. Blocking.
    pub fn put(&self, col: &str, rec: &str, name: &str, file: &StagedFile) -> io::Result<()> {
        let dest = self.path(col, rec, name)?;
        let dir = self.record_dir(col, rec)?;
        let col_dir = self.root.join(col);
        let (new_col, new_dir) = (!col_dir.is_dir(), !dir.is_dir());
        std::fs::create_dir_all(&dir)?;
        match std::fs::hard_link(file.path(), &dest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
            Err(e) => return Err(e),
        }
        sync_dir(&dir)?;
        // New folders must themselves survive a crash: their entries are in their parents.
        if new_dir {
            sync_dir(&col_dir)?;
        }
        if new_col {
            sync_dir(&self.root)?;
        }
        Ok(())
    }

    /// Removes the file `name` of a record and its thumbnails. Blocking.
    pub fn remove(&self, col: &str, rec: &str, name: &str) -> io::Result<()> {
        let path = self.path(col, rec, name)?;
        let thumbs = self.record_dir(col, rec)?.join(format!("thumbs_{name}"));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        match std::fs::remove_dir_all(&thumbs) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes every file of a record. Blocking.
    pub fn remove_record(&self, col: &str, rec: &str) -> io::Result<()> {
        match std::fs::remove_dir_all(self.record_dir(col, rec)?) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes every file of a collection (deleted or truncated). Blocking.
    pub fn remove_collection(&self, col: &str) -> io::Result<()> {
        if !safe_segment(col) {
            return Err(bad_name());
        }
        match std::fs::remove_dir_all(self.root.join(col)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The thumbnail `spec` of an image file, made on first use and cached beside it. Blocking
    /// (decodes and encodes the image): run it off the async workers.
    pub fn thumb(&self, col: &str, rec: &str, name: &str, spec: &str) -> Result<PathBuf, String> {
        let parsed = ThumbSpec::parse(spec).ok_or("invalid thumb size")?;
        let src = self.path(col, rec, name).map_err(|e| e.to_string())?;
        let dst = self.thumb_path(col, rec, name, spec)?;
        if !dst.exists() {
            thumb::generate(&src, &dst, parsed)?;
        }
        Ok(dst)
    }

    fn thumb_path(&self, col: &str, rec: &str, name: &str, spec: &str) -> Result<PathBuf, String> {
        if !safe_segment(name) || !safe_segment(spec) {
            return Err(bad_name().to_string());
        }
        Ok(self
            .record_dir(col, rec)
            .map_err(|e| e.to_string())?
            .join(format!("thumbs_{name}"))
            .join(format!("{spec}_{name}")))
    }

    /// [`Files::thumb`] on the blocking pool, at most [`THUMB_SLOTS`] at once.
    pub async fn thumb_async(
        self: &Arc<Self>,
        col: &str,
        rec: &str,
        name: &str,
        spec: &str,
    ) -> Result<PathBuf, String> {
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

    /// Removes what no record names: folders of unknown collections or records, and files a
    /// record does not hold. `names(collection, record)` gives the names a record holds, or
    /// `None` when the record (or collection) does not exist. Files placed since `open` are kept
    /// (their write may be in flight). Returns how many entries were removed. Blocking.
    pub fn sweep(
        &self,
        names: impl Fn(&str, &str) -> Option<HashSet<String>>,
    ) -> io::Result<usize> {
        let mut removed = 0;
        for col in std::fs::read_dir(&self.root)? {
            let col = col?;
            let col_name = col.file_name().to_string_lossy().into_owned();
            if col_name == ".tmp" || !col.file_type()?.is_dir() {
                continue;
            }
            for rec in std::fs::read_dir(col.path())? {
                let rec = rec?;
                let rec_name = rec.file_name().to_string_lossy().into_owned();
                let Some(held) = names(&col_name, &rec_name) else {
                    if self.older_than_open(&rec.path()) {
                        std::fs::remove_dir_all(rec.path())?;
                        removed += 1;
                    }
                    continue;
                };
                for entry in std::fs::read_dir(rec.path())? {
                    let entry = entry?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let base = name.strip_prefix("thumbs_").unwrap_or(&name);
                    if held.contains(base) || !self.older_than_open(&entry.path()) {
                        continue;
                    }
                    if entry.file_type()?.is_dir() {
                        std::fs::remove_dir_all(entry.path())?;
                    } else {
                        std::fs::remove_file(entry.path())?;
                    }
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    fn older_than_open(&self, path: &Path) -> bool {
        std::fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < self.opened)
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
        let files = Files::open(&dir).unwrap();
        let staged = files.stage("a.txt", &b"hello"[..], 100).await.unwrap();
        files.put("c1", "r1", "a_x.txt", &staged).unwrap();
        files.put("c1", "r1", "a_x.txt", &staged).unwrap();
        drop(staged);
        let path = files.path("c1", "r1", "a_x.txt").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        assert!(files.path("c1", "..", "a").is_err());
        assert!(files.path("c1", "r1", "../../x").is_err());
        files.remove("c1", "r1", "a_x.txt").unwrap();
        assert!(!path.exists());
        files.remove("c1", "r1", "a_x.txt").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn sweep_removes_orphans_of_earlier_runs_only() {
        let dir = temp_dir();
        let files = Files::open(&dir).unwrap();
        for (rec, name) in [("r1", "keep.txt"), ("r1", "orphan.txt"), ("gone", "x.txt")] {
            let staged = files.stage(name, &b"x"[..], 10).await.unwrap();
            files.put("c1", rec, name, &staged).unwrap();
        }
        // Nothing is older than this run yet: the sweep keeps everything.
        let names = |_: &str, rec: &str| -> Option<HashSet<String>> {
            (rec == "r1").then(|| HashSet::from(["keep.txt".to_string()]))
        };
        assert_eq!(files.sweep(names).unwrap(), 0);
        // A restart: the same folders are now from an earlier run.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let files = Files::open(&dir).unwrap();
        assert_eq!(files.sweep(names).unwrap(), 2);
        assert!(files.path("c1", "r1", "keep.txt").unwrap().exists());
        assert!(!files.path("c1", "r1", "orphan.txt").unwrap().exists());
        assert!(!dir.join("storage/c1/gone").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
