//! `GET /api/openapi.json|yaml` and the docs UI at `/api/docs`: visibility per caller, every
//! field kind, auth collection endpoints, ETag/304 across schema changes, and an insta snapshot
//! of the document for the fixed sample schema of `tests/openapi/sample_collections.json`.

use crate::harness::{public_collection, Api, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

const SAMPLE: &str = include_str!("../openapi/sample_collections.json");

async fn with_sample() -> TestServer {
    let srv = TestServer::start().await;
    let cols: Vec<Value> = serde_json::from_str(SAMPLE).unwrap();
    for c in cols {
        srv.create_collection(c).await;
    }
    srv
}

async fn spec(srv: &TestServer, su: bool) -> Value {
    let api = if su { srv.su() } else { srv.guest() };
    let r = api.get("/api/openapi.json").await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn props<'a>(doc: &'a Value, schema: &str) -> &'a serde_json::Map<String, Value> {
    doc["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("no schema {schema}"))
}

#[tokio::test]
async fn guests_see_only_operations_whose_rule_is_not_null() {
    let srv = with_sample().await;
    let guest = spec(&srv, false).await;
    let su = spec(&srv, true).await;
    assert_eq!(guest["openapi"], "3.1.0");
    let gp = guest["paths"].as_object().unwrap();
    let sp = su["paths"].as_object().unwrap();
    // Every rule null: gone for guests, there for superusers.
    assert!(!gp.contains_key("/api/collections/private_notes/records"));
    assert!(!guest["components"]["schemas"]
        .as_object()
        .unwrap()
        .contains_key("private_notesRecord"));
    assert!(sp["/api/collections/private_notes/records"]["get"].is_object());
    assert!(sp["/api/collections/private_notes/records/{id}"]["delete"].is_object());
    // Superuser-only static endpoints.
    for path in [
        "/api/collections",
        "/api/settings",
        "/api/logs",
        "/api/webhooks",
    ] {
        assert!(!gp.contains_key(path), "guest sees {path}");
        assert!(sp.contains_key(path), "superuser misses {path}");
    }
    assert!(gp["/api/health"]["get"].is_object());
    assert!(gp["/api/batch"]["post"].is_object());
    // Public rules: every CRUD operation.
    let posts = &gp["/api/collections/posts/records"];
    assert!(posts["get"].is_object() && posts["post"].is_object());
    let one = &gp["/api/collections/posts/records/{id}"];
    assert!(one["get"].is_object() && one["patch"].is_object() && one["delete"].is_object());
    // Hidden fields: superusers only.
    assert!(!props(&guest, "postsRecord").contains_key("secret"));
    assert!(props(&su, "postsRecord").contains_key("secret"));
    // A record token is not a superuser's: the public document.
    let member = srv
        .guest()
        .post(
            "/api/collections/members/records",
            json!({"email": "m@example.com", "password": "12345678", "passwordConfirm": "12345678"}),
        )
        .await
        .ok();
    // (the email is not visible to a guest: emailVisibility is false)
    assert!(member["id"].is_string() && member.get("email").is_none());
    let login = srv
        .guest()
        .post(
            "/api/collections/members/auth-with-password",
            json!({"identity": "m@example.com", "password": "12345678"}),
        )
        .await
        .ok();
    let token = login["token"].as_str().unwrap().to_string();
    let r = srv.client(Some(token)).get("/api/openapi.json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, guest);
}

#[tokio::test]
async fn every_field_kind_has_its_schema() {
    let srv = with_sample().await;
    let doc = spec(&srv, true).await;
    let rec = props(&doc, "postsRecord");
    let ty = |k: &str| rec[k]["type"].clone();
    assert_eq!(ty("title"), "string");
    assert_eq!(ty("body"), "string");
    assert_eq!(ty("views"), "number");
    assert_eq!(ty("published"), "boolean");
    assert_eq!(ty("contact"), "string");
    assert_eq!(ty("site"), "string");
    assert_eq!(ty("status"), "string");
    assert_eq!(ty("labels"), "array");
    assert_eq!(ty("tag"), "string");
    assert_eq!(ty("tags"), "array");
    assert_eq!(ty("cover"), "string");
    assert_eq!(ty("attachments"), "array");
    assert_eq!(rec["meta"], json!({}));
    assert_eq!(rec["place"]["required"], json!(["lon", "lat"]));
    // Dates in PocketBase's form: a pattern, not format date-time.
    for k in ["due", "created", "updated"] {
        assert_eq!(
            rec[k]["pattern"],
            ferrobase::openapi::DATETIME_PATTERN,
            "{k}"
        );
        assert!(rec[k].get("format").is_none());
    }
    for k in ["collectionId", "collectionName", "id", "expand"] {
        assert!(rec.contains_key(k), "{k}");
    }
    let create = props(&doc, "postsCreate");
    assert_eq!(create["views"]["type"], "integer");
    assert_eq!(create["rating"]["maximum"], 5.0);
    assert_eq!(create["status"]["enum"], json!(["draft", "published"]));
    assert_eq!(
        create["labels"]["items"]["enum"],
        json!(["red", "green", "blue"])
    );
    assert_eq!(create["title"]["maxLength"], 200);
    assert_eq!(create["slug"]["pattern"], "^[a-z0-9-]*$");
    assert_eq!(create["contact"]["format"], "email");
    assert!(!create.contains_key("created"), "autodate is not an input");
    assert_eq!(
        doc["components"]["schemas"]["postsCreate"]["required"],
        json!(["title"])
    );
    let update = props(&doc, "postsUpdate");
    for k in [
        "views+",
        "views-",
        "+labels",
        "labels+",
        "labels-",
        "tags+",
        "attachments-",
    ] {
        assert!(update.contains_key(k), "modifier {k}");
    }
    assert!(!update.contains_key("id"));
    // Files: multipart binary parts in create/update bodies.
    let body = &doc["paths"]["/api/collections/posts/records"]["post"]["requestBody"]["content"];
    let form = &body["multipart/form-data"]["schema"]["properties"];
    assert_eq!(form["cover"]["format"], "binary");
    assert_eq!(form["attachments"]["items"]["format"], "binary");
    // The list envelope and its query parameters.
    let list = &doc["components"]["schemas"]["postsList"];
    assert_eq!(
        list["required"],
        json!(["page", "perPage", "totalItems", "totalPages", "items"])
    );
    let params: Vec<&str> = doc["paths"]["/api/collections/posts/records"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        params,
        [
            "page",
            "perPage",
            "sort",
            "filter",
            "skipTotal",
            "expand",
            "fields"
        ]
    );
    // Errors are the envelope.
    let err = &doc["paths"]["/api/collections/posts/records/{id}"]["get"]["responses"]["404"];
    assert_eq!(
        err["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Error"
    );
    let env = &doc["components"]["schemas"]["Error"];
    assert_eq!(env["required"], json!(["status", "message", "data"]));
}

#[tokio::test]
async fn auth_collections_have_their_auth_endpoints() {
    let srv = with_sample().await;
    let guest = spec(&srv, false).await;
    let su = spec(&srv, true).await;
    let p = guest["paths"].as_object().unwrap();
    for ep in [
        "auth-with-password",
        "auth-refresh",
        "auth-methods",
        "request-verification",
        "confirm-verification",
        "request-password-reset",
        "confirm-password-reset",
        "request-email-change",
        "confirm-email-change",
    ] {
        assert!(
            p.contains_key(&format!("/api/collections/members/{ep}")),
            "{ep}"
        );
    }
    // Superusers log in through the docs: their login is there for guests, their records not.
    assert!(p.contains_key("/api/collections/_superusers/auth-with-password"));
    assert!(!p.contains_key("/api/collections/_superusers/records"));
    assert!(!p.contains_key("/api/collections/members/impersonate/{id}"));
    assert!(su["paths"]["/api/collections/members/impersonate/{id}"]["post"].is_object());
    // The auth response carries the record schema; the password is only an input.
    let auth = &su["components"]["schemas"]["membersAuth"];
    assert_eq!(auth["required"], json!(["token", "record"]));
    assert!(!props(&su, "membersRecord").contains_key("password"));
    assert!(!props(&su, "membersRecord").contains_key("tokenKey"));
    assert!(props(&su, "membersCreate").contains_key("password"));
    assert!(props(&su, "membersCreate").contains_key("passwordConfirm"));
    assert_eq!(
        su["components"]["schemas"]["membersCreate"]["required"],
        json!(["password", "email", "passwordConfirm"])
    );
    assert!(props(&su, "membersUpdate").contains_key("oldPassword"));
    // What auth-methods really sends matches its schema's keys.
    let methods = srv
        .guest()
        .get("/api/collections/members/auth-methods")
        .await
        .ok();
    let schema = props(&su, "AuthMethods");
    for k in methods.as_object().unwrap().keys() {
        assert!(schema.contains_key(k), "auth-methods key {k} undocumented");
    }
}

#[tokio::test]
async fn etag_follows_the_schema_and_if_none_match_is_304() {
    let srv = with_sample().await;
    let su = srv.su();
    let first = Api::send(su.request(Method::GET, "/api/openapi.json")).await;
    let r = su
        .request(Method::GET, "/api/openapi.json")
        .send()
        .await
        .unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(first.status, 200);
    // The document depends on the caller: caches must keep it per Authorization.
    let vary: Vec<&str> = r
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(vary.contains(&"Authorization"), "{vary:?}");
    assert_eq!(r.headers()["cache-control"], "private, no-cache");
    // Same schema: same tag, and a conditional request is 304 without a body.
    let r = su
        .request(Method::GET, "/api/openapi.json")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
    assert!(r.text().await.unwrap().is_empty());
    // Guests get another document, so another tag.
    let g = srv
        .guest()
        .request(Method::GET, "/api/openapi.json")
        .send()
        .await
        .unwrap();
    assert_ne!(g.headers()["etag"].to_str().unwrap(), etag);
    // A schema change: a new tag, the new collection in the document, the old tag is stale.
    srv.create_collection(public_collection(
        "later",
        json!([{"name": "x", "type": "text"}]),
    ))
    .await;
    let r = su
        .request(Method::GET, "/api/openapi.json")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_ne!(r.headers()["etag"].to_str().unwrap(), etag);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["paths"]["/api/collections/later/records"].is_object());
}

#[tokio::test]
async fn yaml_is_the_same_document() {
    let srv = with_sample().await;
    let r = srv
        .su()
        .request(Method::GET, "/api/openapi.yaml")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/yaml");
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.ends_with("-yaml\""), "{etag}");
    let text = r.text().await.unwrap();
    assert!(
        text.contains("\nopenapi: 3.1.0\n"),
        "{}",
        &text[..80.min(text.len())]
    );
    assert!(text.contains("/api/collections/posts/records/{id}:"));
    let r = srv
        .su()
        .request(Method::GET, "/api/openapi.yaml")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
}

#[tokio::test]
async fn docs_ui_is_served_from_the_binary() {
    let srv = TestServer::start().await;
    let r = srv
        .guest()
        .request(Method::GET, "/api/docs")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("<rapi-doc") && html.contains("/api/docs/rapidoc-min.js"));
    assert!(!html.contains("https://"), "nothing from the network");
    // Gzipped as stored for clients that take gzip ...
    let r = srv
        .guest()
        .request(Method::GET, "/api/docs/rapidoc-min.js")
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let vary: Vec<&str> = r
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(vary.contains(&"Accept-Encoding"), "{vary:?}");
    let gz = r.bytes().await.unwrap();
    assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    // ... plain for the others.
    let r = srv
        .guest()
        .request(Method::GET, "/api/docs/rapidoc-min.js")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let js = r.text().await.unwrap();
    assert!(js.len() > 500_000 && js.contains("rapi-doc"));
}

