//! Running the server and the superuser commands: wiring only, no business logic.

use crate::app::App;
use crate::auth::Caller;
use crate::cli::SuperuserAction;
use crate::config::{Config, LogConfig, LogFormat};
use crate::conn::LimitedAcceptor;
use crate::plugins::Plugins;
use crate::query::RequestInfo;
use crate::records::{Request, Shape};
use crate::schema::SUPERUSERS_ID;
use poem::Server;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub fn init_tracing(log: &LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_new(&log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match log.format {
        LogFormat::Text => builder.try_init(),
        // The innermost span's fields (`request_id`, method, path) ride on every line; the
        // span list would repeat them.
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown requested; draining in-flight requests");
}

/// How `serve` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// Stopped by a signal.
    Stopped,
    /// A restore is staged: the process should start again (`main` re-execs itself) so the
    /// restored data is swapped in before the store opens.
    Restart,
}

pub async fn serve(config: Config) -> Result<Served, String> {
    // A bad manifest refuses to start, before the data dir is even opened.
    let plugins = Arc::new(Plugins::load(&config.plugins, &config.server.http)?);
    let app = App::open_with(config.clone(), plugins).await?;
    app.spawn_maintenance();
    app.spawn_file_sweep();
    app.backups.spawn_schedule();
    app.realtime.start()?;
    if crate::plugins::identity::human_superusers(&app.records)? == 0 {
        // A one-time link to the dashboard's setup page (valid until used or restart).
        let token = app.accounts.setup.arm();
        let dir = config.server.dir.display();
        eprintln!(
            "\nNo superuser exists yet. Create the first one in the browser:\n\n    http://{}/_/#/setup?token={token}\n\nor with the CLI:\n\n    ferrobase superuser upsert EMAIL PASSWORD --dir {dir}\n",
            config.server.http
        );
    }
    let limits = crate::conn::Limits {
        header_read_timeout: Duration::from_secs(config.server.header_read_timeout_secs),
        idle_timeout: Duration::from_secs(config.server.idle_timeout_secs),
        max_per_ip: config.server.max_connections_per_ip,
    };
    let acceptor = LimitedAcceptor::bind(&config.server.http, limits, app.connections.clone())
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.server.http))?;
    // Sidecars start once `{url}` accepts connections and before requests are served, so
    // their hooks are installed (and their ports open) when the first request arrives.
    if let Err(e) = app.plugins.start(&app.records).await {
        app.plugins.stop(&app.records).await;
        app.shutdown().await;
        return Err(e);
    }
    // Plugins' `[[webhooks]]` (their `{port}` is known now), then every dispatcher.
    if let Err(e) = app.webhooks.declare(declared_webhooks(&app.plugins)).await {
        app.plugins.stop(&app.records).await;
        app.shutdown().await;
        return Err(e);
    }
    app.webhooks.start();
    tracing::info!(addr = %config.server.http, dir = %config.server.dir.display(), "ferrobase listening");
    println!(
        "Server started at http://{}\n├─ REST API:  http://{}/api/\n└─ Dashboard: http://{}/_/",
        config.server.http, config.server.http, config.server.http
    );
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let realtime = app.realtime.clone();
    let realtime_wait = Duration::from_millis(config.realtime.shutdown_wait_ms);
    let backups = app.backups.clone();
    let stop = async move {
        tokio::select! {
            _ = shutdown_signal() => {}
            _ = backups.restart_requested() => {
                tracing::info!("restarting to swap in a restored backup");
            }
        }
        // Realtime connections never finish on their own: close them (WS 1001, SSE streams
        // end) so the graceful drain does not wait for them.
        realtime.hub.shutdown(realtime_wait).await;
    };
    let result = Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(crate::api::routes(app.clone()), stop, Some(grace))
        .await;
    // After the drain: in-flight writes may still have needed their hooks.
    app.plugins.stop(&app.records).await;
    // Every acknowledged write is already durable; this drains what is queued and flushes.
    app.shutdown().await;
    let restart = app.backups.restart_pending();
    result.map_err(|e| format!("server error on {}: {e}", config.server.http))?;
    Ok(if restart {
        Served::Restart
    } else {
        Served::Stopped
    })
}

/// The webhooks the loaded plugins declare, in the webhooks service's terms.
fn declared_webhooks(plugins: &Plugins) -> Vec<crate::webhooks::Declared> {
    plugins
        .declared_webhooks()
        .into_iter()
        .map(|w| {
            let mut body = serde_json::Map::new();
            body.insert("name".into(), w.name.into());
            body.insert("url".into(), w.url.into());
            body.insert("collections".into(), w.collections.into());
            body.insert("actions".into(), w.actions.into());
            body.insert("filter".into(), w.filter.into());
            body.insert("headers".into(), serde_json::json!(w.headers));
            body.insert("timeout".into(), w.timeout.into());
            body.insert("secret".into(), w.secret.into());
            body.insert("enabled".into(), w.enabled.into());
            crate::webhooks::Declared {
                owner: w.plugin,
                key: w.index.to_string(),
                body,
            }
        })
        .collect()
}

