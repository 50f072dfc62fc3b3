//! The before-write seam: [`WriteHooks`] is what the record service asks before it stages a
//! create, update or delete (plugins implement it; records never names them). A hook sees the
//! pending values and may replace them (validated again as if the client had sent them) or
//! refuse the write with an error.
//!
//! Hooks run before the record lock is taken and before the transaction is staged, so a slow
//! hook never holds a lock or a store transaction; `previous` is the record as committed when
//! the hook ran. Writes by [`Caller::System`] (the server itself: CLI commands, account flows
//! applying a confirmed token, plugin identities) skip hooks.

use super::access::{check, Op};
use super::batch::{parse_target, BatchItem, Target};
use super::modifiers::split_key;
use super::render;
use super::write::Request;
use super::RecordService;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::ids::RecordId;
use crate::schema::{names, Collection, FieldKind};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

/// Which write a hook is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookEvent {
    BeforeCreate,
    BeforeUpdate,
    BeforeDelete,
}

impl HookEvent {
    /// The event's name in manifests and hook requests.
    pub const fn name(self) -> &'static str {
        match self {
            Self::BeforeCreate => "before_create",
            Self::BeforeUpdate => "before_update",
            Self::BeforeDelete => "before_delete",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Self::BeforeCreate, Self::BeforeUpdate, Self::BeforeDelete]
            .into_iter()
            .find(|e| e.name() == name)
    }
}

/// A write about to be staged, as hooks see it.
#[derive(Debug, Clone)]
pub struct PendingWrite<'a> {
    pub event: HookEvent,
    pub collection: &'a Collection,
    /// The pending field values as the client sent them (form values are strings), without
    /// passwords; for deletes, the stored record.
    pub record: Map<String, Value>,
    /// The stored record (as a superuser sees it) for updates and deletes.
    pub previous: Option<Value>,
    /// The caller's auth record, if any.
    pub auth: Option<AuthRef>,
}

/// Who is writing: an auth record's id and collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRef {
    pub id: String,
    pub collection_id: String,
    pub collection_name: String,
}

/// What the hooks answered: `Some(values)` replaces the pending values.
pub type HookFuture<'a> =
    Pin<Box<dyn Future<Output = ApiResult<Option<Map<String, Value>>>> + Send + 'a>>;

/// Synchronous before-write hooks (object safe; the record service holds one).
pub trait WriteHooks: Send + Sync {
    /// Whether any hook listens to `event` on `collection` (if not, nothing is read or sent).
    fn wants(&self, event: HookEvent, collection: &Collection) -> bool;
    /// Runs the hooks for `write` in order; an error refuses the write.
    fn before<'a>(&'a self, write: PendingWrite<'a>) -> HookFuture<'a>;
}

/// Keys a hook never sees: plain-text passwords (and their confirmation / old value).
fn secret_key(col: &Collection, key: &str) -> bool {
    let name = split_key(key).0;
    (col.auth.is_some() && (name == names::PASSWORD_CONFIRM || name == names::OLD_PASSWORD))
        || col
            .field(name)
            .is_some_and(|f| matches!(f.kind, FieldKind::Password { .. }))
}

fn auth_of(caller: &Caller) -> Option<AuthRef> {
    caller.auth().map(|a| AuthRef {
        id: a.id().0.clone(),
        collection_id: a.collection.id.0.clone(),
        collection_name: a.collection.name.clone(),
    })
}

/// The hooks that apply to `event` on `col` for `caller`, if any.
fn active<'s>(
    app: &'s RecordService,
    event: HookEvent,
    col: &Collection,
    caller: &Caller,
) -> Option<&'s dyn WriteHooks> {
    let hooks = app.hooks.get()?;
    (!matches!(caller, Caller::System) && hooks.wants(event, col)).then_some(hooks.as_ref())
}

/// The stored record as hooks see it (superuser view), `None` if it does not exist.
fn stored(app: &RecordService, col: &Collection, id: &RecordId) -> ApiResult<Option<Value>> {
    Ok(app
        .store
        .get_record(&col.id, id)?
        .map(|s| render::record(col, &s.record, &Caller::System)))
}

/// Runs the hooks of a create or update: the request the write then stages (the hooks'
/// replacement, with the withheld passwords put back).
async fn before_write<'r>(
    hooks: &dyn WriteHooks,
    event: HookEvent,
    col: &Collection,
    req: &'r Request,
    previous: Option<Value>,
    caller: &Caller,
) -> ApiResult<Cow<'r, Request>> {
    let (secrets, record): (Map<String, Value>, Map<String, Value>) = req
        .data
        .clone()
        .into_iter()
        .partition(|(k, _)| secret_key(col, k));
    let write = PendingWrite {
        event,
        collection: col,
        record,
        previous,
        auth: auth_of(caller),
    };
    Ok(match hooks.before(write).await? {
        None => Cow::Borrowed(req),
        Some(mut data) => {
            data.retain(|k, _| !secret_key(col, k));
            data.extend(secrets);
            Cow::Owned(Request {
                data,
                from_form: req.from_form,
                uploads: req.uploads.clone(),
            })
        }
    })
}

