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
