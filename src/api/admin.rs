//! The admin dashboard at `/_/`: the single-page app built into `admin-ui/dist/` and embedded in
//! the binary (rust-embed; `cargo build` never needs Node). Deep links fall back to
//! `index.html`; hashed assets are cached forever, `index.html` never; precompressed `.br`/`.gz`
//! siblings are served when the client accepts them; every response carries a strict
//! Content-Security-Policy (no inline scripts, no other origins).

use poem::http::{header, HeaderValue, Method, StatusCode};
use poem::{handler, IntoResponse, Request, Response};
use rust_embed::Embed;

/// The built dashboard, with the precompressed `.br` / `.gz` sibling of each text file.
#[derive(Embed)]
#[folder = "admin-ui/dist/"]
struct Assets;

/// Scripts and styles only from the binary itself: no inline scripts or styles, no other origin
/// (the dashboard's smoke test fails on any CSP violation).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; \
base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

const INDEX: &str = "index.html";

/// `GET|HEAD /_/` and `/_/*path`.
#[handler]
pub fn serve(req: &Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let path = req
        .uri()
        .path()
        .strip_prefix("/_/")
        .unwrap_or("")
        .trim_start_matches('/');
    // A path with an extension is an asset (missing = 404); anything else is a client route.
    let compressed = path.ends_with(".br") || path.ends_with(".gz");
    let (name, file) = match Assets::get(path).filter(|_| !path.is_empty() && !compressed) {
        Some(f) => (path.to_string(), f),
        None if path.rsplit('/').next().is_some_and(|s| s.contains('.')) => {
            return with_csp(StatusCode::NOT_FOUND.into_response());
        }
        None => match Assets::get(INDEX) {
            Some(f) => (INDEX.to_string(), f),
            None => {
                return with_csp(
                    (
                        StatusCode::NOT_FOUND,
                        "The admin dashboard is not in this build (admin-ui/dist is empty).",
                    )
                        .into_response(),
                )
            }
        },
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()));
    let cache = if name.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let not_modified = req
        .header(header::IF_NONE_MATCH)
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let accepts = req.header(header::ACCEPT_ENCODING).unwrap_or("");
        let packed = ["br", "gzip"].into_iter().find_map(|enc| {
            let ext = if enc == "br" { "br" } else { "gz" };
            let wanted = accepts
                .split(',')
                .any(|a| a.split(';').next().is_some_and(|n| n.trim() == enc));
            let data = wanted.then(|| Assets::get(&format!("{name}.{ext}")))??;
            Some((enc, data))
        });
        let (body, encoding) = match packed {
            Some((enc, f)) => (f.data.into_owned(), Some(enc)),
            None => (file.data.into_owned(), None),
        };
        let head = req.method() == Method::HEAD;
        let len = body.len();
        let mut r = Response::builder()
            .header(header::CONTENT_TYPE, file.metadata.mimetype())
            .body(if head { Vec::new() } else { body });
        if head {
            // What a GET would send, without sending it.
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        if let Some(enc) = encoding {
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
        }
        r
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    with_csp(resp)
}

/// `GET /_`: the dashboard lives at `/_/`.
#[handler]
pub fn redirect() -> Response {
    Response::builder()
        .status(StatusCode::MOVED_PERMANENTLY)
        .header(header::LOCATION, "/_/")
        .finish()
}

fn with_csp(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    resp
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
