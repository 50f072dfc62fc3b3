//! `editor`: rich text (HTML) limited in bytes by `maxSize`.

use super::{or_default, text_of, Kind, Reader};
use crate::error::FieldError;
use crate::schema::checks::check_size;
use crate::schema::field::{Field, FieldKind};
use serde_json::{json, Value};

/// Editor fields without `maxSize` accept this many bytes (5 MiB).
pub const DEFAULT_EDITOR_MAX_SIZE: u64 = 5 << 20;

pub(crate) struct Editor;

impl Kind for Editor {
    fn name(&self) -> &'static str {
        "editor"
    }

    fn parse(&self, r: &mut Reader, _field_name: &str) -> FieldKind {
        FieldKind::Editor {
            max_size: r.uint("maxSize", u64::MAX >> 11),
            convert_urls: r.boolean("convertURLs"),
        }
    }

    fn options_json(&self, kind: &FieldKind) -> Value {
        let FieldKind::Editor {
            max_size,
            convert_urls,
        } = kind
        else {
            return json!({});
        };
        json!({"maxSize": max_size, "convertURLs": convert_urls})
    }

    fn validate(&self, field: &Field, v: &Value) -> Result<(), FieldError> {
        let FieldKind::Editor { max_size, .. } = field.kind else {
            return Ok(());
        };
        let s = text_of(v)?;
        let limit = or_default(max_size, DEFAULT_EDITOR_MAX_SIZE);
        check_size(s.len(), limit, "validation_content_size_limit", "content")
    }
}
