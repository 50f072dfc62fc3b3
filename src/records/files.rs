//! File fields in a write: the new list of names from the JSON value (only names the record
//! already holds), `f-` removals, and uploads (`f` replaces, `f+` appends, `+f` prepends), with
//! PocketBase's checks (size, sniffed MIME type, count). What to place and what to remove is
//! staged into the [`Tx`](super::Tx), which places uploads before the commit and removes dropped
//! files after it.

use super::modifiers::split_key;
use super::write::Request;
use crate::error::{echo, FieldError};
use crate::files::{stored_name, StagedFile};
use crate::schema::{Field, FieldKind, FileOptions};
use serde_json::{json, Value};
use std::sync::Arc;

/// One uploaded part of a request, staged on disk.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The part name: a field name, maybe with a modifier (`f+`, `+f`).
    pub key: String,
    /// The name it will be stored under (fixed once, so retries place the same name).
    pub name: String,
    pub file: Arc<StagedFile>,
}

impl Upload {
    pub fn new(key: String, file: StagedFile) -> Self {
        Self {
            key,
            name: stored_name(&file.original, &file.mime),
            file: Arc::new(file),
        }
    }
}

/// Whether `name` (a part name, modifiers allowed) is a file field of `fields`; its options.
pub fn file_options<'f>(fields: &'f [Field], key: &str) -> Option<&'f FileOptions> {
    let (name, _) = split_key(key);
    fields.iter().find_map(|f| match &f.kind {
        FieldKind::File(o) if f.name == name => Some(o),
        _ => None,
    })
}

/// The outcome for one file field: its new value and the uploads it keeps.
pub(super) struct Resolved {
    pub value: Value,
    pub uploads: Vec<Upload>,
}

/// The file names a stored file-field value holds.
pub fn names_of(v: &Value) -> Vec<String> {
    super::write::relation_ids(v)
}

/// Resolves the new value of file field `f` (options `o`) given its `current` value; `None`
/// when the request does not touch it.
pub(super) fn resolve(
    f: &Field,
    o: &FileOptions,
    req: &Request,
    current: &Value,
    assigned: Option<Result<Value, FieldError>>,
) -> Option<Result<Resolved, FieldError>> {
    let ups: Vec<(&str, &Upload)> = req
        .uploads
        .iter()
        .filter_map(|u| {
            let (name, m) = split_key(&u.key);
            (name == f.name).then_some((m, u))
        })
        .collect();
    if assigned.is_none() && ups.is_empty() {
        return None;
    }
    Some(resolve_touched(f, o, req, current, assigned, &ups))
}

fn resolve_touched(
    f: &Field,
    o: &FileOptions,
    req: &Request,
    current: &Value,
    assigned: Option<Result<Value, FieldError>>,
    ups: &[(&str, &Upload)],
) -> Result<Resolved, FieldError> {
    let held = names_of(current);
    let plain_ups = ups.iter().any(|(m, _)| m.is_empty());
    // JSON names (after `f-`); plain uploads without a JSON value replace the list.
    let mut names = match assigned {
        Some(v) => names_of(&v?),
        None if plain_ups && !req.data.contains_key(&f.name) => Vec::new(),
        None => held.clone(),
    };
    let unknown: Vec<_> = names
        .iter()
        .filter(|n| !held.contains(n))
        .take(10)
        .map(|n| echo(n))
        .collect();
    if !unknown.is_empty() {
        return Err(FieldError::new(
            "validation_invalid_file",
            "Invalid file value: only names of files the record holds, or uploads.",
        )
        .with_params(json!({ "invalidFiles": unknown })));
    }
    for (_, u) in ups {
        let limit = o.size_limit();
        if u.file.size > limit {
            return Err(file_too_large(&u.file.original, limit));
        }
        if !o.allows_mime(&u.file.mime) {
            let file = echo(&u.file.original);
            return Err(FieldError::new(
                "validation_invalid_mime_type",
                format!(
                    "{file:?} mime type must be one of: {}.",
                    o.mime_types.join(", ")
                ),
            )
            .with_params(json!({ "file": file, "mimeTypes": o.mime_types })));
        }
    }
    let mut front = Vec::new();
    let mut kept = Vec::new();
    for (m, u) in ups {
        if *m == "+prefix" {
            front.push(u.name.clone());
        } else if *m != "-" {
            names.push(u.name.clone());
        }
        kept.push((*u).clone());
    }
    front.append(&mut names);
    let names = front;
    let value = if f.is_multi() {
        if names.len() > o.max_files() {
            return Err(crate::schema::too_many_files(o.max_files()));
        }
        json!(names)
    } else {
        // A single file field keeps the last name, as PocketBase.
        json!(names.last().cloned().unwrap_or_default())
    };
    let final_names = names_of(&value);
    kept.retain(|u| final_names.contains(&u.name));
    Ok(Resolved {
        value,
        uploads: kept,
    })
}

/// PocketBase's error for an upload over the field's `maxSize` (the client's file name echoed
/// at most 100 characters).
pub fn file_too_large(original: &str, limit: u64) -> FieldError {
    let file = echo(original);
    FieldError::new(
        "validation_file_size_limit",
        format!("Failed to upload {file:?} - the maximum allowed file size is {limit} bytes."),
    )
    .with_params(json!({ "file": file, "maxSize": limit }))
}

/// Names `before` holds that `after` does not: to remove once the write commits.
pub(super) fn dropped(before: &Value, after: &Value) -> Vec<String> {
    let after = names_of(after);
    names_of(before)
        .into_iter()
        .filter(|n| !after.contains(n))
        .collect()
}

/// A stored file a caller may download.
#[derive(Debug, Clone)]
pub struct Located {
    pub collection: String,
    pub record: String,
    pub name: String,
    /// Thumb sizes served for it: the field's `thumbs` and `100x100`.
    pub thumbs: Vec<String>,
    pub protected: bool,
}

/// Finds file `name` of record `rid` in collection `c` (id or name). Ordinary files are public;
/// a protected one needs `caller` (from a file token) to pass the collection's view rule.
/// Everything that is not a downloadable file is the same 404.
pub fn locate(
    app: &super::RecordService,
    c: &str,
    rid: &str,
    name: &str,
    caller: &crate::auth::Caller,
    meta: &crate::query::RequestInfo,
) -> crate::error::ApiResult<Located> {
    use super::access::{allows, check, request_info, Op};
    use crate::error::ApiError;
    let schema = app.schema.snapshot();
    let col = schema.get(c).ok_or_else(ApiError::not_found)?.clone();
    let id = crate::ids::RecordId::from(rid);
    let rec = app
        .store
        .get_record(&col.id, &id)?
        .ok_or_else(ApiError::not_found)?
        .record;
    let opts = col
        .fields
        .iter()
        .find_map(|f| match &f.kind {
            FieldKind::File(o)
                if rec
                    .fields()
                    .get(&f.name)
                    .is_some_and(|v| names_of(v).iter().any(|n| n == name)) =>
            {
                Some(o)
            }
            _ => None,
        })
        .ok_or_else(ApiError::not_found)?;
    if opts.protected {
        let info = request_info(meta, caller, &serde_json::Map::new());
        let visible = check(&col, Op::View, caller).is_ok()
            && allows(app, &schema, &col, Op::View, rec.fields(), caller, &info);
        if !visible {
            return Err(ApiError::not_found());
        }
    }
    let mut thumbs = opts.thumbs.clone();
    thumbs.push("100x100".into());
    Ok(Located {
        collection: col.id.as_str().to_string(),
        record: rid.to_string(),
        name: name.to_string(),
        thumbs,
        protected: opts.protected,
    })
}
