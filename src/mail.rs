//! Outgoing mail: SMTP through `lettre` when `[smtp] host` is set. Without SMTP every message is
//! kept (newest [`KEPT_MAILS`], persisted in store metadata so they survive restarts), logged,
//! and readable by superusers at `GET /api/mails` — never silently dropped. A message that SMTP
//! refuses is kept the same way.

use crate::config::SmtpConfig;
use crate::store::{Store, WriteOp};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{json, Value};
use std::sync::Arc;

/// How many messages are kept when they are not (or could not be) sent.
pub const KEPT_MAILS: usize = 200;
const META_MAILS: &str = "_mails";

/// One message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub html: String,
}

pub struct Mailer {
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    sender: String,
    store: Arc<dyn Store>,
    /// Serializes read-modify-write of the kept messages.
    kept: tokio::sync::Mutex<()>,
}

fn transport(cfg: &SmtpConfig) -> Result<Option<AsyncSmtpTransport<Tokio1Executor>>, String> {
    if cfg.host.trim().is_empty() {
        return Ok(None);
    }
    let builder = match cfg.tls.as_str() {
        "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&cfg.host),
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&cfg.host),
        "none" => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            &cfg.host,
        )),
        other => {
            return Err(format!(
                "smtp.tls must be \"starttls\", \"tls\" or \"none\", got {other:?}"
            ))
        }
    }
    .map_err(|e| format!("smtp: {e}"))?;
    let mut builder = builder.port(cfg.port);
    if !cfg.username.is_empty() {
        builder = builder.credentials(Credentials::new(cfg.username.clone(), cfg.password.clone()));
    }
    Ok(Some(builder.build()))
}

impl Mailer {
    pub fn new(cfg: &SmtpConfig, store: Arc<dyn Store>) -> Result<Self, String> {
        cfg.sender
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| format!("smtp.sender {:?}: {e}", cfg.sender))?;
        Ok(Self {
            smtp: transport(cfg)?,
            sender: cfg.sender.clone(),
            store,
            kept: tokio::sync::Mutex::new(()),
        })
    }

    /// Sends `mail` (or keeps it when SMTP is not configured). `Err` only when SMTP is
    /// configured and refused it; the message is kept in that case too.
    pub async fn send(&self, mail: Mail) -> Result<(), String> {
        let Some(smtp) = &self.smtp else {
            tracing::info!(to = %mail.to, subject = %mail.subject, "SMTP not configured; mail kept for GET /api/mails");
            self.keep(&mail, "kept").await;
            return Ok(());
        };
        let result = async {
            let message = Message::builder()
                .from(self.sender.parse().map_err(|e| format!("sender: {e}"))?)
                .to(mail.to.parse().map_err(|e| format!("recipient: {e}"))?)
                .subject(mail.subject.clone())
                .header(ContentType::TEXT_HTML)
                .body(mail.html.clone())
                .map_err(|e| e.to_string())?;
            smtp.send(message).await.map_err(|e| e.to_string())?;
            Ok::<(), String>(())
        }
        .await;
        match &result {
            Ok(()) => tracing::info!(to = %mail.to, subject = %mail.subject, "mail sent"),
            Err(e) => {
                tracing::error!(to = %mail.to, subject = %mail.subject, error = %e, "mail not sent; kept for GET /api/mails");
                self.keep(&mail, "failed").await;
            }
        }
        result
    }

    async fn keep(&self, mail: &Mail, status: &str) {
        let _guard = self.kept.lock().await;
        let mut list = self.kept_mails();
        list.push(json!({
            "id": crate::schema::random_id(),
            "created": crate::schema::now_string(),
            "status": status,
            "to": mail.to,
            "subject": mail.subject,
            "html": mail.html,
        }));
        let excess = list.len().saturating_sub(KEPT_MAILS);
        list.drain(..excess);
        let value = Value::Array(list).to_string().into_bytes();
        let op = WriteOp::PutMeta {
            key: META_MAILS.into(),
            value,
        };
        if let Err(e) = self.store.commit(vec![op]).await {
            tracing::error!(error = %e, to = %mail.to, subject = %mail.subject, html = %mail.html, "cannot persist a kept mail");
        }
    }

    /// The kept messages, oldest first.
    pub fn kept_mails(&self) -> Vec<Value> {
        self.store
            .get_meta(META_MAILS)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice::<Vec<Value>>(&b).ok())
            .unwrap_or_default()
    }
}
