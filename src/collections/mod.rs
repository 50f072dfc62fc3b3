//! The collections service: the superuser-only operations on the schema (list, view, create,
//! update, delete, truncate, import). Every method takes the [`Caller`] and checks it first, so a
//! new handler cannot forget the superuser check. Owns no state of its own: it composes the
//! schema registry, the store and file storage; never renders HTTP.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, FieldError, MSG_GENERIC};
use crate::files::Files;
use crate::ids::CollectionId;
use crate::records::PageParams;
use crate::schema::{Collection, Registry};
use crate::store::Store;
use serde_json::Value;
use std::sync::Arc;

/// One page of collections. `total`/`pages` are `-1` with `skipTotal`, as PocketBase.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Arc<Collection>>,
    pub page: usize,
    pub per_page: usize,
    pub total: i64,
    pub pages: i64,
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

    pub fn list(&self, caller: &Caller, q: &PageParams) -> ApiResult<Page> {
        caller.require_superuser()?;
        if q.filter().is_some() {
            return Err(ApiError::bad_field(
                MSG_GENERIC,
                "filter",
                FieldError::new(
                    "validation_unsupported_param",
                    "Filtering collections is not supported yet.",
                ),
            ));
        }
        let (page, per_page, skip_total) = q.resolve()?;
        let snap = self.schema.snapshot();
        let all = snap.all();
        let items = all
            .iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .cloned()
            .collect();
        let (total, pages) = if skip_total {
            (-1, -1)
        } else {
            (all.len() as i64, all.len().div_ceil(per_page) as i64)
        };
        Ok(Page {
            items,
            page,
            per_page,
            total,
            pages,
        })
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
