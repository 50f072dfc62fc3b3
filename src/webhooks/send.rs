//! One signed HTTP attempt: the Standard Webhooks headers, the webhook's own headers, its
//! timeout, no redirects, and a bounded excerpt of whatever came back.

use super::delivery::{excerpt, Attempt, EXCERPT_BYTES};
use super::model::Webhook;
use super::{sign, target};
use crate::schema::now_string;
use std::time::{Duration, Instant};

/// Sends `body` for event `event_id` to `hook` once.
pub async fn attempt(
    client: &reqwest::Client,
    hook: &Webhook,
    event_id: &str,
    body: &str,
    allow_private: bool,
) -> Attempt {
    let at = now_string();
    let started = Instant::now();
    let fail = |error: String, started: Instant| Attempt {
        at: at.clone(),
        status_code: None,
        duration_ms: started.elapsed().as_millis() as u64,
        response_excerpt: String::new(),
        error: Some(error),
    };
    // Declared (plugin) webhooks are the operator's own: they may reach their sidecar.
    let allow_private = allow_private || hook.plugin.is_some();
    let url = match target::check_url(&hook.url, allow_private) {
        Ok(u) => u,
        Err(e) => return fail(e, started),
    };
    let key = match sign::secret_key(&hook.secret) {
        Ok(k) => k,
        Err(e) => return fail(e, started),
    };
    let ts = chrono::Utc::now().timestamp();
    let mut req = client
        .post(url)
        .timeout(Duration::from_secs(hook.timeout.max(1)))
        .header("content-type", "application/json")
        .header("webhook-id", event_id)
        .header("webhook-timestamp", ts.to_string())
        .header(
            "webhook-signature",
            sign::signature(&key, event_id, ts, body.as_bytes()),
        );
    for (name, value) in &hook.headers {
        req = req.header(name.as_str(), value.as_str());
    }
    let mut resp = match req.body(body.to_string()).send().await {
        Ok(r) => r,
        Err(e) => return fail(describe(&e), started),
    };
    let status = resp.status().as_u16();
    let mut head = Vec::new();
    // Read at most the excerpt; the rest of a large answer is not our business.
    while head.len() < EXCERPT_BYTES {
        match resp.chunk().await {
            Ok(Some(chunk)) => head.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    Attempt {
        at,
        status_code: Some(status),
        duration_ms: started.elapsed().as_millis() as u64,
        response_excerpt: excerpt(&head),
        error: None,
    }
}

/// A reqwest error with its causes (the guarded resolver's refusal is a cause, not the top).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut msg = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}
