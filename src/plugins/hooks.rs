//! The HTTP side of before-hooks: [`HookRunner`] implements `records::WriteHooks` by POSTing
//! `{"event","collection","record","previous","auth"}` to each matching hook in order.
//!
//! Replies: 2xx with `{"record":{…}}` replaces the pending values (the next hook and the
//! validation see the replacement), 2xx with an empty body (or no `record`) keeps them, 4xx
//! refuses the write with a 400 carrying the hook's `message`. Anything else — another status,
//! a timeout, a connection error, a reply over 1 MB or not JSON — is a failure: with
//! `on_error = "reject"` the write is refused with 502, with `"allow"` it goes on (logged).

use super::manifest::{format_duration, HookSpec, OnError};
use crate::error::{ApiError, ApiResult};
use crate::records::{AuthRef, HookEvent, HookFuture, PendingWrite, WriteHooks};
use crate::schema::Collection;
use serde_json::{json, Map, Value};

/// Largest hook reply read; a longer one is a failure.
pub const MAX_REPLY_BYTES: usize = 1024 * 1024;
/// Longest hook `message` passed on to the client.
const MAX_MESSAGE_CHARS: usize = 500;

/// One hook of one plugin.
#[derive(Debug, Clone)]
pub struct BoundHook {
    pub plugin: String,
    pub spec: HookSpec,
}

impl BoundHook {
    fn matches(&self, event: HookEvent, col: &Collection) -> bool {
        self.spec.event == event
            && (self.spec.collections.is_empty()
                || self
                    .spec
                    .collections
                    .iter()
                    .any(|c| *c == col.name || *c == col.id.0))
    }
}

/// What one hook answered.
#[derive(Debug, PartialEq)]
pub enum Reply {
    Keep,
    Replace(Map<String, Value>),
    Refuse(String),
    Failed(String),
}

/// Every loaded plugin's hooks, in plugin then manifest order.
pub struct HookRunner {
    client: reqwest::Client,
    hooks: Vec<BoundHook>,
}

impl HookRunner {
    pub fn new(hooks: Vec<BoundHook>) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| format!("cannot build the hook HTTP client: {e}"))?;
        Ok(Self { client, hooks })
    }

    async fn call(&self, hook: &BoundHook, payload: &Value) -> Reply {
        let attempt = async {
            let resp = self
                .client
                .post(&hook.spec.url)
                .json(payload)
                .send()
                .await
                .map_err(|e| {
                    if e.is_connect() {
                        "cannot connect".to_string()
                    } else {
                        "request failed".to_string()
                    }
                })?;
            let status = resp.status();
            let body = read_bounded(resp).await?;
            Ok::<_, String>(interpret(status.as_u16(), &body, &hook.plugin))
        };
        match tokio::time::timeout(hook.spec.timeout, attempt).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(reason)) => Reply::Failed(reason),
            Err(_) => Reply::Failed(format!(
                "timed out after {}",
                format_duration(hook.spec.timeout)
            )),
        }
    }
}

