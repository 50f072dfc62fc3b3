//! The WebSocket protocol (`docs/realtime.md`): one reader that answers client messages, one
//! writer that drains the connection's queue, sends heartbeats and close frames, and one replay
//! worker that runs the connection's `since` replays in order.

use super::frame::{self, Out};
use super::hub::{Conn, ConnAuth, ConnGuard, CLOSE_GOING_AWAY, CLOSE_LAGGED, CLOSE_NORMAL};
use super::replay::{self, Job};
use super::sub::Spec;
use super::Realtime;
use crate::auth::Caller;
use crate::error::echo;
use crate::ids::Seq;
use crate::records::render;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use poem::web::websocket::{CloseCode, Message, WebSocketConfig};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Longest accepted client message; subscriptions are small.
const MAX_MESSAGE: usize = 64 * 1024;
/// Longest subscription id.
const MAX_SUB_ID: usize = 128;

/// Small buffers: an idle connection should cost a few KB, not the 256 KB of the defaults.
pub fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(64 * 1024 + MAX_MESSAGE)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

/// Runs one WebSocket connection until either side ends it.
pub async fn run<S>(
    rt: Arc<Realtime>,
    socket: S,
    conn: Arc<Conn>,
    rx: mpsc::Receiver<Out>,
    guard: ConnGuard,
) where
    S: Stream<Item = std::io::Result<Message>> + Sink<Message> + Send + Unpin,
{
    let (sink, stream) = socket.split();
    let (jobs, queued) = mpsc::channel(rt.hub.config.max_subscriptions.max(1));
    tokio::select! {
        _ = writer(&rt, &conn, rx, sink) => {}
        _ = reader(&rt, &conn, stream, &jobs) => conn.end(),
        _ = replay::worker(rt.clone(), conn.clone(), queued) => {}
    }
    // Condemns the connection (a replay still judging a page on the blocking pool stops at its
    // next entry) and releases its budgets.
    drop(guard);
}

fn error(id: Option<&str>, code: &str, message: impl Into<String>) -> Out {
    let mut v = json!({"type": "error", "code": code, "message": message.into()});
    if let Some(id) = id {
        v["id"] = Value::String(id.to_string());
    }
    Out::control(v)
}

async fn writer<W>(rt: &Realtime, conn: &Conn, mut rx: mpsc::Receiver<Out>, mut sink: W)
where
    W: Sink<Message> + Unpin,
{
    let cfg = &rt.hub.config;
    let beat = Duration::from_secs(cfg.heartbeat_secs.max(1));
    let write_timeout = Duration::from_secs(cfg.write_timeout_secs.max(1));
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + beat, beat);
    let mut shutdown = rt.hub.shutdown_signal();
    loop {
        let closing = if *shutdown.borrow() {
            Some(CLOSE_GOING_AWAY)
        } else {
            conn.close_code()
        };
        let msg = match closing {
            Some(CLOSE_NORMAL) => return,
            Some(code) => {
                let reason = if code == CLOSE_LAGGED {
                    "lagged"
                } else {
                    "server shutting down"
                };
                let close = Message::close_with(CloseCode::from(code), reason);
                let _ = tokio::time::timeout(write_timeout, sink.send(close)).await;
                return;
            }
            None => tokio::select! {
                biased;
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    continue;
                }
                _ = conn.wake.notified() => continue,
                _ = heartbeat.tick() => {
                    rt.hub.recheck_auth(&rt.records, conn);
                    Message::Ping(Vec::new())
                }
                item = rx.recv() => match item {
                    Some(Out::Control(text)) => Message::Text(text),
                    Some(Out::Event { sub, seq, kind, record }) => {
                        Message::Text(frame::ws_event(&sub, seq, kind, &record))
                    }
                    None => return,
                },
            },
        };
        match tokio::time::timeout(write_timeout, sink.send(msg)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}

async fn reader<R>(rt: &Realtime, conn: &Conn, mut stream: R, jobs: &mpsc::Sender<Job>)
where
    R: Stream<Item = std::io::Result<Message>> + Unpin,
{
    while let Some(msg) = stream.next().await {
        let ok = match msg {
            Ok(Message::Text(text)) => handle(rt, conn, &text, jobs).await,
            Ok(Message::Binary(_)) => {
                conn.send(error(
                    None,
                    "invalid_message",
                    "binary messages are not supported",
                ))
                .await
            }
            Ok(Message::Close(_)) | Err(_) => return,
            Ok(_) => true,
        };
        if !ok {
            return;
        }
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Result<Option<&'a str>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{key} must be a string")),
    }
}

