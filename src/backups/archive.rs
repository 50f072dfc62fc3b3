//! The backup zip: `data.dump` (the store's logical snapshot, see `store::Store::snapshot`),
//! `storage/...` (local file storage) and `manifest.json`; and preparing a restore from one into
//! `<data dir>/.restore/`, swapped in by [`finish_restore`] on the next start.

use super::BackupError;
use crate::store::{restore_dump, Store, StoreOptions, CURRENT_FORMAT};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

pub const MANIFEST: &str = "manifest.json";
pub const DUMP: &str = "data.dump";
pub const STORAGE: &str = "storage/";
/// Staging folder of a restore inside the data dir.
pub const RESTORE_DIR: &str = ".restore";
/// Where the replaced data goes while a restore is swapped in.
pub const RESTORE_OLD_DIR: &str = ".restore-old";
/// Written last into [`RESTORE_DIR`]: the staged restore is complete.
pub const READY: &str = "READY";
/// What a restore replaces in the data dir (the sled dir and local file storage).
const SWAPPED: [&str; 2] = ["data.sled", "storage"];

/// `manifest.json` of a backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// The Ferrobase version that made it.
    pub ferrobase: String,
    /// RFC 3339 UTC.
    pub created: String,
    /// The snapshot point: every write acknowledged with a seq ≤ head is in the backup.
    pub head: u64,
    /// The data-dir format of the dump.
    pub store_format: u64,
    /// Entries in `data.dump`.
    pub entries: u64,
    /// Whether `storage/` holds the stored files (false when files live in an S3 bucket: they
    /// are not copied).
    pub files_included: bool,
    /// Files copied into `storage/`.
    pub files: u64,
}

/// Progress of a backup or restore: what is being done and how far.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// Bytes of the data dump written (backup) or entries applied (restore).
    Data(u64),
    /// Files copied so far.
    Files(u64),
}

fn io_err(e: impl std::fmt::Display) -> BackupError {
    BackupError::Io(e.to_string())
}