async fn read_bounded(mut resp: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|_| "reply cut off".to_string())?
    {
        if body.len() + chunk.len() > MAX_REPLY_BYTES {
            return Err("reply larger than 1 MB".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A hook's reply by status and body.
pub fn interpret(status: u16, body: &[u8], plugin: &str) -> Reply {
    let text = String::from_utf8_lossy(body);
    let parsed = || serde_json::from_str::<Value>(&text);
    match status {
        200..=299 if text.trim().is_empty() => Reply::Keep,
        200..=299 => match parsed() {
            Ok(Value::Object(mut reply)) => match reply.remove("record") {
                None | Some(Value::Null) => Reply::Keep,
                Some(Value::Object(record)) => Reply::Replace(record),
                Some(_) => Reply::Failed("reply's record is not an object".into()),
            },
            _ => Reply::Failed("reply is not a JSON object".into()),
        },
        400..=499 => {
            let message = parsed()
                .ok()
                .and_then(|v| v.get("message")?.as_str().map(str::to_string))
                .filter(|m| !m.trim().is_empty())
                .unwrap_or_else(|| format!("The {plugin} plugin refused the request."));
            Reply::Refuse(message.chars().take(MAX_MESSAGE_CHARS).collect())
        }
        other => Reply::Failed(format!("answered {other}")),
    }
}

fn auth_json(auth: &Option<AuthRef>) -> Value {
    match auth {
        None => Value::Null,
        Some(a) => json!({
            "id": a.id,
            "collectionId": a.collection_id,
            "collectionName": a.collection_name,
        }),
    }
}

impl WriteHooks for HookRunner {
    fn wants(&self, event: HookEvent, collection: &Collection) -> bool {
        self.hooks.iter().any(|h| h.matches(event, collection))
    }

    fn before<'a>(&'a self, write: PendingWrite<'a>) -> HookFuture<'a> {
        Box::pin(async move {
            let col = write.collection;
            let mut record = write.record;
            let mut replaced = false;
            for hook in self.hooks.iter().filter(|h| h.matches(write.event, col)) {
                let payload = json!({
                    "event": write.event.name(),
                    "collection": col.name,
                    "record": record,
                    "previous": write.previous,
                    "auth": auth_json(&write.auth),
                });
                match self.call(hook, &payload).await {
                    Reply::Keep => {}
                    Reply::Replace(r) if write.event != HookEvent::BeforeDelete => {
                        record = r;
                        replaced = true;
                    }
                    Reply::Replace(_) => {}
                    Reply::Refuse(message) => return Err(ApiError::bad_request(message)),
                    Reply::Failed(reason) => failed(hook, write.event, &reason)?,
                }
            }
            Ok(replaced.then_some(record))
        })
    }
}

/// A failed hook: refuses the write (502) or, with `on_error = "allow"`, lets it go on.
fn failed(hook: &BoundHook, event: HookEvent, reason: &str) -> ApiResult<()> {
    let (plugin, url) = (&hook.plugin, &hook.spec.url);
    let on_error = hook.spec.on_error.name();
    tracing::warn!(%plugin, event = event.name(), %url, %reason, on_error, "plugin hook failed");
    match hook.spec.on_error {
        OnError::Allow => Ok(()),
        OnError::Reject => Err(ApiError::BadGateway(format!(
            "The plugin hook {plugin}/{} failed: {reason}.",
            event.name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_interpreted_by_status_and_body() {
        assert_eq!(interpret(200, b"", "p"), Reply::Keep);
        assert_eq!(interpret(204, b"  \n", "p"), Reply::Keep);
        assert_eq!(interpret(200, b"{}", "p"), Reply::Keep);
        assert_eq!(interpret(200, br#"{"record":null}"#, "p"), Reply::Keep);
        let Reply::Replace(r) = interpret(200, br#"{"record":{"slug":"a-b"}}"#, "p") else {
            panic!("expected a replacement");
        };
        assert_eq!(r.get("slug"), Some(&json!("a-b")));
        assert_eq!(
            interpret(200, br#"{"record":[1]}"#, "p"),
            Reply::Failed("reply's record is not an object".into())
        );
        assert_eq!(
            interpret(200, b"ok", "p"),
            Reply::Failed("reply is not a JSON object".into())
        );
        assert_eq!(
            interpret(422, br#"{"message":"Title is taken."}"#, "p"),
            Reply::Refuse("Title is taken.".into())
        );
        assert_eq!(
            interpret(400, b"nope", "slugify"),
            Reply::Refuse("The slugify plugin refused the request.".into())
        );
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(2000));
        let Reply::Refuse(m) = interpret(400, long.as_bytes(), "p") else {
            panic!("expected a refusal");
        };
        assert_eq!(m.chars().count(), MAX_MESSAGE_CHARS);
        assert_eq!(
            interpret(500, b"{}", "p"),
            Reply::Failed("answered 500".into())
        );
        assert_eq!(
            interpret(302, b"", "p"),
            Reply::Failed("answered 302".into())
        );
    }
}
