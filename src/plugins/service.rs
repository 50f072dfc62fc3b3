//! [`Plugins`]: the loaded manifests and their runtime — sidecars, identities, hooks — from
//! load (at start, before the store opens: a bad manifest refuses to start) through start
//! (tokens minted, sidecars spawned and awaited, hooks installed) to stop (sidecars ended,
//! tokens revoked).

use super::declared::DeclaredWebhook;
use super::hooks::{BoundHook, HookRunner};
use super::identity;
use super::manifest::{format_duration, Manifest};
use super::supervisor::{Launch, Sidecar, Status};
use super::vars::{free_port, new_secret, Vars, TOKEN};
use crate::auth::Caller;
use crate::config::PluginsConfig;
use crate::error::ApiResult;
use crate::records::{parse_number, Page, RecordService, DEFAULT_PER_PAGE, MAX_PER_PAGE};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One loaded plugin.
struct Plugin {
    manifest: Manifest,
    /// `{port}`, `{url}`, `{secret}` (and, after start, `{token}` when the sidecar uses it).
    vars: Vars,
    sidecar: Mutex<Option<Arc<Sidecar>>>,
}

impl Plugin {
    fn sidecar(&self) -> Option<Arc<Sidecar>> {
        self.sidecar
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn uses_token(&self) -> bool {
        self.manifest
            .sidecar
            .as_ref()
            .is_some_and(|s| s.uses(TOKEN))
    }
}

/// The plugins of `[plugins] dir` (none when it is empty).
#[derive(Default)]
pub struct Plugins {
    config: PluginsConfig,
    plugins: Vec<Plugin>,
    /// Between `start` and `stop` (the status of plugins without a sidecar).
    running: AtomicBool,
}

/// Every `DIR/*/plugin.toml`, in folder-name order.
fn manifest_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read plugins dir {}: {e}", dir.display()))?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path().join("plugin.toml"))
        .filter(|f| f.is_file())
        .collect();
    files.sort();
    Ok(files)
}

impl Plugins {
    /// No plugins.
    pub fn none() -> Self {
        Self::default()
    }