/// Hooks of a create (after the collection-level access check).
pub(super) async fn before_create<'r>(
    app: &RecordService,
    col: &Collection,
    req: &'r Request,
    caller: &Caller,
) -> ApiResult<Cow<'r, Request>> {
    let Some(hooks) = active(app, HookEvent::BeforeCreate, col, caller) else {
        return Ok(Cow::Borrowed(req));
    };
    check(col, Op::Create, caller)?;
    before_write(hooks, HookEvent::BeforeCreate, col, req, None, caller).await
}

/// Hooks of an update; a record that does not exist is left to the update's own 404.
pub(super) async fn before_update<'r>(
    app: &RecordService,
    col: &Collection,
    id: &RecordId,
    req: &'r Request,
    caller: &Caller,
) -> ApiResult<Cow<'r, Request>> {
    let Some(hooks) = active(app, HookEvent::BeforeUpdate, col, caller) else {
        return Ok(Cow::Borrowed(req));
    };
    check(col, Op::Update, caller)?;
    let Some(previous) = stored(app, col, id)? else {
        return Ok(Cow::Borrowed(req));
    };
    before_write(
        hooks,
        HookEvent::BeforeUpdate,
        col,
        req,
        Some(previous),
        caller,
    )
    .await
}

/// Hooks of a delete: `record` and `previous` are both the stored record; a reply's record is
/// ignored (there is nothing to replace).
pub(super) async fn before_delete(
    app: &RecordService,
    col: &Collection,
    id: &RecordId,
    caller: &Caller,
) -> ApiResult<()> {
    let Some(hooks) = active(app, HookEvent::BeforeDelete, col, caller) else {
        return Ok(());
    };
    check(col, Op::Delete, caller)?;
    let Some(previous) = stored(app, col, id)? else {
        return Ok(());
    };
    let write = PendingWrite {
        event: HookEvent::BeforeDelete,
        collection: col,
        record: previous.as_object().cloned().unwrap_or_default(),
        previous: Some(previous),
        auth: auth_of(caller),
    };
    hooks.before(write).await.map(|_| ())
}

/// Hooks of one batch request: its new body, if it has one (deletes do not).
async fn before_item(
    app: &RecordService,
    item: &BatchItem,
    caller: &Caller,
) -> ApiResult<Option<Request>> {
    let Ok(target) = parse_target(&item.method, &item.url) else {
        return Ok(None); // the batch reports it when it stages this request
    };
    let body = match target {
        Target::Create(c) => {
            let col = app.schema.require(&c)?;
            before_create(app, &col, &item.body, caller).await?
        }
        Target::Upsert(c) => {
            let col = app.schema.require(&c)?;
            let id = item
                .body
                .data
                .get(names::ID)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(RecordId::from);
            match id {
                Some(id) if stored(app, &col, &id)?.is_some() => {
                    before_update(app, &col, &id, &item.body, caller).await?
                }
                _ => before_create(app, &col, &item.body, caller).await?,
            }
        }
        Target::Update(c, id) => {
            let col = app.schema.require(&c)?;
            before_update(app, &col, &RecordId::from(id), &item.body, caller).await?
        }
        Target::Delete(c, id) => {
            let col = app.schema.require(&c)?;
            before_delete(app, &col, &RecordId::from(id), caller).await?;
            return Ok(None);
        }
    };
    Ok(match body {
        Cow::Borrowed(_) => None,
        Cow::Owned(replaced) => Some(replaced),
    })
}

/// Hooks of every request of a batch, in order, before the batch locks anything; a batch
/// that updates a record created earlier in the same batch gives that hook `previous: null`
/// (the record is not committed yet). Errors carry the failing request's index.
pub(super) async fn before_batch<'i>(
    app: &RecordService,
    items: &'i [BatchItem],
    caller: &Caller,
) -> Result<Cow<'i, [BatchItem]>, (usize, ApiError)> {
    if app.hooks.get().is_none() || matches!(caller, Caller::System) {
        return Ok(Cow::Borrowed(items));
    }
    let mut out: Option<Vec<BatchItem>> = None;
    for (i, item) in items.iter().enumerate() {
        match before_item(app, item, caller).await {
            Ok(None) => {}
            Ok(Some(body)) => out.get_or_insert_with(|| items.to_vec())[i].body = body,
            Err(e) => return Err((i, e)),
        }
    }
    Ok(out.map_or(Cow::Borrowed(items), Cow::Owned))
}