/// After a clean stop, once every handle on the store is gone (the runtime has shut down):
/// reopen the data dir once so the next start is fast (see `SledStore::checkpoint`). A failure
/// only costs the next start its speed.
pub fn checkpoint(config: &Config) {
    let options = crate::app::store_options(config);
    match crate::store::SledStore::checkpoint(&config.server.dir, &options) {
        Ok(took) => tracing::info!(
            took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            "store checkpointed for a fast next start"
        ),
        Err(e) => tracing::warn!(error = %e, "store checkpoint skipped"),
    }
}

pub async fn superuser(config: Config, action: SuperuserAction) -> Result<(), String> {
    let app = App::open(config).await?;
    let result = match action {
        SuperuserAction::Upsert { email, password } => {
            upsert_superuser(&app, &email, &password).await
        }
        SuperuserAction::Delete { email } => delete_superuser(&app, &email).await,
    };
    app.shutdown().await;
    result
}

fn describe(e: crate::error::ApiError) -> String {
    let body = e.body();
    format!(
        "{} {}",
        body["message"].as_str().unwrap_or(""),
        body["data"]
    )
}

async fn upsert_superuser(app: &App, email: &str, password: &str) -> Result<(), String> {
    let col = app
        .schema
        .get(SUPERUSERS_ID)
        .ok_or("the _superusers collection is missing")?;
    let body = |v: Value| Request {
        data: v.as_object().cloned().unwrap_or_default(),
        from_form: false,
        ..Default::default()
    };
    match crate::accounts::find_by_unique(&app.accounts, &col, "email", email) {
        Some(existing) => {
            app.records
                .update(
                    SUPERUSERS_ID,
                    existing.id().as_str(),
                    &body(json!({"password": password, "passwordConfirm": password})),
                    &Shape::default(),
                    &Caller::System,
                    &RequestInfo::default(),
                )
                .await
                .map_err(describe)?;
            println!("Successfully changed superuser {email:?} password.");
        }
        None => {
            app.records.create(
                SUPERUSERS_ID,
                &body(json!({"email": email, "password": password, "passwordConfirm": password, "verified": true})),
                &Shape::default(),
                &Caller::System,
                &RequestInfo::default(),
            )
            .await
            .map_err(describe)?;
            println!("Successfully saved superuser {email:?}!");
        }
    }
    Ok(())
}

async fn delete_superuser(app: &App, email: &str) -> Result<(), String> {
    let col = app
        .schema
        .get(SUPERUSERS_ID)
        .ok_or("the _superusers collection is missing")?;
    let existing = crate::accounts::find_by_unique(&app.accounts, &col, "email", email)
        .ok_or_else(|| format!("superuser {email:?} not found"))?;
    app.records
        .delete(
            SUPERUSERS_ID,
            existing.id().as_str(),
            &Caller::System,
            &RequestInfo::default(),
        )
        .await
        .map_err(describe)?;
    println!("Successfully deleted superuser {email:?}.");
    Ok(())
}

/// Where `ferrobase typegen` reads the schema.
pub enum TypegenSource {
    /// The stopped server's data dir (`--dir` / the config's).
    DataDir,
    /// A running server: log in as a superuser and fetch `/api/typegen.ts`.
    Server {
        url: String,
        email: String,
        password: String,
    },
}

/// `ferrobase typegen`: the generated module into `out` (`-` = stdout).
pub fn typegen(
    config: &Config,
    source: TypegenSource,
    out: &std::path::Path,
) -> Result<(), String> {
    let (text, collections) = match source {
        TypegenSource::DataDir => {
            let cols = stored_collections(config)?;
            let generated = crate::typegen::generate(cols.iter());
            (generated.text, Some(cols.len()))
        }
        TypegenSource::Server {
            url,
            email,
            password,
        } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the async runtime: {e}"))?;
            let text = runtime.block_on(fetch_types(&url, &email, &password))?;
            (text, None)
        }
    };
    if out.as_os_str() == "-" {
        print!("{text}");
        return Ok(());
    }
    // Rewritten only when it changed, and atomically, so watchers (bundlers, tsc --watch)
    // neither rebuild for nothing nor read half a file.
    let unchanged = std::fs::read(out).is_ok_and(|old| old == text.as_bytes());
    if !unchanged {
        let mut tmp = out.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, &text)
            .and_then(|()| std::fs::rename(&tmp, out))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                format!("cannot write {}: {e}", out.display())
            })?;
    }
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("// Schema version: "))
        .unwrap_or("?");
    match collections {
        Some(n) => eprintln!(
            "{} {} ({n} collections, schema version {version}).",
            if unchanged { "Unchanged:" } else { "Wrote" },
            out.display()
        ),
        None => eprintln!(
            "{} {} (schema version {version}).",
            if unchanged { "Unchanged:" } else { "Wrote" },
            out.display()
        ),
    }
    Ok(())
}

