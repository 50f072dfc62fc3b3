//! What a webhook is sent for a change event: whether it selects the event (collections,
//! actions, filter on the record after the change, before it for deletes) and the JSON body,
//! with records rendered as a superuser sees them minus hidden fields.

use super::model::Webhook;
use crate::auth::Caller;
use crate::ids::Record;
use crate::query::{compile, parse, CompileCtx, Compiled, EvalEnv, RequestInfo};
use crate::records::{render, RecordService};
use crate::schema::{format_rfc3339, Collection, Snapshot};
use crate::store::{Action, ChangeEvent};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The webhook's filter compiled per collection, rebuilt when the schema changes.
#[derive(Default)]
pub struct Filters {
    epoch: Option<u64>,
    source: String,
    /// `None`: the filter does not compile for that collection (it never matches there).
    compiled: HashMap<String, Option<Arc<Compiled>>>,
}

impl Filters {
    fn get(
        &mut self,
        filter: &str,
        col: &Arc<Collection>,
        snap: &Snapshot,
    ) -> Option<Arc<Compiled>> {
        if self.epoch != Some(snap.epoch()) || self.source != filter {
            self.compiled.clear();
            self.epoch = Some(snap.epoch());
            self.source = filter.to_string();
        }
        self.compiled
            .entry(col.id.0.clone())
            .or_insert_with(|| {
                let expr = parse(filter).ok()?;
                compile(&expr, &CompileCtx::filter(col, snap, true))
                    .ok()
                    .map(Arc::new)
            })
            .clone()
    }
}

/// The event type of an action.
pub fn event_type(action: Action) -> &'static str {
    match action {
        Action::Create => "record.created",
        Action::Update => "record.updated",
        Action::Delete => "record.deleted",
    }
}

/// The body to send `hook` for `ev` under schema `snap` (taken once per page), or `None` if the
/// webhook does not select it.
pub fn body_for(
    records: &RecordService,
    snap: &Snapshot,
    hook: &Webhook,
    filters: &mut Filters,
    ev: &ChangeEvent,
) -> Option<String> {
    if !hook.selects(&ev.collection.0, ev.action.as_str()) {
        return None;
    }
    let col = snap.by_id(&ev.collection)?.clone();
    let judged = match ev.action {
        Action::Delete => ev.before.as_ref(),
        _ => ev.after.as_ref(),
    }?;
    if !hook.filter.is_empty() {
        let f = filters.get(&hook.filter, &col, snap)?;
        let env = EvalEnv::new(
            records.store.as_ref(),
            snap,
            &records.rules,
            RequestInfo::default(),
            chrono::Utc::now(),
        );
        if !f.matches(judged, &env).unwrap_or(false) {
            return None;
        }
    }
    let show = |data: Option<&crate::ids::RecordData>| {
        data.map_or(Value::Null, |d| {
            visible(&col, &Record::new(ev.record.clone(), d.clone()))
        })
    };
    let (record, previous) = match ev.action {
        Action::Create => (show(ev.after.as_ref()), Value::Null),
        Action::Update => (show(ev.after.as_ref()), show(ev.before.as_ref())),
        Action::Delete => (show(ev.before.as_ref()), Value::Null),
    };
    let ts = chrono::DateTime::from_timestamp_millis(ev.ts).unwrap_or_default();
    Some(
        json!({
            "type": event_type(ev.action),
            "timestamp": format_rfc3339(ts),
            "seq": ev.seq.0,
            "data": {
                "collectionId": col.id.0,
                "collectionName": col.name,
                "record": record,
                "previous": previous,
            }
        })
        .to_string(),
    )
}

/// A record as a superuser sees it, without hidden fields.
fn visible(col: &Collection, rec: &Record) -> Value {
    let mut v = render::record(col, rec, &Caller::System);
    if let Value::Object(map) = &mut v {
        for f in col.fields.iter().filter(|f| f.hidden) {
            map.remove(&f.name);
        }
    }
    v
}

/// The body of a `webhook.test` event.
pub fn test_body(hook: &Webhook) -> String {
    json!({
        "type": "webhook.test",
        "timestamp": format_rfc3339(chrono::Utc::now()),
        "seq": Value::Null,
        "data": {"webhookId": hook.id, "webhookName": hook.name},
    })
    .to_string()
}
