//! `ferrobase backup [--out FILE]` and `ferrobase restore FILE` on a stopped server's data dir,
//! with a progress bar on a terminal (plain lines otherwise). A dir in use by a running server is
//! refused by the store's lock: use the API then.

use crate::backups::{self, Progress};
use crate::config::Config;
use crate::store::{SledStore, Store};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Reports progress: a spinner on a terminal, else a line at most every few seconds.
struct Reporter {
    bar: Option<ProgressBar>,
    last_line: Mutex<Instant>,
}

const LINE_EVERY: Duration = Duration::from_secs(5);

impl Reporter {
    fn new(what: &str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            bar.set_message(what.to_string());
            bar
        });
        if bar.is_none() {
            eprintln!("{what}");
        }
        Self {
            bar,
            last_line: Mutex::new(Instant::now()),
        }
    }

    fn report(&self, p: Progress, data_unit: &str) {
        let msg = match p {
            Progress::Data(n) if data_unit == "bytes" => {
                format!("data: {}", indicatif::HumanBytes(n))
            }
            Progress::Data(n) => format!("data: {n} {data_unit}"),
            Progress::Files(n) => format!("files: {n}"),
        };
        match &self.bar {
            Some(bar) => bar.set_message(msg),
            None => {
                let mut last = self.last_line.lock().unwrap_or_else(|e| e.into_inner());
                if last.elapsed() >= LINE_EVERY {
                    *last = Instant::now();
                    eprintln!("{msg}");
                }
            }
        }
    }

    fn done(&self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.finish_with_message(msg.to_string()),
            None => eprintln!("{msg}"),
        }
    }
}

fn in_use_hint(e: impl std::fmt::Display) -> String {
    let e = e.to_string();
    if e.contains("in use by another process") {
        format!("{e} (back up or restore a running server through /api/backups)")
    } else {
        e
    }
}

/// `ferrobase backup`.
pub async fn backup(config: &Config, out: Option<&Path>) -> Result<(), String> {
    let dir = config.server.dir.clone();
    let options = crate::app::store_options(config);
    let store = SledStore::open(&dir, options).map_err(in_use_hint)?;
    let out: PathBuf = match out {
        Some(p) => p.to_path_buf(),
        None => dir.join(backups::BACKUPS_DIR).join(backups::default_name()),
    };
    if out.exists() {
        store.shutdown().await;
        return Err(format!("{} already exists", out.display()));
    }
    // With S3 file storage the files are already off the machine: not copied.
    let files_root = (!config.storage.s3_enabled).then(|| dir.join("storage"));
    let job = {
        let store = store.clone();
        let out = out.clone();
        tokio::task::spawn_blocking(move || -> Result<backups::Manifest, String> {
            if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            let name = out
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let tmp = out.with_file_name(format!(".{name}.partial"));
            let file = std::fs::File::create(&tmp).map_err(|e| e.to_string())?;
            let reporter = Reporter::new(&format!("backing up {}", out.display()));
            let made = backups::write_backup(store.as_ref(), files_root.as_deref(), file, &|p| {
                reporter.report(p, "bytes")
            });
            match made {
                Ok(m) => {
                    std::fs::rename(&tmp, &out).map_err(|e| e.to_string())?;
                    reporter.done(&format!(
                        "backup written: {} (head seq {}, {} entries, {} files)",
                        out.display(),
                        m.head,
                        m.entries,
                        m.files
                    ));
                    Ok(m)
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    Err(e.to_string())
                }
            }
        })
    };
    let result = job.await.map_err(|e| e.to_string()).and_then(|r| r);
    store.shutdown().await;
    result.map(|_| ())
}

/// `ferrobase restore FILE`: stages the backup and swaps it in at once (the server is stopped).
pub fn restore(config: &Config, file: &Path) -> Result<(), String> {
    let dir = &config.server.dir;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let options = crate::app::store_options(config);
    // Refuses a dir a running server holds (sled's lock), before anything is touched.
    SledStore::checkpoint(dir, &options).map_err(in_use_hint)?;
    let (_, manifest) = backups::open_backup(file).map_err(|e| e.to_string())?;
    let reporter = Reporter::new(&format!(
        "restoring {} (head seq {}, {} entries)",
        file.display(),
        manifest.head,
        manifest.entries
    ));
    backups::prepare_restore(file, dir, &options, &|p| reporter.report(p, "entries"))
        .map_err(|e| e.to_string())?;
    backups::finish_restore(dir)?;
    reporter.done(&format!(
        "restored {} into {} (head seq {})",
        file.display(),
        dir.display(),
        manifest.head
    ));
    Ok(())
}
