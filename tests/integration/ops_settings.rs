//! Operations: `GET/PATCH /api/settings` (superusers) in PocketBase's shape, saved durably over
//! the config file's defaults, secrets never shown, validation errors by field path, changes
//! applied without a restart (mail templates' appName/appURL, batch); and the superuser part
//! of `GET /api/health`.

use serde_json::json;

use crate::accounts::{register, user};
use crate::harness::{public_collection, TestServer};

#[tokio::test]
async fn settings_have_pocketbase_shape_and_config_defaults() {
    let srv = TestServer::builder()
        .env("FERROBASE_SMTP_APP_NAME", "Configured")
        .env("FERROBASE_BATCH_MAX_REQUESTS", "7")
        .start()
        .await;
    let s = srv.su().get("/api/settings").await.ok();
    for key in [
        "meta",
        "smtp",
        "s3",
        "backups",
        "batch",
        "rateLimits",
        "trustedProxy",
        "logs",
    ] {
        assert!(s[key].is_object(), "{key} in {s}");
    }
    assert_eq!(s["meta"]["appName"], "Configured");
    assert_eq!(s["meta"]["senderAddress"], "no-reply@example.com");
    assert!(s["meta"]["appURL"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    assert_eq!(s["batch"]["maxRequests"], 7);
    assert_eq!(s["batch"]["enabled"], true);
    assert_eq!(s["smtp"]["enabled"], false);
    assert_eq!(s["logs"]["maxDays"], 5);
    assert_eq!(s["logs"]["logIP"], true);
    assert_eq!(s["trustedProxy"]["headers"], json!([]));
    assert_eq!(s["trustedProxy"]["useLeftmostIP"], false);
    assert_eq!(s["backups"]["cronMaxKeep"], 3);
    assert!(s["rateLimits"]["rules"].is_array());
    // Secrets are not part of the document.
    assert!(s["smtp"].get("password").is_none(), "{s}");
    assert!(s["s3"].get("secret").is_none(), "{s}");
    assert!(s["backups"]["s3"].get("secret").is_none(), "{s}");
}

#[tokio::test]
async fn settings_patch_saves_merges_masks_and_survives_restart() {
    let mut srv = TestServer::builder()
        .env("FERROBASE_SMTP_APP_NAME", "Configured")
        .start()
        .await;
    let su = srv.su();
    let s = su
        .patch(
            "/api/settings",
            json!({
                "meta": {"appName": "Renamed", "appURL": "https://app.example.com/"},
                "smtp": {"host": "smtp.example.com", "port": 2525, "password": "hunter2"},
                "s3": {"secret": "s3cret", "bucket": "b"},
                "logs": {"maxDays": 9},
                "unknownKey": 1,
            }),
        )
        .await
        .ok();
    assert_eq!(s["meta"]["appName"], "Renamed");
    assert_eq!(
        s["meta"]["senderAddress"], "no-reply@example.com",
        "untouched keys stay"
    );
    assert_eq!(s["smtp"]["port"], 2525);
    assert_eq!(s["smtp"]["host"], "smtp.example.com");
    assert!(s["smtp"].get("password").is_none(), "{s}");
    assert!(s["s3"].get("secret").is_none(), "{s}");
    assert_eq!(s["s3"]["bucket"], "b");
    assert_eq!(s["logs"]["maxDays"], 9);
    assert!(s.get("unknownKey").is_none());
    assert_eq!(su.get("/api/settings").await.ok(), s);

    // Saved over a restart; a later PATCH without the secret keeps it (it is still required
    // for s3.enabled, so enabling s3 without resending it passes).
    srv.restart().await;
    let su = srv.su();
    let again = su.get("/api/settings").await.ok();
    assert_eq!(again, s);
    let r = su
        .patch(
            "/api/settings",
            json!({"s3": {"enabled": true, "endpoint": "https://s3.example.com", "region": "r", "accessKey": "k"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Blanking it now fails validation on that path.
    let r = su
        .patch("/api/settings", json!({"s3": {"secret": ""}}))
        .await;
    r.assert_error(400, "An error occurred while submitting the form.");
    assert_eq!(
        r.body["data"]["s3"]["secret"]["code"],
        "validation_required"
    );
}

#[tokio::test]
async fn settings_validation_errors_have_field_paths_and_save_nothing() {
    let srv = TestServer::start().await;
    let su = srv.su();
    let before = su.get("/api/settings").await.ok();
    let r = su
        .patch(
            "/api/settings",
            json!({
                "meta": {"appName": "", "appURL": "nope", "senderAddress": "not-an-email"},
                "smtp": {"enabled": true, "host": "", "authMethod": "CRAM"},
                "backups": {"cron": "99 * * * *"},
                "batch": {"maxRequests": -1},
                "rateLimits": {"rules": [
                    {"label": "/api/", "maxRequests": 1, "duration": 1},
                    {"label": "/api/", "maxRequests": 0, "duration": 1},
                ]},
                "trustedProxy": {"headers": ["X Bad"]},
                "logs": {"maxDays": -1},
            }),
        )
        .await;
    r.assert_error(400, "An error occurred while submitting the form.");
    let d = &r.body["data"];
    assert_eq!(d["meta"]["appName"]["code"], "validation_required", "{d}");
    assert_eq!(d["meta"]["appURL"]["code"], "validation_invalid_url");
    assert_eq!(d["meta"]["senderAddress"]["code"], "validation_is_email");
    assert_eq!(d["smtp"]["host"]["code"], "validation_required");
    assert_eq!(d["smtp"]["authMethod"]["code"], "validation_in_invalid");
    assert_eq!(d["backups"]["cron"]["code"], "validation_invalid_cron");
    assert_eq!(
        d["batch"]["maxRequests"]["code"],
        "validation_min_greater_equal_than_required"
    );
    assert_eq!(
        d["rateLimits"]["rules"]["1"]["label"]["code"],
        "validation_conflicting_rate_limit_rule"
    );
    assert_eq!(
        d["rateLimits"]["rules"]["1"]["maxRequests"]["code"],
        "validation_min_greater_equal_than_required"
    );
    assert_eq!(
        d["trustedProxy"]["headers"]["0"]["code"],
        "validation_invalid_value"
    );
    assert_eq!(
        d["logs"]["maxDays"]["code"],
        "validation_min_greater_equal_than_required"
    );
    assert_eq!(su.get("/api/settings").await.ok(), before, "nothing saved");

    // Wrong types are a 400 too, never a 500.
    let r = su
        .patch("/api/settings", json!({"smtp": {"port": "x"}}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = su.patch("/api/settings", json!({"meta": null})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(su.get("/api/settings").await.ok(), before);
}

#[tokio::test]
async fn settings_are_superuser_only() {
    let srv = TestServer::start().await;
    let guest = srv.guest();
    let r = guest.get("/api/settings").await;
    assert_eq!(r.status, 401, "{}", r.text);
    let r = guest
        .patch("/api/settings", json!({"meta": {"appName": "x"}}))
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    let (client, _) = user(&srv, "u@example.com", "u").await;
    let r = client.get("/api/settings").await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = client
        .patch("/api/settings", json!({"meta": {"appName": "x"}}))
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let s = srv.su().get("/api/settings").await.ok();
    assert_ne!(s["meta"]["appName"], "x");
}

#[tokio::test]
async fn settings_changes_apply_without_restart() {
    let srv = TestServer::start().await;
    let su = srv.su();
    su.patch(
        "/api/settings",
        json!({"meta": {"appName": "Shiny App", "appURL": "https://shiny.example.com"}}),
    )
    .await
    .ok();
    // Mail templates use the new name and URL at once.
    register(&srv, "m@example.com", "m").await;
    let r = srv
        .guest()
        .post(
            "/api/collections/users/request-verification",
            json!({"email": "m@example.com"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mail = loop {
        let mails = su.get("/api/mails").await.ok();
        let found = mails["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["to"] == "m@example.com")
            .cloned();
        match found {
            Some(m) => break m,
            None if std::time::Instant::now() > deadline => panic!("no mail: {mails}"),
            None => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    };
    assert_eq!(mail["subject"], "Verify your Shiny App email");
    let html = mail["html"].as_str().unwrap();
    assert!(
        html.contains("https://shiny.example.com/_/#/auth/confirm-verification/"),
        "{html}"
    );

    // batch.maxRequests and batch.enabled apply to the next batch.
    srv.create_collection(public_collection(
        "notes",
        json!([{"name": "title", "type": "text"}]),
    ))
    .await;
    let req = |n: usize| {
        json!({"requests": (0..n).map(|i| json!({
            "method": "POST", "url": "/api/collections/notes/records", "body": {"title": format!("t{i}")},
        })).collect::<Vec<_>>()})
    };
    assert_eq!(su.post("/api/batch", req(3)).await.status, 200);
    su.patch("/api/settings", json!({"batch": {"maxRequests": 2}}))
        .await
        .ok();
    let r = su.post("/api/batch", req(3)).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.code("requests"), "validation_length_too_long");
    assert_eq!(su.post("/api/batch", req(2)).await.status, 200);
    su.patch("/api/settings", json!({"batch": {"enabled": false}}))
        .await
        .ok();
    let r = su.post("/api/batch", req(1)).await;
    r.assert_error(403, "Batch requests are not allowed.");
}

#[tokio::test]
async fn health_shows_proxy_details_to_superusers_only() {
    let srv = TestServer::start().await;
    let r = srv
        .guest()
        .request(reqwest::Method::GET, "/api/health")
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["data"], json!({}));

    let get = |xff: Option<&'static str>| {
        let mut rb = srv.su().request(reqwest::Method::GET, "/api/health");
        if let Some(v) = xff {
            rb = rb.header("X-Forwarded-For", v);
        }
        async move {
            let r = rb.send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let h = get(None).await;
    assert_eq!(h["code"], 200);
    assert_eq!(h["data"]["realIP"], "127.0.0.1");
    assert_eq!(h["data"]["possibleProxyHeader"], "");
    assert_eq!(
        h["data"]["canBackup"], true,
        "no backup or restore is running"
    );
    // An untrusted proxy header is pointed out, not believed.
    let h = get(Some("203.0.113.9")).await;
    assert_eq!(h["data"]["realIP"], "127.0.0.1");
    assert_eq!(h["data"]["possibleProxyHeader"], "X-Forwarded-For");
    // Trusted: the rightmost address (or the leftmost with useLeftmostIP).
    srv.su()
        .patch(
            "/api/settings",
            json!({"trustedProxy": {"headers": ["X-Forwarded-For"]}}),
        )
        .await
        .ok();
    let h = get(Some("198.51.100.1, 203.0.113.9")).await;
    assert_eq!(h["data"]["realIP"], "203.0.113.9");
    assert_eq!(h["data"]["possibleProxyHeader"], "");
    srv.su()
        .patch(
            "/api/settings",
            json!({"trustedProxy": {"useLeftmostIP": true}}),
        )
        .await
        .ok();
    let h = get(Some("198.51.100.1, 203.0.113.9")).await;
    assert_eq!(h["data"]["realIP"], "198.51.100.1");
    // Garbage in the header falls back to the peer.
    let h = get(Some("not-an-ip")).await;
    assert_eq!(h["data"]["realIP"], "127.0.0.1");
}

#[tokio::test]
async fn rate_limit_rules_from_settings_apply_at_once() {
    let srv = TestServer::start().await;
    srv.create_collection(public_collection(
        "notes",
        json!([{"name": "title", "type": "text"}]),
    ))
    .await;
    let su = srv.su();
    su.patch(
        "/api/settings",
        json!({"rateLimits": {"enabled": true, "rules": [
            {"label": "*:create", "audience": "@guest", "maxRequests": 2, "duration": 60},
            {"label": "/api/", "maxRequests": 1000, "duration": 60},
        ]}}),
    )
    .await
    .ok();
    let guest = srv.guest();
    for i in 0..2 {
        guest
            .create("notes", json!({"title": format!("g{i}")}))
            .await;
    }
    let r = guest
        .post("/api/collections/notes/records", json!({"title": "g3"}))
        .await;
    r.assert_error(429, "Too Many Requests.");
    // Other actions and authenticated callers fall to other rules.
    assert_eq!(
        guest.get("/api/collections/notes/records").await.status,
        200
    );
    for i in 0..3 {
        su.create("notes", json!({"title": format!("s{i}")})).await;
    }
    // Another client IP has its own budget.
    let other = srv.client_from("127.0.0.4", None);
    other.create("notes", json!({"title": "o"})).await;

    // Turning limits off applies to the next request.
    su.patch("/api/settings", json!({"rateLimits": {"enabled": false}}))
        .await
        .ok();
    guest.create("notes", json!({"title": "after"})).await;
}
