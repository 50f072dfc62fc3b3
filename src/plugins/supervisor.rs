//! Sidecar processes: started in the plugin's folder in a process group of their own,
//! restarted with exponential backoff when they exit, stopped with SIGTERM (then SIGKILL after
//! the grace period) at shutdown. The whole group is killed whenever the sidecar ends or the
//! supervisor is dropped, so no grandchild outlives it.
//!
//! A `kill -9` of the server cannot be caught. On Linux a sidecar is therefore started through
//! the server's own binary (`ferrobase sidecar-exec --parent PID -- COMMAND`, see
//! [`exec_sidecar`]), which sets the parent-death signal to SIGKILL and then execs the command:
//! the kernel kills the sidecar when the server dies. (`pre_exec` would do it without the extra
//! exec but is `unsafe`, which the crate forbids.) Elsewhere sidecars should exit when their
//! parent goes; the bundled Python ones also poll `os.getppid()`.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// First restart delay; doubled after every quick exit.
pub const BACKOFF_INITIAL: Duration = Duration::from_millis(200);
/// Longest restart delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A sidecar that stayed up this long starts over at [`BACKOFF_INITIAL`] when it next exits.
pub const STABLE_AFTER: Duration = Duration::from_secs(10);
/// Longest line of sidecar output copied into the log.
const MAX_LOG_LINE: usize = 4096;

/// A sidecar's state as `/api/plugins` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Running,
    Stopped,
    Crashed,
}

/// What the supervisor knows about its process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub status: Status,
    pub restarts: u64,
    /// Why it last ended or failed to start (exit status, spawn error).
    pub last_error: Option<String>,
    pub pid: Option<u32>,
}

/// Exponential restart delays: `initial`, doubling up to `max`; `reset` after a stable run.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            next: initial.min(max),
        }
    }

    /// The delay before the next restart.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (d * 2).min(self.max);
        d
    }

    pub fn reset(&mut self) {
        self.next = self.initial.min(self.max);
    }
}

/// The resolved command of one sidecar (placeholders substituted).
#[derive(Debug, Clone)]
pub struct Launch {
    pub plugin: String,
    pub dir: PathBuf,
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// SIGTERM → SIGKILL grace at stop.
    pub grace: Duration,
    /// The server binary, to start the command through `sidecar-exec` (Linux); `None` runs the
    /// command directly.
    pub shim: Option<PathBuf>,
}

/// A supervised sidecar; [`Sidecar::stop`] ends it (dropping it kills its process group).
pub struct Sidecar {
    state: Arc<Mutex<State>>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Sidecar {
    /// Starts `launch` and keeps it running until [`Sidecar::stop`].
    pub fn spawn(launch: Launch) -> Self {
        let state = Arc::new(Mutex::new(State {
            status: Status::Stopped,
            restarts: 0,
            last_error: None,
            pid: None,
        }));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(supervise(launch, state.clone(), stopped));
        Self {
            state,
            stop,
            task: Mutex::new(Some(task)),
        }
    }

    pub fn state(&self) -> State {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// SIGTERM, then SIGKILL after the grace period; returns once the process is gone.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

fn update(state: &Mutex<State>, f: impl FnOnce(&mut State)) {
    f(&mut state.lock().unwrap_or_else(PoisonError::into_inner));
}

/// Kills the process group when dropped: covers an aborted supervisor task (runtime shutdown)
/// and grandchildren left behind by a sidecar that exited.
struct Group(Option<u32>);

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            signal_group(pgid, Signal::Kill);
        }
    }
}

enum Signal {
    Term,
    Kill,
}

#[cfg(unix)]
fn signal_group(pgid: u32, signal: Signal) {
    use nix::sys::signal::{killpg, Signal as S};
    let Ok(pgid) = i32::try_from(pgid) else {
        return;
    };
    let sig = match signal {
        Signal::Term => S::SIGTERM,
        Signal::Kill => S::SIGKILL,
    };
    // ESRCH (the group is already gone) is the normal case after an exit.
    let _ = killpg(nix::unistd::Pid::from_raw(pgid), sig);
}

#[cfg(not(unix))]
fn signal_group(_pgid: u32, _signal: Signal) {}

fn describe(status: ExitStatus) -> String {
    format!("exited with {status}")
}

