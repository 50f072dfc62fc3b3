//! Record ids: server-generated ids that sort by creation time, and client-chosen ids validated
//! against the collection's `id` field.

use super::write::Request;
use crate::error::{FieldError, FieldErrors};
use crate::ids::RecordId;
use crate::schema::{names, Collection, FieldKind};
use serde_json::Value;

/// A new record id: 8 base36 chars of milliseconds since 2020 then 7 random ones, so ids sort
/// (and lists default to) roughly in creation order while keeping PocketBase's 15-char format.
pub fn ordered_id() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let epoch_2020 = 1_577_836_800_000_i64;
    let mut ms = (chrono::Utc::now().timestamp_millis() - epoch_2020).max(0) as u64;
    let mut head = [b'0'; 8];
    for slot in head.iter_mut().rev() {
        *slot = ALPHABET[(ms % 36) as usize];
        ms /= 36;
    }
    let mut id = String::from_utf8_lossy(&head).into_owned();
    id.push_str(&crate::schema::random_id()[..7]);
    id
}

pub(super) fn new_id(col: &Collection, req: &Request, errors: &mut FieldErrors) -> RecordId {
    let id_field = col.field(names::ID);
    match req.data.get(names::ID) {
        Some(Value::String(s)) if !s.is_empty() => {
            if let Some(f) = id_field {
                if let Err(e) = f.validate(&Value::String(s.clone())) {
                    errors.add(names::ID, e);
                }
            }
            RecordId::from(s.as_str())
        }
        Some(Value::String(_)) | Some(Value::Null) | None => {
            let pattern = id_field.and_then(|f| match &f.kind {
                FieldKind::Text(t) => Some(t.autogenerate_pattern.clone()),
                _ => None,
            });
            match pattern.as_deref() {
                Some("[a-z0-9]{15}") | None | Some("") => RecordId(ordered_id()),
                Some(p) => {
                    RecordId(crate::schema::generate_from_pattern(p).unwrap_or_else(ordered_id))
                }
            }
        }
        Some(_) => {
            errors.add(
                names::ID,
                FieldError::new("validation_invalid_format", "Invalid value format."),
            );
            RecordId(String::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_ids_have_pocketbase_shape_and_sort_by_time() {
        let a = ordered_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = ordered_id();
        assert_eq!(a.len(), 15);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()));
        assert!(a[..8] < b[..8], "{a} {b}");
    }
}
