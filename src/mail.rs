//! Outgoing mail, chosen per message from the settings in effect (`/api/settings`): SMTP
//! through `lettre` when `smtp.enabled`; otherwise the local `sendmail -t` when there is one
//! (`[smtp] sendmail`, as PocketBase); otherwise every message is kept (newest [`KEPT_MAILS`],
//! persisted in store metadata so they survive restarts), logged, and readable by superusers at
//! `GET /api/mails` — never silently dropped. A message that SMTP or sendmail refuses is kept
//! the same way. The `From:` is `meta.senderName <meta.senderAddress>`.
//!
//! Account-flow mails go through a bounded background queue ([`Mailer::queue`]): a job is
//! queued in constant time and built (account lookup, token) and sent later, so a request-*
//! endpoint answers in the same time whether or not the address has an account. Each recipient
//! gets at most `[smtp] max_per_recipient` mails per `recipient_window_secs`; excess mails and
//! jobs that find the queue full are dropped and logged.

use crate::config::SmtpConfig;
use crate::settings::{SettingsService, Smtp};
use crate::store::{Store, WriteOp};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
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
    settings: Arc<SettingsService>,
    /// The SMTP transport of the settings it was built for (rebuilt when `smtp` changes).
    smtp: Mutex<Option<(Smtp, AsyncSmtpTransport<Tokio1Executor>)>>,
    /// The sendmail program used while SMTP is disabled, if any.
    sendmail: Option<PathBuf>,
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

/// How long one SMTP or sendmail exchange may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// An SMTP transport for `s`: implicit TLS with `tls`, else STARTTLS when the server offers it
/// (PocketBase's semantics); `authMethod` `LOGIN` or `PLAIN` when a username is set.
fn smtp_transport(s: &Smtp) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let host = s.host.trim();
    let port =
        u16::try_from(s.port).map_err(|_| format!("smtp.port {} is out of range", s.port))?;
    let params = TlsParameters::new(host.to_string()).map_err(|e| format!("smtp: {e}"))?;
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .timeout(Some(SEND_TIMEOUT))
        .tls(if s.tls {
            Tls::Wrapper(params)
        } else {
            Tls::Opportunistic(params)
        });
    if !s.username.is_empty() {
        let mechanism = if s.auth_method == "LOGIN" {
            Mechanism::Login
        } else {
            Mechanism::Plain
        };
        builder = builder
            .credentials(Credentials::new(s.username.clone(), s.password.clone()))
            .authentication(vec![mechanism]);
    }
    if !s.local_name.is_empty() {
        builder = builder.hello_name(ClientId::Domain(s.local_name.clone()));
    }
    Ok(builder.build())
}

/// The sendmail program `[smtp] sendmail` names: a path, `off`, or empty for the usual places.
fn find_sendmail(cfg: &SmtpConfig) -> Option<PathBuf> {
    match cfg.sendmail.trim() {
        "off" => None,
        "" => ["/usr/sbin/sendmail", "/usr/lib/sendmail"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file()),
        path => Some(PathBuf::from(path)),
    }
}

/// Pipes `message` to `sendmail -t -i` (recipients from the headers).
async fn sendmail(program: &Path, message: &Message) -> Result<(), String> {
    let mut child = tokio::process::Command::new(program)
        .args(["-t", "-i"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("sendmail {}: {e}", program.display()))?;
    let run = async {
        // A program that exits early breaks the pipe: its exit status says more than that.
        let written = match child.stdin.take() {
            Some(mut stdin) => stdin
                .write_all(&message.formatted())
                .await
                .map_err(|e| format!("sendmail: {e}")),
            None => Ok(()),
        };
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| format!("sendmail: {e}"))?;
        if out.status.success() {
            written
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            Err(format!(
                "sendmail exited with {}: {}",
                out.status,
                crate::error::echo(err.trim())
            ))
        }
    };
    tokio::time::timeout(SEND_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| Err("sendmail timed out".into()))
}

impl Mailer {
    /// Builds the mailer and starts its queue worker (needs a tokio runtime).
    pub fn new(
        cfg: &SmtpConfig,
        settings: Arc<SettingsService>,
        store: Arc<dyn Store>,
    ) -> Result<Self, String> {
        cfg.sender
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| format!("smtp.sender {:?}: {e}", cfg.sender))?;
        if !["starttls", "tls", "none"].contains(&cfg.tls.as_str()) {
            return Err(format!(
                "smtp.tls must be \"starttls\", \"tls\" or \"none\", got {:?}",
                cfg.tls
            ));
        }
        let delivery = Arc::new(Delivery {
            settings,
            smtp: Mutex::new(None),
            sendmail: find_sendmail(cfg),
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

    /// Sends `mail` now (or keeps it when neither SMTP nor sendmail is available). `Err` only
    /// when SMTP or sendmail refused it; the message is kept in that case too. A throttled mail is
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
    /// The SMTP transport for the current `smtp` settings (cached until they change).
    fn transport(&self, s: &Smtp) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let mut cached = self
            .smtp
            .lock()
            .map_err(|_| "smtp transport lock poisoned")?;
        if let Some((built_for, t)) = cached.as_ref() {
            if built_for == s {
                return Ok(t.clone());
            }
        }
        let t = smtp_transport(s)?;
        *cached = Some((s.clone(), t.clone()));
        Ok(t)
    }

    async fn send(&self, mail: Mail) -> Result<(), String> {
        if !self.throttle.allow(&mail.to) {
            tracing::warn!(to = %mail.to, subject = %mail.subject, "too many mails to this recipient; mail dropped");
            return Ok(());
        }
        let settings = self.settings.current();
        let via = if settings.smtp.enabled {
            "SMTP"
        } else if self.sendmail.is_some() {
            "sendmail"
        } else {
            tracing::info!(to = %mail.to, subject = %mail.subject, "SMTP not configured; mail kept for GET /api/mails");
            self.keep(&mail, "kept").await;
            return Ok(());
        };
        let result = async {
            let message = Message::builder()
                .from(
                    settings
                        .sender()
                        .parse()
                        .map_err(|e| format!("sender: {e}"))?,
                )
                .to(mail.to.parse().map_err(|e| format!("recipient: {e}"))?)
                .subject(mail.subject.clone())
                .header(ContentType::TEXT_HTML)
                .body(mail.html.clone())
                .map_err(|e| e.to_string())?;
            match &self.sendmail {
                Some(program) if !settings.smtp.enabled => sendmail(program, &message).await,
                _ => {
                    let smtp = self.transport(&settings.smtp)?;
                    smtp.send(message).await.map_err(|e| e.to_string())?;
                    Ok(())
                }
            }
        }
        .await;
        match &result {
            Ok(()) => tracing::info!(to = %mail.to, subject = %mail.subject, via, "mail sent"),
            Err(e) => {
                tracing::error!(to = %mail.to, subject = %mail.subject, via, error = %e, "mail not sent; kept for GET /api/mails");
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
