//! Request bodies in the three forms PocketBase accepts (JSON, multipart, urlencoded), read
//! within the configured size limit and turned into one JSON object.

use crate::error::{ApiError, FieldError};
use crate::files::{Files, StageError};
use crate::records::{file_options, file_too_large, split_key, Upload};
use crate::schema::{Field, FieldKind};
use poem::web::{Multipart, RequestBody};
use poem::{Body, FromRequest, Request};
use serde_json::{Map, Value};
use tokio::io::AsyncReadExt;

pub use crate::records::Request as Input;

fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge { limit }
}

fn read_error(e: poem::error::ReadBodyError, limit: usize) -> ApiError {
    match e {
        poem::error::ReadBodyError::PayloadTooLarge => too_large(limit),
        other => ApiError::bad_request(format!("Failed to read the request body: {other}")),
    }
}

/// Reads the body of `req` as an object. An empty body is `{}`.
/// The body of a superuser-only endpoint: the caller is checked before a byte is read, so a
/// guest cannot make the server parse a large body.
pub async fn read_as_superuser(
    caller: &crate::auth::Caller,
    req: &Request,
    body: Body,
    limit: usize,
) -> Result<Map<String, Value>, ApiError> {
    caller.require_superuser()?;
    Ok(read(req, body, limit).await?.data)
}

pub async fn read(req: &Request, body: Body, limit: usize) -> Result<Input, ApiError> {
    read_with_files(req, body, limit, None).await
}

/// Where the file parts of a multipart body may go: the file fields of `fields`, staged in
/// `files`. File parts are streamed to disk, never held in memory, each bounded by its field's
/// `maxSize`; the other parts share `limit`.
#[derive(Clone, Copy)]
pub struct Uploads<'a> {
    pub files: &'a Files,
    pub fields: &'a [Field],
    /// Batch bodies name parts `requests.<i>.<field>`: the field is the part after the prefix.
    pub batch: bool,
}

/// The field part of a batch part name `requests.<i>.<field>` (`None` if malformed).
pub fn batch_part(name: &str) -> Option<(usize, &str)> {
    let rest = name.strip_prefix("requests.")?;
    let (i, key) = rest.split_once('.')?;
    Some((i.parse().ok()?, key))
}

/// Most file parts in one request.
const MAX_FILE_PARTS: usize = 100;

impl Uploads<'_> {
    /// The most file bytes one request may carry.
    fn total_limit(&self) -> u64 {
        self.fields
            .iter()
            .filter_map(|f| match &f.kind {
                FieldKind::File(o) => Some(o.size_limit().saturating_mul(o.max_files() as u64)),
                _ => None,
            })
            .fold(0u64, u64::saturating_add)
    }
}

/// [`read`], taking file parts for the file fields of `uploads` (refused without it).
pub async fn read_with_files(
    req: &Request,
    body: Body,
    limit: usize,
    uploads: Option<Uploads<'_>>,
) -> Result<Input, ApiError> {
    let ctype = req.content_type().unwrap_or("").to_ascii_lowercase();
    let cap = if ctype.starts_with("multipart/form-data") {
        (limit as u64).saturating_add(uploads.map_or(0, |u| u.total_limit()))
    } else {
        limit as u64
    };
    if let Some(len) = req
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > cap {
            return Err(too_large(usize::try_from(cap).unwrap_or(usize::MAX)));
        }
    }
    if ctype.starts_with("multipart/form-data") {
        let mut rb = RequestBody::new(body);
        let mp = Multipart::from_request(req, &mut rb)
            .await
            .map_err(|e| ApiError::bad_request(format!("Invalid multipart body: {e}")))?;
        return read_multipart(mp, limit, uploads).await;
    }
    let bytes = body
        .into_bytes_limit(limit)
        .await
        .map_err(|e| read_error(e, limit))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Input::default());
    }
    if ctype.starts_with("application/x-www-form-urlencoded") {
        let mut data = Map::new();
        for (k, v) in url_pairs(&bytes) {
            push_value(&mut data, k, Value::String(v));
        }
        return Ok(Input {
            data,
            from_form: true,
            ..Input::default()
        });
    }
    if ctype.is_empty() || ctype.starts_with("application/json") || ctype.ends_with("+json") {
        return parse_json_object(&bytes).map(|data| Input {
            data,
            ..Input::default()
        });
    }
    Err(ApiError::bad_request("Unsupported Content-Type."))
}

/// Parses a JSON object body with a positioned error.
pub fn parse_json_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_field(
            "Failed to load the submitted data due to invalid formatting.",
            "body",
            FieldError::new("invalid_body", "The request body must be a JSON object."),
        )),
        Err(e) => Err(ApiError::bad_field(
            "Failed to load the submitted data due to invalid formatting.",
            "body",
            FieldError::new(
                "invalid_json",
                format!(
                    "Invalid JSON at line {}, column {}: {e}",
                    e.line(),
                    e.column()
                ),
            ),
        )),
    }
}