/// The collections stored in a stopped server's data dir (read-only; refused while in use).
fn stored_collections(config: &Config) -> Result<Vec<crate::schema::Collection>, String> {
    let dir = &config.server.dir;
    let inspector =
        crate::store::Inspector::open(dir, &crate::app::store_options(config)).map_err(|e| {
            let e = e.to_string();
            if e.contains("in use") {
                format!("{e}\nTo generate types from a running server use --url URL --email EMAIL --password PASSWORD.")
            } else {
                format!("cannot read {}: {e}", dir.display())
            }
        })?;
    inspector
        .scan_meta(crate::store::META_COLLECTION)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(key, bytes)| {
            crate::schema::Collection::from_storage(&bytes).map_err(|e| format!("{key}: {e}"))
        })
        .collect()
}

/// Logs in to `url` as a superuser and fetches `/api/typegen.ts`.
async fn fetch_types(url: &str, email: &str, password: &str) -> Result<String, String> {
    let base = url.trim_end_matches('/');
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let failed = |what: &str, status: reqwest::StatusCode, body: &str| {
        let message = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v["message"].as_str().map(String::from))
            .unwrap_or_else(|| body.chars().take(200).collect());
        format!("{what}: {status} {message}")
    };
    let login = client
        .post(format!(
            "{base}/api/collections/{}/auth-with-password",
            crate::schema::SUPERUSERS_NAME
        ))
        .json(&json!({"identity": email, "password": password}))
        .send()
        .await
        .map_err(|e| format!("cannot reach {base}: {e}"))?;
    let status = login.status();
    let body = read_limited(login).await?;
    if !status.is_success() {
        return Err(failed("superuser login failed", status, &body));
    }
    let token = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["token"].as_str().map(String::from))
        .ok_or("superuser login answered without a token")?;
    let resp = client
        .get(format!("{base}/api/typegen.ts"))
        .header("authorization", &token)
        .send()
        .await
        .map_err(|e| format!("cannot reach {base}: {e}"))?;
    let status = resp.status();
    let body = read_limited(resp).await?;
    if status == reqwest::StatusCode::NOT_FOUND {
        // PocketBase itself (or a Ferrobase without the endpoint): its collections, generated
        // here by the same generator.
        let cols = fetch_collections(&client, base, &token).await?;
        return Ok(crate::typegen::generate(cols.iter()).text);
    }
    if !status.is_success() {
        return Err(failed("GET /api/typegen.ts failed", status, &body));
    }
    Ok(body)
}

/// Every collection of `GET /api/collections`, page by page (at most 100 pages of 500).
async fn fetch_collections(
    client: &reqwest::Client,
    base: &str,
    token: &str,
) -> Result<Vec<crate::schema::Collection>, String> {
    const PER_PAGE: usize = 500;
    let mut cols = Vec::new();
    for page in 1..=100usize {
        let resp = client
            .get(format!(
                "{base}/api/collections?page={page}&perPage={PER_PAGE}&skipTotal=1"
            ))
            .header("authorization", token)
            .send()
            .await
            .map_err(|e| format!("cannot reach {base}: {e}"))?;
        let status = resp.status();
        let body = read_limited(resp).await?;
        let v: Value = serde_json::from_str(&body)
            .map_err(|_| format!("GET /api/collections failed: {status}"))?;
        if !status.is_success() {
            let message = v["message"].as_str().unwrap_or_default();
            return Err(format!("GET /api/collections failed: {status} {message}"));
        }
        let items = v["items"].as_array().cloned().unwrap_or_default();
        let n = items.len();
        for item in items {
            let name = item["name"].as_str().unwrap_or_default().to_string();
            let c = crate::schema::Collection::from_storage(item.to_string().as_bytes())
                .map_err(|e| format!("collection {name:?}: {e}"))?;
            cols.push(c);
        }
        if n < PER_PAGE {
            return Ok(cols);
        }
    }
    Err("more than 50,000 collections".into())
}

/// A response body as text, refusing more than 64 MiB (no schema's types come near that).
async fn read_limited(mut resp: reqwest::Response) -> Result<String, String> {
    const LIMIT: usize = 64 << 20;
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
    {
        if body.len() + chunk.len() > LIMIT {
            return Err(format!("the answer is larger than {} MiB", LIMIT >> 20));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| "the answer is not UTF-8 text".to_string())
}
