//! PocketBase-compatible SSE: `GET /api/realtime` opens a stream whose first event is
//! `PB_CONNECT` with the client id; `POST /api/realtime {clientId, subscriptions}` replaces that
//! client's topics. Events are named by the topic string exactly as the client sent it.
//!
//! Differences from PocketBase, all invisible to its SDK: keep-alive comments (`:`) on idle
//! streams and no idle hang-up; a record leaving a subscriber's rule or filter is sent as
//! `delete` (entering as `create`) instead of silence. Like PocketBase, a client bound to an
//! auth record refuses a POST with another (or no) auth (403), so knowing a client id is not
//! enough to take it over. Every event's `id:` stays the client id (the SDK reads it from
//! `PB_CONNECT`), so SSE has no resume; the WebSocket protocol has.

use super::frame::{self, Out};
use super::hub::{Conn, ConnAuth, ConnGuard, Refusal};
use super::sub::Spec;
use super::Realtime;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors, MSG_GENERIC};
use bytes::Bytes;
use poem::{Body, Response};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// PocketBase's limits on one subscriptions POST.
const MAX_TOPICS: usize = 1000;
const MAX_TOPIC_LEN: usize = 2500;
/// PocketBase's answer when a POST's auth differs from the one the client is bound to.
pub const MSG_AUTH_MISMATCH: &str =
    "The current and the previous request authorization don't match.";
/// `Retry-After` of a refusal over a per-IP budget (it frees when the client's other
/// connections unsubscribe or close).
const RETRY_AFTER_SECS: u64 = 5;

struct Stream {
    first: Option<String>,
    rt: Arc<Realtime>,
    conn: Arc<Conn>,
    rx: mpsc::Receiver<Out>,
    keepalive: tokio::time::Interval,
    shutdown: watch::Receiver<bool>,
    _guard: ConnGuard,
}

/// `GET /api/realtime` from `ip`: registers a client and returns its event stream.
pub fn connect(rt: &Arc<Realtime>, ip: String) -> ApiResult<Response> {
    let client_id: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let auth = ConnAuth {
        caller: Caller::Guest,
        token: None,
    };
    let (conn, rx, guard) = rt
        .hub
        .connect(auth, Some(client_id.clone()), ip)
        .map_err(refused_connection)?;
    let every = Duration::from_secs(rt.hub.config.sse_keepalive_secs.max(1));
    let state = Stream {
        first: Some(frame::sse_connect(&client_id)),
        rt: rt.clone(),
        conn,
        rx,
        keepalive: tokio::time::interval_at(tokio::time::Instant::now() + every, every),
        shutdown: rt.hub.shutdown_signal(),
        _guard: guard,
    };
    let body = futures_util::stream::unfold(state, next_chunk);
    Ok(Response::builder()
        .content_type("text/event-stream")
        .header("cache-control", "no-store")
        .header("x-accel-buffering", "no")
        .body(Body::from_bytes_stream(body)))
}

async fn next_chunk(mut st: Stream) -> Option<(Result<Bytes, std::io::Error>, Stream)> {
    if let Some(first) = st.first.take() {
        return Some((Ok(Bytes::from(first)), st));
    }
    loop {
        if *st.shutdown.borrow() || st.conn.close_code().is_some() {
            return None;
        }
        tokio::select! {
            biased;
            changed = st.shutdown.changed() => {
                if changed.is_err() {
                    return None;
                }
            }
            _ = st.conn.wake.notified() => {}
            _ = st.keepalive.tick() => {
                st.rt.hub.recheck_auth(&st.rt.records, &st.conn);
                return Some((Ok(Bytes::from_static(b":\n\n")), st));
            }
            item = st.rx.recv() => match item {
                Some(Out::Event { sub, kind, record, .. }) => {
                    let cid = st.conn.client_id.as_deref().unwrap_or("");
                    let chunk = frame::sse_event(cid, &sub, kind, &record);
                    return Some((Ok(Bytes::from(chunk)), st));
                }
                Some(Out::Control(_)) => {}
                None => return None,
            },
        }
    }
}