const MSG_FORMAT: &str = "Failed to load the submitted data due to invalid formatting.";

/// Stages one file part for the file field it names.
async fn stage_part(
    uploads: Option<Uploads<'_>>,
    name: &str,
    original: &str,
    part: poem::web::Field,
) -> Result<Upload, ApiError> {
    let not_file = || {
        ApiError::bad_field(
            MSG_FORMAT,
            name,
            FieldError::new(
                "validation_not_a_file_field",
                "Only file fields take uploaded files.",
            ),
        )
    };
    let up = uploads.ok_or_else(not_file)?;
    let key = if up.batch {
        batch_part(name).map(|(_, k)| k).ok_or_else(not_file)?
    } else {
        name
    };
    let opts = file_options(up.fields, key).ok_or_else(not_file)?;
    let limit = opts.size_limit();
    match up
        .files
        .stage(original, Box::pin(part.into_async_read()), limit)
        .await
    {
        Ok(staged) => Ok(Upload::new(name.to_string(), staged)),
        Err(StageError::TooLarge { limit }) => Err(ApiError::bad_field(
            MSG_FORMAT,
            split_key(key).0,
            file_too_large(original, limit),
        )),
        Err(StageError::Io(e)) => Err(ApiError::bad_request(format!(
            "Failed to read the uploaded file: {e}"
        ))),
    }
}

async fn read_multipart(
    mut mp: Multipart,
    limit: usize,
    uploads: Option<Uploads<'_>>,
) -> Result<Input, ApiError> {
    let mut input = Input {
        from_form: true,
        ..Input::default()
    };
    let data = &mut input.data;
    let mut text_left = limit;
    let bad = |e: poem::error::ParseMultipartError| {
        ApiError::bad_request(format!("Invalid multipart body: {e}"))
    };
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_string();
        if let Some(original) = field.file_name().map(str::to_string) {
            if input.uploads.len() >= MAX_FILE_PARTS {
                return Err(ApiError::bad_request(format!(
                    "Too many files in one request (at most {MAX_FILE_PARTS})."
                )));
            }
            input
                .uploads
                .push(stage_part(uploads, &name, &original, field).await?);
            continue;
        }
        let mut bytes = Vec::new();
        Box::pin(field.into_async_read())
            .take(text_left as u64 + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| ApiError::bad_request(format!("Invalid multipart body: {e}")))?;
        if bytes.len() > text_left {
            return Err(too_large(limit));
        }
        text_left -= bytes.len();
        let text = String::from_utf8(bytes)
            .map_err(|_| ApiError::bad_request("Invalid multipart body: a value is not UTF-8."))?;
        if name == "@jsonPayload" {
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(obj)) => data.extend(obj),
                _ => {
                    return Err(ApiError::bad_field(
                        "Failed to load the submitted data due to invalid formatting.",
                        "@jsonPayload",
                        FieldError::new("invalid_json", "@jsonPayload must be a JSON object."),
                    ))
                }
            }
        } else if !name.is_empty() {
            push_value(data, name, Value::String(text));
        }
    }
    Ok(input)
}

/// A repeated key becomes an array (`-F tags=a -F tags=b` → `["a","b"]`).
fn push_value(data: &mut Map<String, Value>, key: String, v: Value) {
    match data.get_mut(&key) {
        Some(Value::Array(arr)) => arr.push(v),
        Some(existing) => {
            let prev = existing.take();
            *existing = Value::Array(vec![prev, v]);
        }
        None => {
            data.insert(key, v);
        }
    }
}

/// Decodes `application/x-www-form-urlencoded` pairs.
pub fn url_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    bytes
        .split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let mut it = pair.splitn(2, |b| *b == b'=');
            let k = percent_decode(it.next().unwrap_or_default());
            let v = percent_decode(it.next().unwrap_or_default());
            (k, v)
        })
        .collect()
}

fn percent_decode(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                let hex = std::str::from_utf8(&s[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_pairs_decode() {
        let pairs = url_pairs(b"a=1&b=hello+world&c=%41%zz&d");
        assert_eq!(
            pairs,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "hello world".into()),
                ("c".into(), "A%zz".into()),
                ("d".into(), "".into())
            ]
        );
        assert_eq!(percent_decode(b"%4"), "%4");
        assert_eq!(percent_decode(b"%"), "%");
    }

    #[test]
    fn repeated_keys_become_arrays() {
        let mut m = Map::new();
        push_value(&mut m, "t".into(), Value::from("a"));
        push_value(&mut m, "t".into(), Value::from("b"));
        push_value(&mut m, "t".into(), Value::from("c"));
        assert_eq!(m["t"], serde_json::json!(["a", "b", "c"]));
    }

    #[test]
    fn json_errors_are_positioned() {
        let e = parse_json_object(b"{\"a\": 1,,}").unwrap_err();
        assert!(
            e.body().to_string().contains("line 1, column"),
            "{}",
            e.body()
        );
        assert!(parse_json_object(b"[1]").is_err());
    }
}
