//! `file`: names of files kept in file storage (`<sanitized base>_<random 10>.<ext>`), one or
//! up to `maxSelect`. Uploads arrive beside the JSON body (multipart parts); the record layer
//! (`records/files.rs`) turns them into names, checks size and sniffed MIME type against these
//! options, and places the files in storage before the record commits.

use super::{invalid, list, Kind, Modifier, Reader};
use crate::error::FieldError;
use crate::schema::field::{Field, FieldKind};
use serde_json::{json, Value};

/// The size limit of a file when `maxSize` is 0, as PocketBase (5 MiB).
pub const DEFAULT_FILE_MAX_SIZE: u64 = 5 << 20;

/// The largest `maxSize` accepted (2 GiB): uploads are streamed to disk, but a limit must exist.
const MAX_FILE_MAX_SIZE: u64 = 2 << 30;

/// Most files one field holds (bounds multipart parsing and the stored list).
const MAX_FILES: u32 = 99;

/// The options of a `file` field.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FileOptions {
    pub max_select: u32,
    /// Bytes per file; 0 means [`DEFAULT_FILE_MAX_SIZE`].
    pub max_size: u64,
    /// Allowed MIME types (sniffed from the content); empty allows any.
    pub mime_types: Vec<String>,
    /// Thumbnail sizes served besides the always-allowed `100x100` (`WxH`, `WxHt`, `WxHb`,
    /// `WxHf`, `0xH`, `Wx0`).
    pub thumbs: Vec<String>,
    /// Downloads need a file token and the collection's view rule.
    pub protected: bool,
}

impl FileOptions {
    /// The effective size limit of one file.
    pub fn size_limit(&self) -> u64 {
        super::or_default(self.max_size, DEFAULT_FILE_MAX_SIZE)
    }

    /// Most files the field holds.
    pub fn max_files(&self) -> usize {
        self.max_select.max(1) as usize
    }

    /// Whether `mime` is accepted (any when `mimeTypes` is empty).
    pub fn allows_mime(&self, mime: &str) -> bool {
        self.mime_types.is_empty() || self.mime_types.iter().any(|m| m.eq_ignore_ascii_case(mime))
    }
}

/// Largest thumbnail side: a thumb is decoded and encoded in memory.
pub const MAX_THUMB_SIDE: u32 = 4096;

/// Whether `spec` is a thumb size PocketBase accepts: `WxH` with an optional `t`/`b`/`f`
/// suffix, not `0x0`, each side at most [`MAX_THUMB_SIDE`].
pub fn valid_thumb(spec: &str) -> bool {
    let body = spec.strip_suffix(['t', 'b', 'f']).unwrap_or(spec);
    let Some((w, h)) = body.split_once('x') else {
        return false;
    };
    let num = |s: &str| {
        !s.is_empty()
            && s.len() <= 5
            && s.bytes().all(|b| b.is_ascii_digit())
            && s.parse::<u32>().is_ok_and(|n| n <= MAX_THUMB_SIDE)
    };
    num(w) && num(h) && !(w.bytes().all(|b| b == b'0') && h.bytes().all(|b| b == b'0'))
}

pub(crate) struct File;

impl Kind for File {
    fn name(&self) -> &'static str {
        "file"
    }

    fn parse(&self, r: &mut Reader, _field_name: &str) -> FieldKind {
        let max_select = r.u32("maxSelect");
        if max_select > MAX_FILES {
            r.fail(
                "maxSelect",
                FieldError::new(
                    "validation_max_less_equal_than_required",
                    format!("Must be no greater than {MAX_FILES}."),
                )
                .with_params(json!({ "threshold": MAX_FILES })),
            );
        }
        let max_size = r.uint("maxSize", MAX_FILE_MAX_SIZE);
        let mime_types = r.strings("mimeTypes");
        if mime_types.iter().any(|m| m.is_empty() || !m.contains('/')) {
            r.fail(
                "mimeTypes",
                invalid("Every MIME type must look like type/subtype."),
            );
        }
        let thumbs = r.strings("thumbs");
        if let Some(bad) = thumbs.iter().find(|t| !valid_thumb(t)) {
            let msg = format!(
                "Invalid thumb size {:?}: use WxH, WxHt, WxHb, WxHf, 0xH or Wx0 (sides up to {MAX_THUMB_SIDE}).",
                crate::error::echo(bad)
            );
            r.fail("thumbs", invalid(&msg));
        }
        FieldKind::File(FileOptions {
            max_select,
            max_size,
            mime_types,
            thumbs,
            protected: r.boolean("protected"),
        })
    }

    fn options_json(&self, kind: &FieldKind) -> Value {
        let FieldKind::File(o) = kind else {
            return json!({});
        };
        json!({
            "maxSelect": o.max_select, "maxSize": o.max_size, "mimeTypes": o.mime_types,
            "thumbs": o.thumbs, "protected": o.protected,
        })
    }

    fn is_multi(&self, kind: &FieldKind) -> bool {
        matches!(kind, FieldKind::File(o) if o.max_select >= 2)
    }

    fn zero_value(&self, field: &Field) -> Value {
        list::zero_value(field)
    }

    /// Names of files the record already holds (the record layer refuses unknown names).
    fn coerce(&self, field: &Field, raw: &Value) -> Result<Value, FieldError> {
        list::coerce(field, raw)
    }

    fn validate(&self, field: &Field, v: &Value) -> Result<(), FieldError> {
        let FieldKind::File(o) = &field.kind else {
            return Ok(());
        };
        let items = list::items(field, v)?;
        if items.len() > o.max_files() {
            return Err(too_many_files(o.max_files()));
        }
        Ok(())
    }

    fn modify(
        &self,
        field: &Field,
        current: Value,
        modifier: Modifier,
        raw: &Value,
    ) -> Result<Value, FieldError> {
        // Only removal by name applies to JSON values; `f+`/`+f` take uploads (records layer).
        match modifier {
            Modifier::Remove => list::modify(field, current, modifier, raw),
            Modifier::Append | Modifier::Prepend => Ok(current),
        }
    }
}

pub(crate) fn too_many_files(max: usize) -> FieldError {
    FieldError::new(
        "validation_too_many_files",
        format!("The maximum allowed files is {max}."),
    )
    .with_params(json!({ "maxSelect": max }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumb_sizes_follow_pocketbase() {
        for ok in ["100x100", "0x40", "40x0", "30x30t", "30x30b", "30x30f"] {
            assert!(valid_thumb(ok), "{ok}");
        }
        for bad in [
            "0x0", "x10", "10x", "10x10z", "axb", "100", "", "0x0t", "123456x1", "5000x10",
        ] {
            assert!(!valid_thumb(bad), "{bad}");
        }
    }
}