    /// Loads and validates every manifest of `config.dir`; `http` is the server's listen address
    /// (for `{url}`). Ports and secrets are chosen here, so declared webhooks are complete.
    pub fn load(config: &PluginsConfig, http: &str) -> Result<Self, String> {
        let mut out = Self {
            config: config.clone(),
            ..Self::default()
        };
        if config.dir.as_os_str().is_empty() {
            return Ok(out);
        }
        for file in manifest_files(&config.dir)? {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let vars = Vars {
                port: free_port().map_err(|e| format!("cannot find a free port: {e}"))?,
                url: super::vars::base_url(http),
                secret: new_secret(),
                token: None,
            };
            let dir = file.parent().unwrap_or(&config.dir);
            let manifest = Manifest::parse(&text, &file, dir, &vars).map_err(|e| e.to_string())?;
            if let Some(other) = out
                .plugins
                .iter()
                .find(|p| p.manifest.name == manifest.name)
            {
                return Err(format!(
                    "{}: plugin.name: {:?} is already the name of {}",
                    file.display(),
                    manifest.name,
                    other.manifest.dir.display()
                ));
            }
            out.plugins.push(Plugin {
                manifest,
                vars,
                sidecar: Mutex::new(None),
            });
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }

    /// Every webhook the manifests declare, placeholders substituted, `secret` included.
    pub fn declared_webhooks(&self) -> Vec<DeclaredWebhook> {
        self.plugins
            .iter()
            .flat_map(|p| p.manifest.webhooks.iter().cloned())
            .collect()
    }

    /// Mints tokens, starts the sidecars (waiting up to `ready_timeout_secs` for each to accept
    /// connections on its `{port}`), then installs the hooks into `records`.
    pub async fn start(&self, records: &RecordService) -> Result<(), String> {
        if self.config.dir.as_os_str().is_empty() {
            return Ok(());
        }
        identity::revoke_all(records).await?;
        let mut waits = Vec::new();
        for p in &self.plugins {
            let Some(spec) = &p.manifest.sidecar else {
                continue;
            };
            let mut vars = p.vars.clone();
            if p.uses_token() {
                vars.token = Some(identity::mint(records, &p.manifest.name).await?);
            }
            let sidecar = Sidecar::spawn(Launch {
                plugin: p.manifest.name.clone(),
                dir: p.manifest.dir.clone(),
                command: spec.command.iter().map(|c| vars.apply(c)).collect(),
                env: spec
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), vars.apply(v)))
                    .collect(),
                grace: Duration::from_secs(self.config.stop_grace_secs),
                shim: shim(),
            });
            *p.sidecar.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(sidecar));
            if spec.uses("{port}") {
                let (name, port) = (p.manifest.name.clone(), p.vars.port);
                waits.push(tokio::spawn(wait_ready(name, port, self.ready_timeout())));
            }
        }
        for wait in waits {
            let _ = wait.await;
        }
        let hooks: Vec<BoundHook> = self
            .plugins
            .iter()
            .flat_map(|p| {
                p.manifest.hooks.iter().map(|spec| BoundHook {
                    plugin: p.manifest.name.clone(),
                    spec: spec.clone(),
                })
            })
            .collect();
        if !hooks.is_empty() && !records.set_hooks(Arc::new(HookRunner::new(hooks)?)) {
            return Err("plugin hooks are already installed".into());
        }
        self.running.store(true, Ordering::SeqCst);
        tracing::info!(plugins = self.plugins.len(), "plugins started");
        Ok(())
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(self.config.ready_timeout_secs)
    }

    /// Stops every sidecar (SIGTERM, SIGKILL after the grace period) and revokes their tokens.
    pub async fn stop(&self, records: &RecordService) {
        let stops: Vec<_> = self
            .plugins
            .iter()
            .filter_map(Plugin::sidecar)
            .map(|s| tokio::spawn(async move { s.stop().await }))
            .collect();
        for stop in stops {
            let _ = stop.await;
        }
        for p in self.plugins.iter().filter(|p| p.uses_token()) {
            if let Err(e) = identity::revoke(records, &p.manifest.name).await {
                tracing::warn!(plugin = %p.manifest.name, error = %e, "plugin token not revoked");
            }
        }
        self.running.store(false, Ordering::SeqCst);
    }

    /// `GET /api/plugins` (superusers): PocketBase's list envelope.
    pub fn list(
        &self,
        caller: &Caller,
        page: &Option<String>,
        per_page: &Option<String>,
    ) -> ApiResult<Value> {
        caller.require_superuser()?;
        let page = parse_number("page", page, 1)?;
        let per_page = parse_number("perPage", per_page, DEFAULT_PER_PAGE)?.min(MAX_PER_PAGE);
        let items: Vec<Value> = self
            .plugins
            .iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .map(|p| self.render(p))
            .collect();
        Ok(Page::new(items, page, per_page, Some(self.plugins.len())).into_json())
    }

    fn render(&self, p: &Plugin) -> Value {
        let m = &p.manifest;
        let (status, restarts, last_error, pid) = match p.sidecar() {
            Some(s) => {
                let s = s.state();
                (s.status, s.restarts, s.last_error, s.pid)
            }
            None if self.running.load(Ordering::SeqCst) => (Status::Running, 0, None, None),
            None => (Status::Stopped, 0, None, None),
        };
        let hooks: Vec<Value> = m
            .hooks
            .iter()
            .map(|h| {
                json!({
                    "event": h.event.name(),
                    "collections": h.collections,
                    "url": h.url,
                    "timeout": format_duration(h.timeout),
                    "onError": h.on_error.name(),
                })
            })
            .collect();
        json!({
            "name": m.name,
            "description": m.description,
            "dir": m.dir.display().to_string(),
            "status": status,
            "restarts": restarts,
            "lastError": last_error,
            "pid": pid,
            "port": p.vars.port,
            "hooks": hooks,
            "webhooks": m.webhooks,
        })
    }
}

/// The server binary, through which sidecars start on Linux (see `supervisor::exec_sidecar`).
fn shim() -> Option<std::path::PathBuf> {
    if cfg!(target_os = "linux") {
        std::env::current_exe().ok()
    } else {
        None
    }
}

/// Waits until something accepts connections on `127.0.0.1:port`, at most `timeout`.
async fn wait_ready(plugin: String, port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if Instant::now() >= deadline {
            tracing::warn!(%plugin, port, "sidecar not listening yet; starting anyway");
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
