//! Outgoing mail: SMTP through `lettre` when `[smtp] host` is set. Without SMTP every message is
//! kept (newest [`KEPT_MAILS`], persisted in store metadata so they survive restarts), logged,
//! and readable by superusers at `GET /api/mails` — never silently dropped. A message that SMTP
//! refuses is kept the same way.
//!
//! Account-flow mails go through a bounded background queue ([`Mailer::queue`]): a job is
//! queued in constant time and built (account lookup, token) and sent later, so a request-*
//! endpoint answers in the same time whether or not the address has an account. Each recipient
//! gets at most `[smtp] max_per_recipient` mails per `recipient_window_secs`; excess mails and
//! jobs that find the queue full are dropped and logged.

use crate::config::SmtpConfig;
use crate::store::{Store, WriteOp};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How many messages are kept when they are not (or could not be) sent.
pub const KEPT_MAILS: usize = 200;
const META_MAILS: &str = "_mails";
/// Most recipients whose recent mails are counted; beyond it (after forgetting expired windows)
/// mails to new recipients are dropped rather than letting the table grow.
const MAX_TRACKED_RECIPIENTS: usize = 10_000;

/// One message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub html: String,
}

/// Work done in the background: builds the mail to send, or `None` when there is nothing to
/// send (e.g. no account has the address).
pub type MailJob = Box<dyn FnOnce() -> Option<Mail> + Send>;

pub struct Mailer {
    delivery: Arc<Delivery>,
    queue: mpsc::Sender<MailJob>,
}

/// Sending or keeping one message, shared by the caller-facing [`Mailer`] and the queue worker.
struct Delivery {
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    sender: String,
    store: Arc<dyn Store>,
    /// Serializes read-modify-write of the kept messages.
    kept: tokio::sync::Mutex<()>,
    throttle: Throttle,
}

/// At most `max` mails per recipient within a fixed window (0 = unlimited).
struct Throttle {
    max: u32,
    window: Duration,
    recent: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Throttle {
    fn allow(&self, to: &str) -> bool {
        if self.max == 0 {
            return true;
        }
        let now = Instant::now();
        let Ok(mut recent) = self.recent.lock() else {
            return false;
        };
        let to = to.to_lowercase();
        if recent.len() >= MAX_TRACKED_RECIPIENTS && !recent.contains_key(&to) {
            recent.retain(|_, (start, _)| now.duration_since(*start) < self.window);
            if recent.len() >= MAX_TRACKED_RECIPIENTS {
                return false;
            }
        }
        let (start, count) = recent.entry(to).or_insert((now, 0));
        if now.duration_since(*start) >= self.window {
            (*start, *count) = (now, 0);
        }
        if *count >= self.max {
            return false;
        }
        *count += 1;
        true
    }
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
    /// Builds the mailer and starts its queue worker (needs a tokio runtime).
    pub fn new(cfg: &SmtpConfig, store: Arc<dyn Store>) -> Result<Self, String> {
        cfg.sender
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| format!("smtp.sender {:?}: {e}", cfg.sender))?;
        let delivery = Arc::new(Delivery {
            smtp: transport(cfg)?,
            sender: cfg.sender.clone(),
            store,
            kept: tokio::sync::Mutex::new(()),
            throttle: Throttle {
                max: cfg.max_per_recipient,
                window: Duration::from_secs(cfg.recipient_window_secs.max(1)),
                recent: Mutex::new(HashMap::new()),
            },
        });
        let (queue, mut jobs) = mpsc::channel::<MailJob>(cfg.queue.max(1));
        let worker = delivery.clone();
        // Ends once the Mailer (the only sender) is dropped and the queue is drained.
        tokio::spawn(async move {
            while let Some(job) = jobs.recv().await {
                if let Some(mail) = job() {
                    let _ = worker.send(mail).await;
                }
            }
        });
        Ok(Self { delivery, queue })
    }

    /// Queues `job` without waiting: it is built and sent in the background, in order. A full
    /// queue drops the job (logged).
    pub fn queue(&self, job: MailJob) {
        if self.queue.try_send(job).is_err() {
            tracing::warn!("mail queue full or closed; mail dropped");
        }
    }

    /// Sends `mail` now (or keeps it when SMTP is not configured). `Err` only when SMTP is
    /// configured and refused it; the message is kept in that case too. A throttled mail is
    /// dropped (logged) and counts as sent.
    pub async fn send(&self, mail: Mail) -> Result<(), String> {
        self.delivery.send(mail).await
    }

    /// The kept messages, oldest first.
    pub fn kept_mails(&self) -> Vec<Value> {
        self.delivery.kept_mails()
    }
}

impl Delivery {
    async fn send(&self, mail: Mail) -> Result<(), String> {
        if !self.throttle.allow(&mail.to) {
            tracing::warn!(to = %mail.to, subject = %mail.subject, "too many mails to this recipient; mail dropped");
            return Ok(());
        }
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

    fn kept_mails(&self) -> Vec<Value> {
        self.store
            .get_meta(META_MAILS)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice::<Vec<Value>>(&b).ok())
            .unwrap_or_default()
    }
}
