//! The dashboard at `/_/` (embedded `admin-ui/dist`) and the first-run setup: what a browser
//! gets (content types, deep links, caching, compression, CSP) and the one-time setup token.

use crate::harness::TestServer;
use serde_json::{json, Value};

/// The first `/_/assets/...` file `index.html` references.
fn first_asset(index: &str) -> String {
    let at = index
        .find("/_/assets/")
        .expect("index.html references an asset");
    index[at..]
        .split(['"', '\''])
        .next()
        .expect("asset path")
        .to_string()
}

#[tokio::test]
async fn admin_dashboard_is_served_with_spa_fallback_caching_and_csp() {
    let srv = TestServer::start().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str| http.get(srv.url(path));

    let r = get("/_").send().await.unwrap();
    assert_eq!(r.status(), 301);
    assert_eq!(r.headers()["location"], "/_/");

    let r = get("/_/").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(h["cache-control"], "no-cache");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let etag = h["etag"].to_str().unwrap().to_string();
    let index = r.text().await.unwrap();
    assert!(!index.contains("<script>"), "no inline scripts: {index}");

    // Deep links load the app; a revalidation with the ETag is a 304.
    for deep in ["/_/collections/posts", "/_/collections/posts/records"] {
        let r = get(deep).send().await.unwrap();
        assert_eq!(r.status(), 200, "{deep}");
        assert_eq!(r.text().await.unwrap(), index, "{deep}");
    }
    let r = get("/_/")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    // Hashed assets: cached forever, right type, compressed when accepted, HEAD without a body.
    let asset = first_asset(&index);
    let r = get(&asset).send().await.unwrap();
    assert_eq!(r.status(), 200, "{asset}");
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let ctype = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        ctype.contains("javascript") || ctype.contains("css"),
        "{ctype}"
    );
    let plain = r.bytes().await.unwrap();
    let r = get(&asset)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip", "{asset}");
    assert!(r.bytes().await.unwrap().len() < plain.len());
    let r = http.head(srv.url(&asset)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-length"],
        plain.len().to_string().as_str()
    );

    // A missing asset is a 404, not the app.
    assert_eq!(
        get("/_/assets/nope-123.js").send().await.unwrap().status(),
        404
    );
    assert_eq!(get("/_/index.html.gz").send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn admin_first_run_setup_creates_the_first_superuser_once() {
    let srv = TestServer::builder().without_superuser().start().await;
    let guest = srv.guest();
    assert_eq!(guest.get("/api/setup").await.ok()["needed"], true);
    let log = srv.log_tail();
    let at = log
        .find("/_/#/setup?token=")
        .expect("serve prints the setup link");
    let token: String = log[at + "/_/#/setup?token=".len()..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    assert_eq!(token.len(), 40);

    let body = |token: &str, pw: &str| json!({"token": token, "email": "admin@example.com", "password": pw, "passwordConfirm": pw});
    guest
        .post("/api/setup", body("wrong", "a-good-password"))
        .await
        .assert_error(403, "The setup token is invalid or was already used.");
    // A bad password is a validation error and keeps the token.
    let r = guest.post("/api/setup", body(&token, "short")).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.code("password"),
        "validation_min_text_constraint",
        "{}",
        r.text
    );

    let ok = guest
        .post("/api/setup", body(&token, "a-good-password"))
        .await
        .ok();
    assert_eq!(ok["record"]["email"], "admin@example.com");
    let su = srv.client(Some(ok["token"].as_str().unwrap().to_string()));
    assert_eq!(
        su.get("/api/collections").await.status,
        200,
        "the token is a superuser's"
    );
    // One time only.
    guest
        .post("/api/setup", body(&token, "another-password"))
        .await
        .assert_error(403, "The setup token is invalid or was already used.");
    assert_eq!(guest.get("/api/setup").await.ok()["needed"], false);
}

#[tokio::test]
async fn admin_setup_is_not_armed_when_a_superuser_exists() {
    let srv = TestServer::start().await;
    assert_eq!(srv.guest().get("/api/setup").await.ok()["needed"], false);
    assert!(!srv.log_tail().contains("setup?token="));
}

/// The dashboard's live feedback: a dry run of a collection save that writes nothing.
#[tokio::test]
async fn collection_validate_is_a_dry_run_of_create_and_update() {
    let srv = TestServer::start().await;
    let su = srv.su();
    let path = "/api/collections/meta/validate";
    let fields = json!([{"name": "t", "type": "text"}]);

    // As a create: a bad rule is the save's positioned error, a good body a 204 that stores nothing.
    let r = su
        .post(
            path,
            json!({"name": "drafts", "listRule": "t = 1 &&", "fields": fields}),
        )
        .await;
    r.assert_field_error(
        "Failed to create collection.",
        "listRule",
        "validation_invalid_rule",
    );
    let r = su
        .post(
            path,
            json!({"name": "drafts", "listRule": "t = 'x'", "fields": fields}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(su.get("/api/collections/drafts").await.status, 404);

    // As an update (the body names an existing id): a clashing field name is refused as a
    // PATCH would refuse it, and a valid change is not applied.
    let coll = srv
        .create_collection(json!({"name": "posts", "fields": fields}))
        .await;
    let id = coll["id"].as_str().unwrap();
    let r = su
        .post(
            path,
            json!({"id": id, "fields": [{"name": "t", "type": "text"}, {"name": "t", "type": "bool"}]}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.message(), "Failed to update collection.", "{}", r.text);
    let r = su
        .post(path, json!({"id": id, "name": "renamed", "viewRule": ""}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let kept = su.get(&format!("/api/collections/{id}")).await.ok();
    assert_eq!(kept["name"], "posts");
    assert_eq!(kept["viewRule"], Value::Null);

    // Superusers only, like every schema operation.
    srv.guest()
        .post(path, json!({"name": "x"}))
        .await
        .assert_error(
            401,
            "The request requires valid record authorization token.",
        );
}