/// Every file under `root` (recursively, skipping the top-level staging folder `.tmp`), as
/// paths relative to it with `/` separators, sorted.
fn storage_files(root: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if rel.as_os_str().is_empty() && name == ".tmp" {
                continue;
            }
            let path = rel.join(name);
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let parts: Vec<&str> = path.iter().filter_map(|p| p.to_str()).collect();
                out.push(parts.join("/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Writes a backup zip to `out`: the store's snapshot, then the files under `files_root` (local
/// storage; `None` with S3 storage), then the manifest. Blocking.
pub fn write_backup(
    store: &dyn Store,
    files_root: Option<&Path>,
    out: File,
    progress: &dyn Fn(Progress),
) -> Result<Manifest, BackupError> {
    use zip::write::SimpleFileOptions;
    let deflated = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    let mut zip = zip::ZipWriter::new(out);
    zip.start_file(DUMP, deflated).map_err(io_err)?;
    let info = store
        .snapshot(&mut zip, &|bytes| progress(Progress::Data(bytes)))
        .map_err(|e| BackupError::Io(e.to_string()))?;
    let mut copied = 0u64;
    if let Some(root) = files_root {
        for rel in storage_files(root).map_err(io_err)? {
            let mut src = match File::open(root.join(&rel)) {
                Ok(f) => f,
                // Removed before the hold was taken and not named by the snapshot's records.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(e)),
            };
            zip.start_file(format!("{STORAGE}{rel}"), deflated)
                .map_err(io_err)?;
            io::copy(&mut src, &mut zip).map_err(io_err)?;
            copied += 1;
            progress(Progress::Files(copied));
        }
    }
    let manifest = Manifest {
        ferrobase: env!("CARGO_PKG_VERSION").to_string(),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        head: info.head.0,
        store_format: info.format,
        entries: info.entries,
        files_included: files_root.is_some(),
        files: copied,
    };
    zip.start_file(MANIFEST, SimpleFileOptions::default())
        .map_err(io_err)?;
    let json = serde_json::to_vec_pretty(&manifest).map_err(io_err)?;
    zip.write_all(&json).map_err(io_err)?;
    let file = zip.finish().map_err(io_err)?;
    file.sync_all().map_err(io_err)?;
    Ok(manifest)
}

/// Opens a backup zip and reads its manifest, refusing what is not a zip, a zip without a
/// manifest and a backup of a data-dir format newer than this build understands.
pub fn open_backup(path: &Path) -> Result<(zip::ZipArchive<File>, Manifest), BackupError> {
    let file = File::open(path).map_err(io_err)?;
    let mut zip = zip::ZipArchive::new(file).map_err(|_| BackupError::NotZip)?;
    let manifest: Manifest = {
        let mut entry = zip.by_name(MANIFEST).map_err(|_| BackupError::NoManifest)?;
        let mut raw = Vec::new();
        (&mut entry)
            .take(1024 * 1024)
            .read_to_end(&mut raw)
            .map_err(|_| BackupError::NoManifest)?;
        serde_json::from_slice(&raw).map_err(|_| BackupError::NoManifest)?
    };
    if manifest.store_format > CURRENT_FORMAT {
        return Err(BackupError::NewerFormat(manifest.store_format));
    }
    Ok((zip, manifest))
}

/// The relative path of a `storage/` entry, refusing anything that could leave the folder.
fn safe_storage_path(name: &str) -> Option<PathBuf> {
    let rel = name.strip_prefix(STORAGE)?;
    let path = Path::new(rel);
    if rel.is_empty() || !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(path.to_path_buf())
}

fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err)
}

/// Builds the backup at `zip_path` into `<data_dir>/.restore/` (a fresh store and the files),
/// fsynced, and marks it READY: the next start swaps it in ([`finish_restore`]). Blocking.
pub fn prepare_restore(
    zip_path: &Path,
    data_dir: &Path,
    options: &StoreOptions,
    progress: &dyn Fn(Progress),
) -> Result<Manifest, BackupError> {
    let (zip, manifest) = open_backup(zip_path)?;
    let staging = data_dir.join(RESTORE_DIR);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io_err)?;
    }
    std::fs::create_dir_all(&staging).map_err(io_err)?;
    match stage(zip, &manifest, &staging, options, progress) {
        Ok(()) => Ok(manifest),
        Err(e) => {
            // Nothing half-built is left for the next start to look at.
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

fn stage(
    mut zip: zip::ZipArchive<File>,
    manifest: &Manifest,
    staging: &Path,
    options: &StoreOptions,
    progress: &dyn Fn(Progress),
) -> Result<(), BackupError> {
    {
        let mut dump = zip.by_name(DUMP).map_err(|_| BackupError::NoManifest)?;
        restore_dump(&mut dump, staging, options, &|n| {
            progress(Progress::Data(n))
        })
        .map_err(|e| BackupError::Invalid(e.to_string()))?;
    }
    let storage = staging.join("storage");
    std::fs::create_dir_all(&storage).map_err(io_err)?;
    let mut copied = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(io_err)?;
        if entry.is_dir() {
            continue;
        }
        let Some(rel) = safe_storage_path(entry.name()) else {
            continue;
        };
        let target = storage.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io_err)?;
        }
        let mut out = File::create(&target).map_err(io_err)?;
        io::copy(&mut entry, &mut out).map_err(io_err)?;
        out.sync_all().map_err(io_err)?;
        copied += 1;
        progress(Progress::Files(copied));
    }
    sync_dir(staging)?;
    let mut ready = File::create(staging.join(READY)).map_err(io_err)?;
    ready
        .write_all(manifest.created.as_bytes())
        .and_then(|()| ready.sync_all())
        .map_err(io_err)?;
    sync_dir(staging)
}