fn spawn_child(launch: &Launch) -> std::io::Result<Child> {
    let (program, args) = launch
        .command
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command"))?;
    let mut cmd = match &launch.shim {
        Some(shim) => {
            let mut cmd = Command::new(shim);
            cmd.arg("sidecar-exec")
                .arg("--parent")
                .arg(std::process::id().to_string())
                .arg("--")
                .arg(program);
            cmd
        }
        None => Command::new(program),
    };
    cmd.args(args)
        .current_dir(&launch.dir)
        .envs(&launch.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    cmd.spawn()
}

/// `ferrobase sidecar-exec`: asks the kernel to SIGKILL this process when `parent` (the server)
/// dies, then replaces it with `command`. Returns only if that fails, with the reason.
///
/// The signal follows the thread that spawned us; the supervisor spawns from tokio worker
/// threads, which live as long as the server's runtime.
#[cfg(unix)]
pub fn exec_sidecar(parent: u32, command: &[String]) -> String {
    let Some((program, args)) = command.split_first() else {
        return "sidecar-exec needs a command".into();
    };
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL) {
        return format!("cannot set the parent-death signal: {e}");
    }
    // The server may have died before the signal was armed: then it would never come.
    if std::os::unix::process::parent_id() != parent {
        return "the server exited before the sidecar started".into();
    }
    let err =
        std::os::unix::process::CommandExt::exec(std::process::Command::new(program).args(args));
    format!("cannot start {program:?}: {err}")
}

#[cfg(not(unix))]
pub fn exec_sidecar(_parent: u32, _command: &[String]) -> String {
    "sidecar-exec is only supported on unix".into()
}

/// Copies a sidecar's output into the server log, one event per line.
fn forward(
    plugin: String,
    stream: &'static str,
    out: Option<impl AsyncRead + Unpin + Send + 'static>,
) {
    let Some(out) = out else { return };
    tokio::spawn(async move {
        let mut lines = BufReader::new(out).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let line: String = line.chars().take(MAX_LOG_LINE).collect();
            tracing::info!(plugin = %plugin, stream, line = %line, "sidecar output");
        }
    });
}

/// Ends a running child: SIGTERM to its group, SIGKILL after `grace`.
async fn terminate(child: &mut Child, group: &Group, grace: Duration) {
    let Some(pgid) = group.0 else { return };
    signal_group(pgid, Signal::Term);
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        signal_group(pgid, Signal::Kill);
        let _ = child.wait().await;
    }
}

/// Resolves once a stop is requested (or the [`Sidecar`] is gone). The watch's read guard is
/// released here, never held across the termination that follows.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn supervise(launch: Launch, state: Arc<Mutex<State>>, mut stop: watch::Receiver<bool>) {
    let mut backoff = Backoff::new(BACKOFF_INITIAL, BACKOFF_MAX);
    loop {
        if *stop.borrow() {
            break;
        }
        let started = Instant::now();
        match spawn_child(&launch) {
            Err(e) => {
                let program = launch.command.first().map_or("", String::as_str);
                tracing::warn!(plugin = %launch.plugin, error = %e, "sidecar failed to start");
                update(&state, |s| {
                    s.status = Status::Crashed;
                    s.last_error = Some(format!("cannot start {program:?}: {e}"));
                    s.pid = None;
                });
            }
            Ok(mut child) => {
                let group = Group(child.id());
                forward(launch.plugin.clone(), "stdout", child.stdout.take());
                forward(launch.plugin.clone(), "stderr", child.stderr.take());
                update(&state, |s| {
                    s.status = Status::Running;
                    s.pid = child.id();
                });
                tracing::info!(plugin = %launch.plugin, pid = ?child.id(), "sidecar started");
                tokio::select! {
                    exit = child.wait() => {
                        let why = match exit {
                            Ok(status) => describe(status),
                            Err(e) => format!("wait failed: {e}"),
                        };
                        tracing::warn!(plugin = %launch.plugin, reason = %why, "sidecar exited");
                        update(&state, |s| {
                            s.status = Status::Crashed;
                            s.last_error = Some(why);
                            s.pid = None;
                        });
                    }
                    _ = stopped(&mut stop) => {
                        terminate(&mut child, &group, launch.grace).await;
                        break;
                    }
                }
                if started.elapsed() >= STABLE_AFTER {
                    backoff.reset();
                }
            }
        }
        let delay = backoff.next_delay();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stopped(&mut stop) => break,
        }
        update(&state, |s| s.restarts += 1);
    }
    update(&state, |s| {
        s.status = Status::Stopped;
        s.pid = None;
    });
}

#[cfg(test)]
#[path = "supervisor_tests.rs"]
mod tests;
