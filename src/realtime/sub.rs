//! One subscription: which records (`coll/*` or `coll/ID`), an optional client filter and
//! response shape, and the decision what a committed change means for it. Visibility comes only
//! from `records::can_read` (listRule for `coll/*`, viewRule for `coll/ID`), evaluated against
//! the record before and after the change with the subscriber's auth.

use super::frame::{Kind, Out};
use crate::auth::Caller;
use crate::error::echo;
use crate::ids::{CollectionId, Record, RecordData, RecordId};
use crate::query::{self, CompileCtx, Compiled, EvalEnv, RequestInfo};
use crate::records::RecordService;
use crate::records::{can_read, Op, Shape};
use crate::schema::Collection;
use crate::store::{Action, ChangeEvent};
use std::collections::HashMap;
use std::sync::Arc;

/// Why a subscription request was refused (`code` goes on the wire).
#[derive(Debug, Clone)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Splits `coll/*`, `coll` or `coll/ID` into the collection and the optional record id.
pub fn parse_topic(topic: &str) -> Option<(&str, Option<&str>)> {
    let (coll, rest) = match topic.split_once('/') {
        Some((c, r)) => (c, Some(r)),
        None => (topic, None),
    };
    if coll.is_empty() {
        return None;
    }
    match rest {
        None | Some("*") => Some((coll, None)),
        Some(id) if !id.is_empty() && !id.contains('/') => Some((coll, Some(id))),
        _ => None,
    }
}

/// What a subscription selects and how it renders; immutable once built.
#[derive(Debug)]
pub struct Spec {
    pub collection: CollectionId,
    pub record: Option<RecordId>,
    filter: Option<Compiled>,
    /// Length of the filter text, what the filter budgets count.
    filter_bytes: usize,
    shape: Shape,
    /// Identifies `shape` so subscribers with equal shapes share rendered bytes.
    shape_key: String,
}

impl Spec {
    /// Resolves a topic and its options for `caller`.
    pub fn build(
        records: &RecordService,
        topic: &str,
        filter: Option<&str>,
        expand: Option<&str>,
        fields: Option<&str>,
        caller: &Caller,
    ) -> Result<Self, Refusal> {
        let (coll, record) = parse_topic(topic).ok_or_else(|| {
            Refusal::new(
                "invalid_topic",
                "topic must be \"<collection>/*\" or \"<collection>/<recordId>\"",
            )
        })?;
        let snap = records.schema.snapshot();
        let col = snap.get(coll).cloned().ok_or_else(|| {
            Refusal::new(
                "unknown_collection",
                format!("no collection {:?}", echo(coll)),
            )
        })?;
        let filter_src = filter.filter(|f| !f.trim().is_empty());
        let filter = match filter_src {
            None => None,
            Some(src) => {
                let ctx = CompileCtx::filter(&col, &snap, caller.is_superuser());
                let compiled = query::parse(src)
                    .map_err(query::QueryError::from)
                    .and_then(|e| query::compile(&e, &ctx))
                    .map_err(|e| Refusal::new("invalid_filter", e.to_string()))?;
                Some(compiled)
            }
        };
        let shape =
            Shape::parse(expand, fields).map_err(|e| Refusal::new("invalid_shape", e.summary()))?;
        shape
            .check(records, &col, caller)
            .map_err(|e| Refusal::new("invalid_shape", e.summary()))?;
        Ok(Self {
            collection: col.id.clone(),
            record: record.map(RecordId::from),
            filter,
            filter_bytes: filter_src.map_or(0, str::len),
            shape,
            shape_key: format!("{}\u{0}{}", expand.unwrap_or(""), fields.unwrap_or("")),
        })
    }

    /// Bytes of filter text this subscription holds (budgeted per connection and per IP).
    pub fn filter_bytes(&self) -> usize {
        self.filter_bytes
    }

    fn op(&self) -> Op {
        if self.record.is_some() {
            Op::View
        } else {
            Op::List
        }
    }

    /// Whether the event is about a record this subscription selects at all.
    pub fn selects(&self, ev: &ChangeEvent) -> bool {
        self.collection == ev.collection && self.record.as_ref().is_none_or(|r| *r == ev.record)
    }