/// Answers one client message; false once the connection is gone.
async fn handle(rt: &Realtime, conn: &Conn, text: &str, jobs: &mpsc::Sender<Job>) -> bool {
    let msg: Value = match serde_json::from_str(text) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return conn
                .send(error(None, "invalid_message", "expected a JSON object"))
                .await
        }
        Err(e) => return conn.send(error(None, "invalid_json", e.to_string())).await,
    };
    let id = msg.get("id").and_then(Value::as_str);
    match msg.get("type").and_then(Value::as_str) {
        Some("ping") => conn.send(Out::control(json!({"type": "pong"}))).await,
        Some("auth") => authenticate(rt, conn, &msg).await,
        Some("subscribe") => subscribe(rt, conn, &msg, jobs).await,
        Some("unsubscribe") => match id {
            Some(id) if rt.hub.unsubscribe(conn, id) => {
                conn.send(Out::control(json!({"type": "unsubscribed", "id": id})))
                    .await
            }
            Some(id) => {
                conn.send(error(
                    Some(id),
                    "not_subscribed",
                    "no subscription with this id",
                ))
                .await
            }
            None => {
                conn.send(error(None, "invalid_message", "id is required"))
                    .await
            }
        },
        Some(other) => {
            conn.send(error(
                id,
                "unknown_type",
                format!("unknown message type {:?}", echo(other)),
            ))
            .await
        }
        None => {
            conn.send(error(id, "invalid_message", "type is required"))
                .await
        }
    }
}

async fn authenticate(rt: &Realtime, conn: &Conn, msg: &Value) -> bool {
    let raw = match str_field(msg, "token") {
        Ok(t) => t.unwrap_or("").trim(),
        Err(m) => return conn.send(error(None, "invalid_message", m)).await,
    };
    if raw.is_empty() {
        rt.hub.set_auth(
            conn,
            ConnAuth {
                caller: Caller::Guest,
                token: None,
            },
        );
        return conn
            .send(Out::control(json!({"type": "auth_ok", "record": null})))
            .await;
    }
    let caller = rt.records.caller(raw);
    let Some(rec) = caller.auth().cloned() else {
        return conn
            .send(error(
                None,
                "invalid_token",
                "The token is invalid or expired.",
            ))
            .await;
    };
    let record = render::record(&rec.collection, &rec.record, &caller);
    rt.hub.set_auth(
        conn,
        ConnAuth {
            caller,
            token: Some(raw.to_string()),
        },
    );
    conn.send(Out::control(json!({"type": "auth_ok", "record": record})))
        .await
}

async fn subscribe(rt: &Realtime, conn: &Conn, msg: &Value, jobs: &mpsc::Sender<Job>) -> bool {
    let id = match msg.get("id") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_SUB_ID => s.as_str(),
        _ => {
            return conn
                .send(error(
                    None,
                    "invalid_message",
                    format!("id must be a string of 1-{MAX_SUB_ID} chars"),
                ))
                .await
        }
    };
    let fields = ["topic", "filter", "expand", "fields"].map(|k| str_field(msg, k));
    let [topic, filter, expand, fields] = match fields {
        [Ok(a), Ok(b), Ok(c), Ok(d)] => [a, b, c, d],
        other => {
            let m = other.into_iter().find_map(Result::err).unwrap_or_default();
            return conn.send(error(Some(id), "invalid_message", m)).await;
        }
    };
    let Some(topic) = topic else {
        return conn
            .send(error(Some(id), "invalid_message", "topic is required"))
            .await;
    };
    let since = match msg.get("since") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) => Some(Seq(n)),
            None => {
                return conn
                    .send(error(
                        Some(id),
                        "invalid_message",
                        "since must be a non-negative integer",
                    ))
                    .await
            }
        },
    };
    let caller = conn.caller();
    let spec = match Spec::build(&rt.records, topic, filter, expand, fields, &caller) {
        Ok(s) => Arc::new(s),
        Err(r) => return conn.send(error(Some(id), r.code, r.message)).await,
    };
    let sub_id: Arc<str> = Arc::from(id);
    let committed = rt.records.store.head();
    let head = match rt
        .hub
        .subscribe(conn, sub_id.clone(), spec.clone(), since, committed)
    {
        Ok(h) => h,
        Err(r) => return conn.send(error(Some(id), r.code(), r.message())).await,
    };
    if let Some(since) = since.filter(|s| *s < head) {
        let job = Job {
            id: sub_id,
            spec,
            since,
            upto: head,
        };
        if let Err(e) = jobs.try_send(job) {
            let job = match e {
                mpsc::error::TrySendError::Full(job) => job,
                mpsc::error::TrySendError::Closed(_) => return false,
            };
            rt.hub.unsubscribe(conn, &job.id);
            return conn
                .send(error(
                    Some(id),
                    "too_many_replays",
                    "too many `since` replays are waiting on this connection; subscribe again later",
                ))
                .await;
        }
    }
    conn.close_code().is_none()
}
