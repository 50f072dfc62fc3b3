//! Superuser authentication: login errors, token forms, refresh and revocation.

use serde_json::json;

use crate::harness::{is_record_id, TestServer, SU_EMAIL, SU_PASSWORD};

const LOGIN: &str = "/api/collections/_superusers/auth-with-password";
const REFRESH: &str = "/api/collections/_superusers/auth-refresh";
const NEEDS_AUTH: &str = "The request requires valid record authorization token.";

#[tokio::test]
async fn login_success_and_failures() {
    let srv = TestServer::start().await;
    let guest = srv.guest();

    let ok = guest
        .post(
            LOGIN,
            json!({"identity": SU_EMAIL, "password": SU_PASSWORD}),
        )
        .await
        .ok();
    let rec = &ok["record"];
    assert_eq!(rec["collectionId"], "pbc_3142635823");
    assert_eq!(rec["collectionName"], "_superusers");
    assert_eq!(rec["email"], SU_EMAIL);
    assert_eq!(rec["verified"], true);
    assert!(is_record_id(rec["id"].as_str().unwrap()));
    assert!(rec.get("password").is_none() && rec.get("tokenKey").is_none());
    assert_eq!(ok["token"].as_str().unwrap().split('.').count(), 3, "a JWT");

    for body in [
        json!({"identity": SU_EMAIL, "password": "wrong-password"}),
        json!({"identity": "nobody@example.com", "password": SU_PASSWORD}),
    ] {
        let r = guest.post(LOGIN, body).await;
        r.assert_error(400, "Failed to authenticate.");
        assert_eq!(r.body["data"], json!({}));
    }
    let r = guest.post(LOGIN, json!({})).await;
    r.assert_error(
        400,
        "An error occurred while validating the submitted data.",
    );
    assert_eq!(r.code("identity"), "validation_required");
    assert_eq!(r.code("password"), "validation_required");
    let r = guest.post(LOGIN, json!({"identity": SU_EMAIL})).await;
    assert_eq!(r.code("password"), "validation_required", "{}", r.text);
    assert!(r.body["data"].get("identity").is_none(), "{}", r.text);

    // Auth endpoints need an auth collection.
    srv.create_collection(json!({"name": "plain"})).await;
    guest
        .post(
            "/api/collections/plain/auth-with-password",
            json!({"identity": SU_EMAIL, "password": SU_PASSWORD}),
        )
        .await
        .assert_error(404, "Missing or invalid auth collection context.");
}

#[tokio::test]
async fn token_forms_and_forgeries() {
    let srv = TestServer::start().await;
    let token = srv.token().to_string();
    for auth in [
        token.clone(),
        format!("Bearer {token}"),
        format!("bearer {token}"),
    ] {
        let r = srv.client(Some(auth.clone())).get("/api/collections").await;
        assert_eq!(r.status, 200, "Authorization: {auth}: {}", r.text);
    }

    // Tamper with the signature, the payload, or send garbage: all 401 on a superuser endpoint.
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let sig = parts[2].clone();
    let flipped = if sig.ends_with('A') { "B" } else { "A" };
    parts[2] = format!("{}{flipped}", &sig[..sig.len() - 1]);
    let bad_sig = parts.join(".");
    let none_alg = format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
        token.split('.').nth(1).unwrap()
    );
    for auth in [
        bad_sig,
        none_alg,
        "garbage".to_string(),
        "Bearer ".to_string(),
        "a.b.c".to_string(),
        format!("Token {token}"),
    ] {
        let c = srv.client(Some(auth.clone()));
        c.get("/api/collections")
            .await
            .assert_error(401, NEEDS_AUTH);
        c.post("/api/collections", json!({"name": "x"}))
            .await
            .assert_error(401, NEEDS_AUTH);
    }
    srv.guest()
        .get("/api/collections")
        .await
        .assert_error(401, NEEDS_AUTH);
}