/// Run at start-up BEFORE the store opens: swaps a READY restore into `data_dir` (the replaced
/// store and files go to `.restore-old/`, then are removed) and clears what an interrupted
/// restore left. Every step is idempotent, so a crash mid-way finishes on the next start.
/// Returns whether a restore was swapped in.
pub fn finish_restore(data_dir: &Path) -> Result<bool, String> {
    let staging = data_dir.join(RESTORE_DIR);
    let old = data_dir.join(RESTORE_OLD_DIR);
    let err = |what: &str, e: io::Error| format!("cannot finish the restore ({what}): {e}");
    let swapped = staging.join(READY).exists();
    if swapped {
        std::fs::create_dir_all(&old).map_err(|e| err("create .restore-old", e))?;
        for name in SWAPPED {
            let (live, parked, new) = (data_dir.join(name), old.join(name), staging.join(name));
            // Park the current one unless an earlier attempt already did (then `live`, if
            // present, is the restored one moved in).
            if live.exists() && !parked.exists() && new.exists() {
                std::fs::rename(&live, &parked).map_err(|e| err("move the old data", e))?;
            }
            if new.exists() {
                if live.exists() {
                    std::fs::remove_dir_all(&live).map_err(|e| err("clear the old data", e))?;
                }
                std::fs::rename(&new, &live).map_err(|e| err("move the restored data", e))?;
            }
        }
        sync_dir(data_dir).map_err(|e| e.to_string())?;
    }
    // Anything left: a finished swap's leftovers, or a restore interrupted while staging.
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| err("remove .restore", e))?;
    }
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| err("remove .restore-old", e))?;
    }
    Ok(swapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_with(entries: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("temp");
        let mut zip = zip::ZipWriter::new(file.reopen().expect("reopen"));
        for (name, bytes) in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("entry");
            zip.write_all(bytes).expect("write");
        }
        zip.finish().expect("finish");
        file
    }

    #[test]
    fn only_ferrobase_backups_of_a_known_format_open() {
        let manifest = |format: u64| {
            serde_json::to_vec(&Manifest {
                ferrobase: "0".into(),
                created: "x".into(),
                head: 1,
                store_format: format,
                entries: 0,
                files_included: true,
                files: 0,
            })
            .expect("json")
        };
        let garbage = tempfile::NamedTempFile::new().expect("temp");
        std::fs::write(garbage.path(), b"not a zip").expect("write");
        assert_eq!(open_backup(garbage.path()).err(), Some(BackupError::NotZip));
        let other = zip_with(&[("hello.txt", b"hi")]);
        assert_eq!(
            open_backup(other.path()).err(),
            Some(BackupError::NoManifest)
        );
        let bad = zip_with(&[(MANIFEST, b"{")]);
        assert_eq!(open_backup(bad.path()).err(), Some(BackupError::NoManifest));
        let newer = zip_with(&[(MANIFEST, &manifest(CURRENT_FORMAT + 1))]);
        assert_eq!(
            open_backup(newer.path()).err(),
            Some(BackupError::NewerFormat(CURRENT_FORMAT + 1))
        );
        let ok = zip_with(&[(MANIFEST, &manifest(CURRENT_FORMAT))]);
        let (_, m) = open_backup(ok.path()).expect("opens");
        assert_eq!(m.store_format, CURRENT_FORMAT);
        // A manifest without a dump cannot be restored.
        let dir = tempfile::tempdir().expect("tempdir");
        let err = prepare_restore(ok.path(), dir.path(), &StoreOptions::default(), &|_| {})
            .expect_err("no dump");
        assert_eq!(err, BackupError::NoManifest);
        assert!(
            !dir.path().join(RESTORE_DIR).exists(),
            "nothing half-built is left"
        );
    }

    #[test]
    fn storage_entries_cannot_leave_the_folder() {
        assert_eq!(
            safe_storage_path("storage/c/r/a.txt"),
            Some(PathBuf::from("c/r/a.txt"))
        );
        assert_eq!(safe_storage_path("storage/../x"), None);
        assert_eq!(safe_storage_path("storage//etc/passwd"), None);
        assert_eq!(safe_storage_path("storage/"), None);
        assert_eq!(safe_storage_path("data.dump"), None);
    }

    #[test]
    fn a_ready_restore_is_swapped_in_and_an_unfinished_one_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for (p, v) in [
            ("data.sled/db", "old"),
            ("storage/c/r/f", "old"),
            (".restore/data.sled/db", "new"),
            (".restore/storage/c/r/g", "new"),
        ] {
            std::fs::create_dir_all(d.join(p).parent().expect("parent")).expect("mkdir");
            std::fs::write(d.join(p), v).expect("write");
        }
        // Not READY: an interrupted staging is dropped, the live data kept.
        assert!(!finish_restore(d).expect("finish"));
        assert_eq!(
            std::fs::read_to_string(d.join("data.sled/db")).expect("db"),
            "old"
        );
        assert!(!d.join(RESTORE_DIR).exists());

        for (p, v) in [
            (".restore/data.sled/db", "new"),
            (".restore/storage/c/r/g", "new"),
            (".restore/READY", ""),
        ] {
            std::fs::create_dir_all(d.join(p).parent().expect("parent")).expect("mkdir");
            std::fs::write(d.join(p), v).expect("write");
        }
        // A crash after parking the old store: the next start finishes the swap.
        std::fs::create_dir_all(d.join(RESTORE_OLD_DIR)).expect("mkdir");
        std::fs::rename(d.join("data.sled"), d.join(".restore-old/data.sled")).expect("park");
        assert!(finish_restore(d).expect("finish"));
        assert_eq!(
            std::fs::read_to_string(d.join("data.sled/db")).expect("db"),
            "new"
        );
        assert!(d.join("storage/c/r/g").exists());
        assert!(!d.join("storage/c/r/f").exists());
        assert!(!d.join(RESTORE_DIR).exists() && !d.join(RESTORE_OLD_DIR).exists());
        // Nothing to do: nothing changes.
        assert!(!finish_restore(d).expect("again"));
        assert_eq!(
            std::fs::read_to_string(d.join("data.sled/db")).expect("db"),
            "new"
        );
    }
}