#[tokio::test]
async fn snapshot_of_the_sample_schema() {
    let srv = with_sample().await;
    let mut doc = spec(&srv, true).await;
    doc["info"]["version"] = json!("<version>");
    insta::assert_snapshot!(
        "openapi_superuser",
        serde_json::to_string_pretty(&doc).unwrap()
    );
    let mut doc = spec(&srv, false).await;
    doc["info"]["version"] = json!("<version>");
    insta::assert_snapshot!("openapi_guest", serde_json::to_string_pretty(&doc).unwrap());
}

/// Every key of what the superuser endpoints really send is a property of the mirror the
/// document names for them (the mirrors keep `additionalProperties` open, so this is what
/// keeps them complete).
#[tokio::test]
async fn mirrors_name_every_key_the_server_sends() {
    let srv = with_sample().await;
    let su = spec(&srv, true).await;
    let api = srv.su();
    let keys_in = |v: &Value, schema: &str, what: &str| {
        let p = props(&su, schema);
        for k in v
            .as_object()
            .unwrap_or_else(|| panic!("{what}: {v}"))
            .keys()
        {
            assert!(p.contains_key(k), "{what}: key {k} not in {schema}");
        }
    };
    // An auth collection carries the most keys.
    let members = api.get("/api/collections/members").await.ok();
    keys_in(&members, "Collection", "collection");
    let settings = api.get("/api/settings").await.ok();
    keys_in(&settings, "Settings", "settings");
    for (section, schema) in [
        ("meta", "MetaSettings"),
        ("smtp", "SmtpSettings"),
        ("logs", "LogsSettings"),
    ] {
        keys_in(&settings[section], schema, section);
    }
    let r = api
        .post("/api/backups", json!({"name": "mirror_test.zip"}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let backups = api.get("/api/backups").await.ok();
    assert_eq!(backups[0]["key"], "mirror_test.zip");
    keys_in(&backups[0], "BackupItem", "backup");
    let stats = api.get("/api/logs/stats").await.ok();
    if let Some(first) = stats.as_array().and_then(|a| a.first()) {
        keys_in(first, "LogStat", "log stats");
    }
    // Operations the document now lists, with the status a guest gets.
    let paths = su["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/backups", "post"),
        ("/api/backups/upload", "post"),
        ("/api/backups/{key}", "get"),
        ("/api/backups/{key}/restore", "post"),
        ("/api/settings/test/s3", "post"),
        ("/api/settings/test/email", "post"),
        ("/api/typegen.ts", "get"),
        ("/api/collections/import", "put"),
        ("/api/collections/meta/validate", "post"),
        ("/api/mails", "get"),
        ("/api/plugins", "get"),
        ("/api/webhooks/{id}/test", "post"),
        ("/api/webhooks/{id}/deliveries/{delivery}/redeliver", "post"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} missing");
    }
    let guest = spec(&srv, false).await;
    let gp = guest["paths"].as_object().unwrap();
    assert!(!gp.contains_key("/api/backups") && !gp.contains_key("/api/mails"));
    assert!(gp["/api/setup"]["post"].is_object());
    // Nor the shapes only those operations use.
    let gs = guest["components"]["schemas"].as_object().unwrap();
    for name in ["Collection", "Settings", "Webhook", "BackupItem"] {
        assert!(!gs.contains_key(name), "guest document carries {name}");
    }
    assert!(gs.contains_key("Error") && gs.contains_key("SetupRequest"));
    assert!(gp["/api/realtime/ws"]["get"]["responses"]["101"].is_object());
    let r = srv.guest().get("/api/backups").await;
    assert_eq!(r.status, 401, "{}", r.text);
}