#[tokio::test]
async fn auth_refresh_issues_a_new_token() {
    let srv = TestServer::start().await;
    let old = srv.token().to_string();
    // JWTs carry second-resolution `exp`; wait so the refreshed token must differ.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = srv.su().post(REFRESH, json!({})).await.ok();
    let new = r["token"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(r["record"]["email"], SU_EMAIL);
    assert_eq!(r["record"]["collectionName"], "_superusers");
    let c = srv.client(Some(format!("Bearer {new}")));
    assert_eq!(c.get("/api/collections").await.status, 200);
    assert_eq!(
        srv.client(Some(old)).get("/api/collections").await.status,
        200,
        "refresh does not revoke the previous token"
    );

    srv.guest()
        .post(REFRESH, json!({}))
        .await
        .assert_error(401, NEEDS_AUTH);
    srv.client(Some("garbage".into()))
        .post(REFRESH, json!({}))
        .await
        .assert_error(401, NEEDS_AUTH);
}

#[tokio::test]
async fn password_change_via_cli_revokes_old_tokens() {
    let mut srv = TestServer::start().await;
    let old_token = srv.token().to_string();
    srv.stop().await;
    srv.superuser_upsert(SU_EMAIL, "a-brand-new-password");
    srv.superuser_upsert("second@example.com", "second-password-1");
    srv.start_again().await; // logs in with the new password

    let old = srv.client(Some(old_token.clone()));
    old.get("/api/collections")
        .await
        .assert_error(401, NEEDS_AUTH);
    old.post(REFRESH, json!({}))
        .await
        .assert_error(401, NEEDS_AUTH);
    srv.guest()
        .post(
            LOGIN,
            json!({"identity": SU_EMAIL, "password": SU_PASSWORD}),
        )
        .await
        .assert_error(400, "Failed to authenticate.");
    assert_eq!(srv.su().get("/api/collections").await.status, 200);
    let second = srv.login("second@example.com", "second-password-1").await;
    assert_ne!(second, old_token);

    // Changing another superuser's password revokes only that superuser's tokens.
    let current = srv.token().to_string();
    srv.stop().await;
    srv.superuser_upsert("second@example.com", "second-password-2");
    srv.start_again().await;
    assert_eq!(
        srv.client(Some(current))
            .get("/api/collections")
            .await
            .status,
        200,
        "another superuser's password change does not revoke this token"
    );
    srv.client(Some(second))
        .get("/api/collections")
        .await
        .assert_error(401, NEEDS_AUTH);
}

#[tokio::test]
async fn login_email_is_case_insensitive() {
    // Ferrobase keeps auth emails lower-cased (a deliberate difference from PocketBase).
    let srv = TestServer::start().await;
    let r = srv
        .guest()
        .post(
            LOGIN,
            json!({"identity": SU_EMAIL.to_uppercase(), "password": SU_PASSWORD}),
        )
        .await
        .ok();
    assert_eq!(r["record"]["email"], SU_EMAIL);
}

#[tokio::test]
async fn deleted_superuser_tokens_stop_working() {
    let mut srv = TestServer::start().await;
    srv.stop().await;
    srv.superuser_upsert("temp@example.com", "temp-password-1");
    srv.start_again().await;
    let temp = srv.login("temp@example.com", "temp-password-1").await;
    assert_eq!(
        srv.client(Some(temp.clone()))
            .get("/api/collections")
            .await
            .status,
        200
    );

    srv.stop().await;
    let out = srv.cli(&["superuser", "delete", "temp@example.com"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    srv.start_again().await;
    srv.client(Some(temp))
        .get("/api/collections")
        .await
        .assert_error(401, NEEDS_AUTH);
    srv.guest()
        .post(
            LOGIN,
            json!({"identity": "temp@example.com", "password": "temp-password-1"}),
        )
        .await
        .assert_error(400, "Failed to authenticate.");
    assert_eq!(srv.su().get("/api/collections").await.status, 200);
}

#[tokio::test]
async fn superuser_records_never_expose_secrets() {
    let srv = TestServer::start().await;
    let su = srv.su();
    let list = su.list("_superusers", "").await;
    assert_eq!(list["totalItems"], 1);
    let rec = &list["items"][0];
    assert_eq!(rec["email"], SU_EMAIL);
    for secret in ["password", "tokenKey", "passwordHash"] {
        assert!(rec.get(secret).is_none(), "{secret} leaked: {rec}");
    }
    assert!(!list.to_string().contains("argon2"), "hash leaked: {list}");
    let one = su
        .get(&format!(
            "/api/collections/_superusers/records/{}",
            rec["id"].as_str().unwrap()
        ))
        .await
        .ok();
    assert_eq!(&one, rec);
    // Guests get nothing.
    srv.guest()
        .get("/api/collections/_superusers/records")
        .await
        .assert_error(403, "Only superusers can perform this action.");
}
