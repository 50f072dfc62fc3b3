//! The collections service: the superuser-only operations on the schema (list, view, create,
//! update, delete, truncate, import). Every method takes the [`Caller`] and checks it first, so a
//! new handler cannot forget the superuser check. Owns no state of its own: it composes the
//! schema registry, the store and file storage; never renders HTTP.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::files::Files;
use crate::ids::{CollectionId, RecordData};
use crate::query::{virtual_collection, EvalEnv, RequestInfo, RowQuery, RuleCache};
use crate::records::{Page, PageParams};
use crate::schema::{Collection, Field, FieldKind, Registry, TextOptions};
use crate::store::Store;
use serde_json::{json, Value};
use std::sync::Arc;

/// The fields a collections filter or sort may name (PocketBase's list resolver).
fn list_fields() -> Arc<Collection> {
    let text = |n: &str| Field::new(n, FieldKind::Text(TextOptions::default()));
    virtual_collection(
        "_collections",
        vec![
            text("id"),
            text("name"),
            text("type"),
            Field::new("system", FieldKind::Bool),
            text("created"),
            text("updated"),
        ],
    )
}

/// A collection as a row of [`list_fields`].
fn list_row(c: &Collection) -> RecordData {
    let mut row = RecordData::new();
    row.insert("id".into(), json!(c.id.as_str()));
    row.insert("name".into(), json!(c.name));
    row.insert("type".into(), json!(c.kind.as_str()));
    row.insert("system".into(), json!(c.system));
    row.insert("created".into(), json!(c.created));
    row.insert("updated".into(), json!(c.updated));
    row
}

pub struct CollectionService {
    store: Arc<dyn Store>,
    schema: Arc<Registry>,
    /// File storage: a deleted or truncated collection's files go with its records.
    files: Arc<Files>,
}

impl CollectionService {
    pub fn new(store: Arc<dyn Store>, schema: Arc<Registry>, files: Arc<Files>) -> Self {
        Self {
            store,
            schema,
            files,
        }
    }

    /// Removes the stored files of a collection whose records are gone (best effort: what is
    /// left is swept at the next start).
    async fn remove_files(&self, col: CollectionId) {
        let files = self.files.clone();
        let done = tokio::task::spawn_blocking(move || files.remove_collection(col.as_str())).await;
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %e, "cannot remove the files of a collection");
        }
    }

    /// Collections matching `filter`, ordered by `sort` (both over `id`, `name`, `type`,
    /// `system`, `created`, `updated`, as PocketBase), else in the registry's order.
    pub fn list(&self, caller: &Caller, q: &PageParams) -> ApiResult<Page<Arc<Collection>>> {
        caller.require_superuser()?;
        let (page, per_page, skip_total) = q.resolve()?;
        let snap = self.schema.snapshot();
        let all = snap.all();
        let query = RowQuery::compile(&list_fields(), &snap, q.filter(), q.sort.as_deref())?;
        let rules = RuleCache::default();
        let env = EvalEnv::new(
            self.store.as_ref(),
            &snap,
            &rules,
            RequestInfo::default(),
            chrono::Utc::now(),
        );
        let rows: Vec<RecordData> = all.iter().map(|c| list_row(c)).collect();
        let kept = query.select(rows, &env)?;
        let total = kept.len();
        let items = kept
            .iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .filter_map(|row| row.get("id").and_then(Value::as_str))
            .filter_map(|id| snap.get(id).cloned())
            .collect();
        Ok(Page::new(
            items,
            page,
            per_page,
            (!skip_total).then_some(total),
        ))
    }

    pub fn view(&self, caller: &Caller, id_or_name: &str) -> ApiResult<Arc<Collection>> {
        caller.require_superuser()?;
        self.schema.get(id_or_name).ok_or_else(ApiError::not_found)
    }

    pub async fn create(&self, caller: &Caller, input: &Value) -> ApiResult<Arc<Collection>> {
        caller.require_superuser()?;
        self.schema.create(self.store.as_ref(), input).await
    }

    pub async fn update(
        &self,
        caller: &Caller,
        id_or_name: &str,
        input: &Value,
    ) -> ApiResult<Arc<Collection>> {
        caller.require_superuser()?;
        self.schema
            .update(self.store.as_ref(), id_or_name, input)
            .await
    }

    /// A dry run of create/update (see [`Registry::validate`]): the dashboard's live feedback.
    pub fn validate(&self, caller: &Caller, input: &Value) -> ApiResult<()> {
        caller.require_superuser()?;
        self.schema.validate(input)
    }

    pub async fn delete(&self, caller: &Caller, id_or_name: &str) -> ApiResult<()> {
        caller.require_superuser()?;
        let id = self.schema.get(id_or_name).map(|c| c.id.clone());
        self.schema.delete(self.store.as_ref(), id_or_name).await?;
        if let Some(id) = id {
            self.remove_files(id).await;
        }
        Ok(())
    }

    /// Deletes every record of the collection, keeping the collection.
    pub async fn truncate(&self, caller: &Caller, id_or_name: &str) -> ApiResult<()> {
        caller.require_superuser()?;
        let id = self.schema.get(id_or_name).map(|c| c.id.clone());
        self.schema
            .truncate(self.store.as_ref(), id_or_name)
            .await?;
        if let Some(id) = id {
            self.remove_files(id).await;
        }
        Ok(())
    }

    /// `PUT /api/collections/import`: `{"collections": [...], "deleteMissing": bool}`.
    pub async fn import(&self, caller: &Caller, input: &Value) -> ApiResult<()> {
        caller.require_superuser()?;
        let cols = input
            .get("collections")
            .and_then(Value::as_array)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                ApiError::bad_field(
                    "Failed to import collections.",
                    "collections",
                    FieldError::required(),
                )
            })?;
        let delete_missing = input
            .get("deleteMissing")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        self.schema
            .import(self.store.as_ref(), cols, delete_missing)
            .await
    }
}
