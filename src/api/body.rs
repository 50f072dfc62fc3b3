//! Request bodies in the three forms PocketBase accepts (JSON, multipart, urlencoded), read
//! within the configured size limit and turned into one JSON object.

use crate::error::{ApiError, FieldError};
use poem::web::{Multipart, RequestBody};
use poem::{Body, FromRequest, Request};
use serde_json::{Map, Value};

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
    if let Some(len) = req
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > limit {
            return Err(too_large(limit));
        }
    }
    let bytes = body
        .into_bytes_limit(limit)
        .await
        .map_err(|e| read_error(e, limit))?;
    let ctype = req.content_type().unwrap_or("").to_ascii_lowercase();
    if bytes.iter().all(u8::is_ascii_whitespace) && !ctype.starts_with("multipart/") {
        return Ok(Input {
            data: Map::new(),
            from_form: false,
        });
    }
    if ctype.starts_with("multipart/form-data") {
        let mut rb = RequestBody::new(Body::from_bytes(bytes));
        let mp = Multipart::from_request(req, &mut rb)
            .await
            .map_err(|e| ApiError::bad_request(format!("Invalid multipart body: {e}")))?;
        return read_multipart(mp).await.map(|data| Input {
            data,
            from_form: true,
        });
    }
    if ctype.starts_with("application/x-www-form-urlencoded") {
        let mut data = Map::new();
        for (k, v) in url_pairs(&bytes) {
            push_value(&mut data, k, Value::String(v));
        }
        return Ok(Input {
            data,
            from_form: true,
        });
    }
    if ctype.is_empty() || ctype.starts_with("application/json") || ctype.ends_with("+json") {
        return parse_json_object(&bytes).map(|data| Input {
            data,
            from_form: false,
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

async fn read_multipart(mut mp: Multipart) -> Result<Map<String, Value>, ApiError> {
    let mut data = Map::new();
    let bad = |e: poem::error::ParseMultipartError| {
        ApiError::bad_request(format!("Invalid multipart body: {e}"))
    };
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_string();
        if field.file_name().is_some() {
            return Err(ApiError::bad_field(
                "Failed to load the submitted data due to invalid formatting.",
                &name,
                FieldError::new(
                    "validation_unsupported_file",
                    "File uploads are not supported yet.",
                ),
            ));
        }
        let text = field.text().await.map_err(bad)?;
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
            push_value(&mut data, name, Value::String(text));
        }
    }
    Ok(data)
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
