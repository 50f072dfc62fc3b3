//! The delivery log: one record per event and webhook (its attempts, status and the exact body
//! sent, so retries and redeliveries sign the same bytes), and the retry queue. Both are
//! metadata in the store, written through the writer like everything else (durable on ack).
//!
//! Keys: `_wh/d/<webhook>/<delivery>` (delivery ids sort by creation time, so a reverse scan is
//! newest first and retention deletes a prefix range), `_wh/q/<webhook>/<delivery>` → next
//! attempt (Unix ms, u64 BE) for deliveries waiting for a retry.

use crate::store::WriteOp;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest response excerpt kept per attempt.
pub const EXCERPT_BYTES: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Retrying,
    Delivered,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Retrying => "retrying",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
        }
    }
}

/// One HTTP attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub at: String,
    /// The response status, when there was a response.
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub response_excerpt: String,
    /// Timeout, connection or refusal reason; absent for any response.
    pub error: Option<String>,
}

impl Attempt {
    pub fn ok(&self) -> bool {
        self.status_code.is_some_and(|c| (200..300).contains(&c))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    /// The `webhook-id` header: the same on every attempt and redelivery of this event.
    pub event_id: String,
    /// The change-log seq of the event (`None` for test events).
    pub seq: Option<u64>,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: Status,
    pub attempts: Vec<Attempt>,
    /// Unix ms of the next scheduled attempt while `retrying`.
    pub next_attempt_at: Option<i64>,
    pub created: String,
    pub updated: String,
    /// The exact JSON body sent.
    pub body: String,
}

impl Delivery {
    /// The API's view: the body as JSON under `payload`, times as PocketBase datetimes.
    pub fn to_api_json(&self) -> Value {
        json!({
            "id": self.id,
            "webhookId": self.webhook_id,
            "eventId": self.event_id,
            "seq": self.seq,
            "type": self.kind,
            "status": self.status.as_str(),
            "attempts": self.attempts,
            "nextAttemptAt": self.next_attempt_at.map(ms_to_datetime),
            "created": self.created,
            "updated": self.updated,
            "payload": serde_json::from_str::<Value>(&self.body).unwrap_or(Value::Null),
        })
    }

    /// The fields a deliveries `filter` can read.
    pub fn filter_fields(&self) -> crate::ids::RecordData {
        let mut m = crate::ids::RecordData::new();
        m.insert("id".into(), Value::String(self.id.clone()));
        m.insert("status".into(), Value::String(self.status.as_str().into()));
        m.insert("type".into(), Value::String(self.kind.clone()));
        m.insert("eventId".into(), Value::String(self.event_id.clone()));
        m.insert("seq".into(), self.seq.map_or(Value::Null, |s| json!(s)));
        m.insert("attempts".into(), json!(self.attempts.len()));
        m.insert("created".into(), Value::String(self.created.clone()));
        m.insert("updated".into(), Value::String(self.updated.clone()));
        m
    }

    /// Writes that store this delivery and keep the retry queue in step with its status.
    pub fn ops(&self) -> Vec<WriteOp> {
        let mut ops = vec![WriteOp::PutMeta {
            key: delivery_key(&self.webhook_id, &self.id),
            value: serde_json::to_vec(self).unwrap_or_default(),
        }];
        let queue = queue_key(&self.webhook_id, &self.id);
        match (self.status, self.next_attempt_at) {
            (Status::Retrying, Some(at)) => ops.push(WriteOp::PutMeta {
                key: queue,
                value: (at.max(0) as u64).to_be_bytes().to_vec(),
            }),
            _ => ops.push(WriteOp::DeleteMeta { key: queue }),
        }
        ops
    }
}

pub fn ms_to_datetime(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(crate::schema::format_datetime)
        .unwrap_or_default()
}

/// Metadata key of a webhook definition.
pub fn webhook_key(id: &str) -> String {
    format!("_wh/w/{id}")
}
pub const WEBHOOK_PREFIX: &str = "_wh/w/";

pub fn deliveries_prefix(webhook: &str) -> String {
    format!("_wh/d/{webhook}/")
}
pub fn delivery_key(webhook: &str, id: &str) -> String {
    format!("_wh/d/{webhook}/{id}")
}
pub fn queue_prefix(webhook: &str) -> String {
    format!("_wh/q/{webhook}/")
}
pub fn queue_key(webhook: &str, id: &str) -> String {
    format!("_wh/q/{webhook}/{id}")
}

/// The change-log consumer name of a webhook (its cursor).
pub fn consumer(webhook: &str) -> String {
    format!("webhook:{webhook}")
}

/// The last delivery id number handed out (ms << 16 | sequence within the ms).
static LAST_ID: AtomicU64 = AtomicU64::new(0);

/// A delivery id created at `ms`: 16 hex digits of (ms << 16 | a sequence within the ms),
/// strictly increasing within the process, then 4 random characters; ids sort by creation.
pub fn new_id(ms: i64) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let want = (ms.max(0) as u64) << 16;
    let prev = LAST_ID
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(want.max(last + 1))
        })
        .unwrap_or(0);
    let n = want.max(prev + 1);
    let mut rng = rand::thread_rng();
    let tail: String = (0..4)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    format!("{n:016x}{tail}")
}

/// The smallest id created at `ms` or later (every older delivery's key sorts before it).
pub fn id_floor(ms: i64) -> String {
    format!("{:016x}", (ms.max(0) as u64) << 16)
}

/// The first `EXCERPT_BYTES` of a response body, cut on a character boundary.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(EXCERPT_BYTES)]);
    text.trim_end_matches('\u{FFFD}').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_the_floor_splits_them() {
        let a = new_id(4_000_000_000_000);
        let b = new_id(4_000_000_000_001);
        assert!(a < b);
        let same_ms: Vec<String> = (0..100).map(|_| new_id(4_000_000_000_001)).collect();
        assert!(
            same_ms.windows(2).all(|w| w[0] < w[1]),
            "strictly increasing"
        );
        assert!(id_floor(4_000_000_000_001) > a);
        assert!(id_floor(4_000_000_000_001) <= b);
        assert_eq!(a.len(), 20);
    }

    #[test]
    fn the_queue_follows_the_status() {
        let mut d = Delivery {
            id: "x".into(),
            webhook_id: "w".into(),
            event_id: "msg_w_1".into(),
            seq: Some(1),
            kind: "record.created".into(),
            status: Status::Retrying,
            attempts: Vec::new(),
            next_attempt_at: Some(5),
            created: String::new(),
            updated: String::new(),
            body: "{}".into(),
        };
        let ops = d.ops();
        assert!(
            matches!(&ops[1], WriteOp::PutMeta { key, value } if key == "_wh/q/w/x" && value == &5u64.to_be_bytes().to_vec())
        );
        d.status = Status::Delivered;
        assert!(matches!(&d.ops()[1], WriteOp::DeleteMeta { key } if key == "_wh/q/w/x"));
    }

    #[test]
    fn excerpts_are_bounded_and_valid_text() {
        let long = "é".repeat(EXCERPT_BYTES);
        let e = excerpt(long.as_bytes());
        assert!(e.len() <= EXCERPT_BYTES);
        assert!(e.chars().all(|c| c == 'é'));
    }
}
