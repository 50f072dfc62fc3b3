//! Who is asking: a superuser, an auth record, or a guest. Handlers take a [`Caller`] and pass it
//! to services, so an access check cannot be forgotten silently.

use super::token;
use crate::error::{ApiError, MSG_AUTH_REQUIRED, MSG_NOT_ALLOWED};
use crate::ids::{Record, RecordData, RecordId};
use crate::schema::{names, Collection, Snapshot, SUPERUSERS_ID};
use crate::store::Store;
use std::sync::Arc;

/// An authenticated record and its collection.
#[derive(Debug, Clone)]
pub struct AuthRecord {
    pub collection: Arc<Collection>,
    pub record: Record,
}

impl AuthRecord {
    pub fn id(&self) -> &RecordId {
        self.record.id()
    }

    /// The record's fields (what rules see as `@request.auth`).
    pub fn fields(&self) -> &RecordData {
        self.record.fields()
    }
}

#[derive(Debug, Clone)]
pub enum Caller {
    Guest,
    /// The server itself (CLI commands, internal maintenance): has superuser rights.
    System,
    Superuser(Arc<AuthRecord>),
    Record(Arc<AuthRecord>),
}

impl Caller {
    pub fn is_superuser(&self) -> bool {
        matches!(self, Caller::Superuser(_) | Caller::System)
    }

    /// Ok for superusers; otherwise 401 for guests and 403 for other callers, like PocketBase's
    /// superuser-only endpoints. Services call this first, so a handler cannot forget it.
    pub fn require_superuser(&self) -> Result<(), ApiError> {
        match self {
            Caller::Superuser(_) | Caller::System => Ok(()),
            Caller::Record(_) => Err(ApiError::Forbidden(MSG_NOT_ALLOWED.into())),
            Caller::Guest => Err(ApiError::Unauthorized(MSG_AUTH_REQUIRED.into())),
        }
    }

    pub fn auth(&self) -> Option<&Arc<AuthRecord>> {
        match self {
            Caller::Guest | Caller::System => None,
            Caller::Superuser(r) | Caller::Record(r) => Some(r),
        }
    }

    /// Resolves a token against `schema` and the records in `store`; anything invalid
    /// (forged, expired, revoked, unknown record) is a guest.
    pub fn from_token(store: &dyn Store, schema: &Snapshot, raw: &str) -> Caller {
        resolve(store, schema, raw, token::TYPE_AUTH).unwrap_or(Caller::Guest)
    }

    /// Resolves a file token (`POST /api/files/token`, for protected files); anything invalid
    /// is a guest.
    pub fn from_file_token(store: &dyn Store, schema: &Snapshot, raw: &str) -> Caller {
        resolve(store, schema, raw, token::TYPE_FILE).unwrap_or(Caller::Guest)
    }
}

fn resolve(store: &dyn Store, schema: &Snapshot, raw: &str, kind: &str) -> Option<Caller> {
    let claims = token::peek(raw)?;
    if claims.kind != kind {
        return None;
    }
    let collection = schema.by_id(&claims.collection_id.as_str().into())?.clone();
    let opts = collection.auth.as_ref()?;
    let stored = store
        .get_record(&collection.id, &RecordId::from(claims.id.as_str()))
        .ok()??;
    let token_key = stored
        .record
        .fields()
        .get(names::TOKEN_KEY)
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let secret = if kind == token::TYPE_FILE {
        &opts.file_token.secret
    } else {
        &opts.auth_token.secret
    };
    token::verify(raw, token_key, secret)?;
    let rec = Arc::new(AuthRecord {
        collection,
        record: stored.record,
    });
    Some(if rec.collection.id.as_str() == SUPERUSERS_ID {
        Caller::Superuser(rec)
    } else {
        Caller::Record(rec)
    })
}
