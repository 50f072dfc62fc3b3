//! What goes on a connection's queue and how it looks on each wire. Records arrive as shared,
//! already serialized JSON (`Arc<str>`); only the small envelope is written per subscriber.

use crate::ids::Seq;
use serde_json::Value;
use std::sync::Arc;

/// What an event means for one subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Create,
    Update,
    Delete,
    /// An update made the record start matching the subscription's filter or rule.
    Enter,
    /// An update made the record stop matching (the record is its last visible state).
    Leave,
}

impl Kind {
    /// The WebSocket `action`.
    pub fn ws(self) -> &'static str {
        match self {
            Kind::Create => "create",
            Kind::Update => "update",
            Kind::Delete => "delete",
            Kind::Enter => "enter",
            Kind::Leave => "leave",
        }
    }

    /// The SSE `action`: PocketBase clients only know create/update/delete, so a record that
    /// enters looks created and one that leaves looks deleted (no stale rows on the client).
    pub fn sse(self) -> &'static str {
        match self {
            Kind::Create | Kind::Enter => "create",
            Kind::Update => "update",
            Kind::Delete | Kind::Leave => "delete",
        }
    }
}

/// One message queued for a connection.
#[derive(Debug, Clone)]
pub enum Out {
    /// A WebSocket control message (`subscribed`, `pong`, `error`, …), already JSON.
    Control(String),
    /// A record event for subscription `sub` (the WS id, or the SSE topic string).
    Event {
        sub: Arc<str>,
        seq: Seq,
        kind: Kind,
        record: Arc<str>,
    },
}

impl Out {
    pub fn control(v: Value) -> Self {
        Out::Control(v.to_string())
    }
}

/// A JSON string literal (`Value`'s `Display` cannot fail).
fn quoted(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// `{"type":"event","sub":…,"seq":…,"action":…,"record":…}`
pub fn ws_event(sub: &str, seq: Seq, kind: Kind, record: &str) -> String {
    let sub = quoted(sub);
    let mut s = String::with_capacity(record.len() + sub.len() + 64);
    s.push_str(r#"{"type":"event","sub":"#);
    s.push_str(&sub);
    s.push_str(r#","seq":"#);
    s.push_str(&seq.0.to_string());
    s.push_str(r#","action":""#);
    s.push_str(kind.ws());
    s.push_str(r#"","record":"#);
    s.push_str(record);
    s.push('}');
    s
}

/// PocketBase's SSE event: `id:` is the client id (the SDK reads it), `event:` the topic exactly
/// as the client sent it, `data:{"record":…,"action":…}`.
pub fn sse_event(client_id: &str, topic: &str, kind: Kind, record: &str) -> String {
    let mut s = String::with_capacity(record.len() + topic.len() + client_id.len() + 48);
    s.push_str("id:");
    s.push_str(client_id);
    s.push_str("\nevent:");
    // A topic cannot legally carry a line break (it would end the field); drop any.
    s.extend(topic.chars().filter(|c| *c != '\n' && *c != '\r'));
    s.push_str("\ndata:{\"record\":");
    s.push_str(record);
    s.push_str(",\"action\":\"");
    s.push_str(kind.sse());
    s.push_str("\"}\n\n");
    s
}

/// The first SSE event of a stream.
pub fn sse_connect(client_id: &str) -> String {
    format!("id:{client_id}\nevent:PB_CONNECT\ndata:{{\"clientId\":\"{client_id}\"}}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_event_is_json() {
        let s = ws_event("s\"1", Seq(7), Kind::Leave, r#"{"id":"a"}"#);
        let v: Value = serde_json::from_str(&s).expect("json");
        assert_eq!(v["sub"], "s\"1");
        assert_eq!(v["seq"], 7);
        assert_eq!(v["action"], "leave");
        assert_eq!(v["record"]["id"], "a");
    }

    #[test]
    fn sse_event_matches_pocketbase() {
        let s = sse_event("C", "posts/*?options=%7B%7D", Kind::Enter, "{}");
        assert_eq!(
            s,
            "id:C\nevent:posts/*?options=%7B%7D\ndata:{\"record\":{},\"action\":\"create\"}\n\n"
        );
    }
}
