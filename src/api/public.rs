//! Static files at `/` from `[server] public_dir` (`serve --public DIR`), like PocketBase's
//! `pb_public`: every `GET`/`HEAD` outside `/api/` and `/_/` is a file under the folder. A folder
//! serves its `index.html` (without the trailing slash it redirects to it, so relative links
//! work); a missing path whose last segment has no extension falls back to the top
//! `index.html` (client-side routes of a single-page app); anything else missing is the JSON 404.
//!
//! Nothing outside the folder is reachable: `.` / `..` segments, backslashes, NULs and
//! percent-encoded slashes are refused, hidden names (`.git`, `.env`) are not served except
//! `.well-known`, and the resolved path (symlinks followed) must still be inside the folder.
//! Files stream from disk with `Content-Length`, a `Content-Type` from the extension
//! (`charset=utf-8` on text), a weak `ETag` (size + mtime) answered with 304 and
//! `Cache-Control: no-cache`.

use crate::app::App;
use crate::error::ApiError;
use poem::http::{header, HeaderValue, Method, StatusCode};
use poem::web::Data;
use poem::{handler, Body, IntoResponse, Request, Response};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

const INDEX: &str = "index.html";
/// Longest request path considered (longer ones are a 404 without touching the disk).
const MAX_PATH: usize = 2048;

/// `GET|HEAD /` and `/*path` (registered only when `public_dir` is set).
#[handler]
pub async fn serve(app: Data<&Arc<App>>, req: &Request) -> poem::Result<Response> {
    let path = req.uri().path();
    if is_reserved(path) {
        return Err(ApiError::not_found().into());
    }
    let root = &app.config.server.public_dir;
    let head = req.method() == Method::HEAD;
    match resolve(root, path).await {
        Found::File(file) => Ok(send(req, &file, head).await?),
        Found::Slash => {
            let mut location = format!("{path}/");
            if let Some(q) = req.uri().query() {
                location.push('?');
                location.push_str(q);
            }
            Ok(Response::builder()
                .status(StatusCode::MOVED_PERMANENTLY)
                .header(header::LOCATION, location)
                .finish())
        }
        Found::Nothing => Err(ApiError::not_found().into()),
    }
}

/// The API and the dashboard keep their own 404s.
fn is_reserved(path: &str) -> bool {
    ["/api", "/_"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

#[derive(Debug, PartialEq)]
enum Found {
    File(PathBuf),
    /// A folder asked for without its trailing slash.
    Slash,
    Nothing,
}

/// The safe relative path of a URL path, or `None` if it could name anything outside the folder.
fn segments(url_path: &str) -> Option<Vec<String>> {
    if url_path.len() > MAX_PATH {
        return None;
    }
    let mut out = Vec::new();
    for raw in url_path.split('/').filter(|s| !s.is_empty()) {
        let seg = percent_decode(raw)?;
        let hidden = seg.starts_with('.') && seg != ".well-known";
        if hidden || seg.contains(['/', '\\', '\0']) {
            return None;
        }
        out.push(seg);
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None; // from_str_radix would take "+1"
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

async fn resolve(root: &Path, url_path: &str) -> Found {
    let Some(segs) = segments(url_path) else {
        return Found::Nothing;
    };
    let Ok(root) = tokio::fs::canonicalize(root).await else {
        return Found::Nothing;
    };
    let mut path = root.clone();
    path.extend(&segs);
    let inside = |p: &PathBuf| p.starts_with(&root);
    match tokio::fs::canonicalize(&path).await {
        Ok(real) if inside(&real) => match tokio::fs::metadata(&real).await {
            Ok(m) if m.is_file() => Found::File(real),
            Ok(m) if m.is_dir() && !url_path.ends_with('/') => Found::Slash,
            Ok(m) if m.is_dir() => index_of(&real, &root).await,
            _ => Found::Nothing,
        },
        Ok(_) => Found::Nothing, // a symlink out of the folder
        Err(_) => {
            // A client-side route of a single-page app: no extension in the last segment.
            let route = segs.last().is_some_and(|s| !s.contains('.'));
            if !route {
                return Found::Nothing;
            }
            index_of(&root, &root).await
        }
    }
}

/// `dir/index.html` if it is a file inside `root`.
async fn index_of(dir: &Path, root: &Path) -> Found {
    let Ok(index) = tokio::fs::canonicalize(dir.join(INDEX)).await else {
        return Found::Nothing;
    };
    match tokio::fs::metadata(&index).await {
        Ok(m) if m.is_file() && index.starts_with(root) => Found::File(index),
        _ => Found::Nothing,
    }
}

async fn send(req: &Request, path: &Path, head: bool) -> Result<Response, ApiError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|_| ApiError::not_found())?;
    let meta = file.metadata().await.map_err(ApiError::internal)?;
    let len = meta.len();
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let etag = format!("W/\"{len:x}-{mtime:x}\"");
    let not_modified = req.header(header::IF_NONE_MATCH).is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim() == etag || t.trim() == "*" || t.trim() == &etag[2..])
    });
    let mut resp = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        let textual = mime.type_() == mime_guess::mime::TEXT
            || matches!(mime.subtype().as_str(), "javascript" | "json" | "xml");
        let content_type = if textual && mime.get_param("charset").is_none() {
            format!("{mime}; charset=utf-8")
        } else {
            mime.to_string()
        };
        let body = if head {
            Body::empty()
        } else {
            Body::from_async_read(file)
        };
        let mut r = Response::builder()
            .header(header::CONTENT_TYPE, content_type)
            .body(body);
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        r
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_segments_are_accepted() {
        assert_eq!(segments("/a/b.js"), Some(vec!["a".into(), "b.js".into()]));
        assert_eq!(segments("//a//"), Some(vec!["a".into()]));
        assert_eq!(segments("/"), Some(vec![]));
        assert_eq!(segments("/my%20file.txt"), Some(vec!["my file.txt".into()]));
        assert_eq!(
            segments("/.well-known/x"),
            Some(vec![".well-known".into(), "x".into()])
        );
        for bad in [
            "/../etc/passwd",
            "/a/../../x",
            "/%2e%2e/x",
            "/a%2f..%2f..%2fx",
            "/a%5c..%5cx",
            "/a%00.html",
            "/.env",
            "/.git/config",
            "/./a",
            "/%zz",
            "/%e2%28%a1",
            "/%",
            "/%+1",
        ] {
            assert_eq!(segments(bad), None, "{bad}");
        }
        assert_eq!(segments(&"/a".repeat(MAX_PATH)), None);
    }

    #[test]
    fn api_and_dashboard_paths_are_reserved() {
        for p in ["/api", "/api/", "/api/nope", "/_", "/_/", "/_/x"] {
            assert!(is_reserved(p), "{p}");
        }
        for p in ["/", "/apix", "/_x", "/app/api"] {
            assert!(!is_reserved(p), "{p}");
        }
    }
}