/// Maps a refused realtime connection (WebSocket or SSE) to its HTTP error.
pub fn refused_connection(r: Refusal) -> ApiError {
    match r {
        Refusal::Full => ApiError::Unavailable,
        Refusal::TooManyGuests => ApiError::TooManyRequests {
            retry_after_secs: RETRY_AFTER_SECS,
        },
    }
}

/// `POST /api/realtime`: validates like PocketBase, refuses a caller other than the one the
/// client is bound to, then replaces the client's topics and binds it to `caller`.
pub fn set_subscriptions(
    rt: &Realtime,
    body: &Value,
    caller: Caller,
    token: Option<String>,
) -> ApiResult<()> {
    let client_id = body.get("clientId").and_then(Value::as_str).unwrap_or("");
    let topics: Vec<&str> = match body.get("subscriptions") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut errors = FieldErrors::new();
    if client_id.is_empty() {
        errors.add("clientId", FieldError::required());
    }
    if topics.len() > MAX_TOPICS {
        errors.add("subscriptions", too_long(MAX_TOPICS));
    }
    for (i, t) in topics.iter().enumerate() {
        if t.chars().count() > MAX_TOPIC_LEN {
            errors.add(format!("subscriptions.{i}"), too_long(MAX_TOPIC_LEN));
            break;
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(MSG_GENERIC, errors));
    }
    let conn = rt
        .hub
        .sse_client(client_id)
        .ok_or_else(|| ApiError::NotFound("Missing or invalid client id.".into()))?;
    if let Some(bound) = conn.caller().auth() {
        let same = caller
            .auth()
            .is_some_and(|a| a.collection.id == bound.collection.id && a.id() == bound.id());
        if !same {
            return Err(ApiError::Forbidden(MSG_AUTH_MISMATCH.into()));
        }
    }
    let mut specs: Vec<(Arc<str>, Arc<Spec>)> = Vec::new();
    for topic in topics {
        if specs.iter().any(|(t, _)| &**t == topic) {
            continue;
        }
        // Unknown collections, bad options and the SDK's own `PB_CONNECT` / `@oauth2` topics are
        // accepted silently, like PocketBase: they just never fire.
        if let Some(spec) = topic_spec(rt, topic, &caller) {
            specs.push((Arc::from(topic), Arc::new(spec)));
        }
    }
    rt.hub.replace(&conn, specs).map_err(|r| match r {
        r if r.per_ip() => ApiError::TooManyRequests {
            retry_after_secs: RETRY_AFTER_SECS,
        },
        r => ApiError::bad_field(
            MSG_GENERIC,
            "subscriptions",
            FieldError::new(r.field_code(), r.message()),
        ),
    })?;
    rt.hub.set_auth(
        &conn,
        ConnAuth {
            caller: caller.clone(),
            token,
        },
    );
    Ok(())
}

fn too_long(max: usize) -> FieldError {
    FieldError::new(
        "validation_length_too_long",
        format!("The length must be no more than {max}."),
    )
    .with_params(json!({"max": max}))
}

/// `coll/*`, `coll`, `coll/ID`, each optionally with `?options=<urlencoded {query, headers}>`.
fn topic_spec(rt: &Realtime, topic: &str, caller: &Caller) -> Option<Spec> {
    let (path, query) = match topic.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (topic, None),
    };
    let options = query
        .and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "options")
        })
        .and_then(|(_, v)| percent_decode(v))
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .unwrap_or(Value::Null);
    let q = &options["query"];
    let get = |k: &str| q.get(k).and_then(Value::as_str);
    match Spec::build(
        &rt.records,
        path,
        get("filter"),
        get("expand"),
        get("fields"),
        caller,
    ) {
        Ok(spec) => Some(spec),
        Err(r) => {
            tracing::debug!(topic, code = r.code, reason = %r.message, "ignored SSE topic");
            None
        }
    }
}

/// Decodes `%XX` and `+` (as sent by `encodeURIComponent` / form encoding).
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn decodes_sdk_options() {
        assert_eq!(
            percent_decode("%7B%22query%22%3A%7B%7D%7D").as_deref(),
            Some(r#"{"query":{}}"#)
        );
        assert_eq!(percent_decode("%7"), None);
        assert_eq!(percent_decode("%zz"), None);
    }
}