    fn sees(
        &self,
        records: &RecordService,
        col: &Collection,
        data: &RecordData,
        caller: &Caller,
    ) -> bool {
        if !can_read(records, col, self.op(), data, caller) {
            return false;
        }
        let Some(filter) = &self.filter else {
            return true;
        };
        let snap = records.schema.snapshot();
        let request = RequestInfo {
            auth: caller.auth().map(|a| a.record.clone()),
            auth_collection: caller.auth().map(|a| a.collection.clone()),
            method: "GET".into(),
            context: "realtime".into(),
            ..RequestInfo::default()
        };
        let env = EvalEnv::new(
            records.store.as_ref(),
            &snap,
            &records.rules,
            request,
            chrono::Utc::now(),
        );
        match filter.matches(data, &env) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "realtime filter evaluation failed");
                false
            }
        }
    }

    /// What `ev` means for this subscription and which state of the record to send
    /// (`true` = after). Deletes and leaves are judged and rendered as the record was.
    fn decide(
        &self,
        records: &RecordService,
        col: &Collection,
        ev: &ChangeEvent,
        caller: &Caller,
    ) -> Option<(Kind, bool)> {
        let seen = |d: &Option<RecordData>| {
            d.as_ref()
                .is_some_and(|d| self.sees(records, col, d, caller))
        };
        match ev.action {
            Action::Create => seen(&ev.after).then_some((Kind::Create, true)),
            Action::Delete => seen(&ev.before).then_some((Kind::Delete, false)),
            Action::Update => match (seen(&ev.before), seen(&ev.after)) {
                (true, true) => Some((Kind::Update, true)),
                (false, true) => Some((Kind::Enter, true)),
                (true, false) => Some((Kind::Leave, false)),
                (false, false) => None,
            },
        }
    }
}

/// Rendered records of ONE event, shared by every subscriber with the same shape and the same
/// view of the record (superuser, guest, or a given auth record).
#[derive(Default)]
pub struct Renders {
    map: HashMap<(String, String, bool), Option<Arc<str>>>,
    /// The event's record before (`[0]`) and after (`[1]`) as typed records with the event's
    /// id, built on the first render that needs them: once per event, not per subscriber.
    states: [Option<Record>; 2],
}

fn viewer_key(caller: &Caller) -> String {
    match caller {
        Caller::System => "su".into(),
        Caller::Guest => "guest".into(),
        Caller::Superuser(a) | Caller::Record(a) => format!("{}/{}", a.collection.id, a.id()),
    }
}

impl Renders {
    fn render(
        &mut self,
        records: &RecordService,
        col: &Collection,
        spec: &Spec,
        caller: &Caller,
        ev: &ChangeEvent,
        after: bool,
    ) -> Option<Arc<str>> {
        let key = (spec.shape_key.clone(), viewer_key(caller), after);
        if let Some(hit) = self.map.get(&key) {
            return hit.clone();
        }
        let state = &mut self.states[usize::from(after)];
        if state.is_none() {
            let data = if after { &ev.after } else { &ev.before };
            *state = Some(Record::new(ev.record.clone(), data.as_ref()?.clone()));
        }
        let rec = state.as_ref()?;
        let out = match spec.shape.render_one(records, col, rec, caller) {
            Ok(v) => Some(Arc::from(v.to_string())),
            Err(e) => {
                tracing::warn!(error = %e, "realtime render failed");
                None
            }
        };
        self.map.insert(key, out.clone());
        out
    }
}

/// The message `ev` produces for subscription `sub` of `caller`, if any.
pub fn evaluate(
    records: &RecordService,
    col: &Collection,
    sub: &Arc<str>,
    spec: &Spec,
    caller: &Caller,
    ev: &ChangeEvent,
    renders: &mut Renders,
) -> Option<Out> {
    if !spec.selects(ev) {
        return None;
    }
    let (kind, after) = spec.decide(records, col, ev, caller)?;
    let record = renders.render(records, col, spec, caller, ev, after)?;
    Some(Out::Event {
        sub: sub.clone(),
        seq: ev.seq,
        kind,
        record,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics() {
        assert_eq!(parse_topic("posts/*"), Some(("posts", None)));
        assert_eq!(parse_topic("posts"), Some(("posts", None)));
        assert_eq!(parse_topic("posts/abc"), Some(("posts", Some("abc"))));
        assert_eq!(parse_topic("/abc"), None);
        assert_eq!(parse_topic("posts/"), None);
        assert_eq!(parse_topic("posts/a/b"), None);
    }
}
