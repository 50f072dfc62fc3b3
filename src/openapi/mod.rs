//! The OpenAPI 3.1 document behind `GET /api/openapi.json|yaml`: a static part (`statics`,
//! described with poem-openapi types) merged with paths and schemas generated from the live
//! schema (`collections`, `fields`), per audience (guests see only operations whose rule is not
//! superuser-only), cached per (schema epoch, audience) with an ETag. The docs UI (RapiDoc,
//! vendored pre-gzipped in `ui/`) is served from the binary at `/api/docs`.

mod collections;
mod fields;
mod mirrors;
mod statics;

use crate::schema::{Registry, Snapshot};
use bytes::Bytes;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub use fields::DATETIME_PATTERN;

/// Who the document is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Guests and records: only operations whose rule is not null (superuser only).
    Public,
    /// Superusers: everything, hidden fields included.
    Superuser,
}

/// The document being assembled; BTreeMaps keep the output ordered and deterministic.
#[derive(Default)]
pub struct Doc {
    pub paths: BTreeMap<String, Value>,
    pub schemas: BTreeMap<String, Value>,
    pub tags: Vec<Value>,
}

/// A `{description, content: application/json}` response.
pub(crate) fn json_body(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn status_text(status: u16) -> &'static str {
    match status {
        400 => "Invalid request (see `data` for the fields and their codes).",
        401 => "A token is required.",
        403 => "The caller may not do this.",
        404 => "Not found (or not visible to the caller).",
        413 => "The body is too large.",
        429 => "Too many attempts; try again later.",
        _ => "Error.",
    }
}

/// The error envelope responses for `statuses`.
pub(crate) fn error_responses(statuses: &[u16]) -> Map<String, Value> {
    statuses
        .iter()
        .map(|s| {
            (
                s.to_string(),
                json_body(
                    status_text(*s),
                    json!({"$ref": "#/components/schemas/Error"}),
                ),
            )
        })
        .collect()
}

/// Builds the whole document for `audience` from a schema snapshot.
pub fn build(snapshot: &Snapshot, audience: Audience, version: &str) -> Value {
    let mut doc = Doc::default();
    statics::add(&mut doc, audience);
    for col in snapshot.all() {
        collections::add(&mut doc, col, audience);
    }
    let info_description = match audience {
        Audience::Superuser => "Everything, as a superuser sees it.",
        Audience::Public => "The operations open to non-superusers (send a superuser's token for the full document).",
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Ferrobase API",
            "version": version,
            "description": format!("PocketBase-compatible API. {info_description} Authenticate with `Authorization: <token>` from an auth-with-password call."),
        },
        "servers": [{"url": "/"}],
        "security": [{}, {"token": []}],
        "tags": doc.tags,
        "paths": doc.paths,
        "components": {
            "schemas": doc.schemas,
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "A token from auth-with-password (bare or `Bearer <token>`)."},
            },
        },
    })
}

/// One rendered document.
pub struct Rendered {
    pub epoch: u64,
    pub value: Value,
    pub json: Bytes,
    /// `"<epoch>-<hash of the JSON>"`, quoted.
    pub etag: String,
}

/// The service: builds documents on demand and keeps the newest per audience.
pub struct OpenApi {
    schema: Arc<Registry>,
    version: String,
    cache: Mutex<BTreeMap<bool, Arc<Rendered>>>,
}

impl OpenApi {
    pub fn new(schema: Arc<Registry>, version: &str) -> Self {
        Self {
            schema,
            version: version.to_string(),
            cache: Mutex::new(BTreeMap::new()),
        }
    }

    /// The document for `audience` at the current schema epoch.
    pub fn document(&self, audience: Audience) -> Arc<Rendered> {
        let snapshot = self.schema.snapshot();
        let key = audience == Audience::Superuser;
        let mut cache = match self.cache.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(r) = cache.get(&key).filter(|r| r.epoch == snapshot.epoch()) {
            return r.clone();
        }
        let value = build(&snapshot, audience, &self.version);
        let json = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
        let hash = Sha256::digest(&json);
        let hex: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
        let rendered = Arc::new(Rendered {
            epoch: snapshot.epoch(),
            etag: format!("\"{}-{hex}\"", snapshot.epoch()),
            value,
            json,
        });
        cache.insert(key, rendered.clone());
        rendered
    }
}

/// RapiDoc's script, gzipped (see `ui/fetch.sh`).
pub const RAPIDOC_JS_GZ: &[u8] = include_bytes!("ui/rapidoc-min.js.gz");

/// The docs page: RapiDoc on `/api/openapi.json` (system fonts only, nothing loaded from the
/// network), "try it" against this server. The bar on top takes a token (or logs a superuser in
/// through `/api/collections/_superusers/auth-with-password`), reloads the document as that
/// caller sees it and hands the token to RapiDoc for its requests.
pub const DOCS_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ferrobase API</title>
<style>
  body { margin: 0; font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }
  #bar { display: flex; gap: .5em; align-items: center; padding: .5em 1em; background: #f3f4f6; flex-wrap: wrap; }
  #bar input { padding: .3em; } #bar #token { flex: 1; min-width: 12em; } #msg { color: #555; }
  rapi-doc { height: calc(100vh - 3em); }
</style>
<script type="module" src="/api/docs/rapidoc-min.js"></script>
</head>
<body>
<form id="bar">
  <strong>Ferrobase API</strong>
  <input id="email" type="email" placeholder="superuser email" aria-label="Superuser email" autocomplete="username">
  <input id="password" type="password" placeholder="password" aria-label="Password" autocomplete="current-password">
  <button type="submit">Log in</button>
  <input id="token" placeholder="or paste a token" aria-label="Token">
  <button type="button" id="use">Use token</button>
  <span id="msg" role="status"></span>
</form>
<rapi-doc id="doc" render-style="read" show-header="false" allow-authentication="true"
  allow-server-selection="false" load-fonts="false" schema-style="table" theme="light"
  regular-font="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
  mono-font="ui-monospace, Menlo, Consolas, monospace">
</rapi-doc>
<script>
  const doc = document.getElementById('doc');
  const msg = document.getElementById('msg');
  doc.setAttribute('server-url', location.origin);
  doc.setAttribute('default-api-server', location.origin);
  async function load(token) {
    const headers = token ? { Authorization: token } : {};
    const res = await fetch('/api/openapi.json', { headers });
    if (!res.ok) { msg.textContent = 'Could not load the API description (' + res.status + ').'; return; }
    await customElements.whenDefined('rapi-doc');
    // The key can only be set on a loaded document: RapiDoc resolves its security schemes then.
    const loaded = new Promise((done) => doc.addEventListener('spec-loaded', done, { once: true }));
    doc.loadSpec(await res.json());
    await loaded;
    if (token) { doc.setApiKey('token', token); sessionStorage.setItem('fbToken', token); }
  }
  document.getElementById('bar').addEventListener('submit', async (e) => {
    e.preventDefault();
    const res = await fetch('/api/collections/_superusers/auth-with-password', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ identity: document.getElementById('email').value,
                             password: document.getElementById('password').value }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) { msg.textContent = body.message || ('Login failed (' + res.status + ').'); return; }
    document.getElementById('token').value = body.token;
    msg.textContent = 'Logged in as ' + (body.record && body.record.email || 'superuser') + '.';
    load(body.token);
  });
  document.getElementById('use').addEventListener('click', () => {
    msg.textContent = '';
    load(document.getElementById('token').value.trim());
  });
  const saved = sessionStorage.getItem('fbToken');
  if (saved) document.getElementById('token').value = saved;
  load(saved);
</script>
</body>
</html>
"#;
