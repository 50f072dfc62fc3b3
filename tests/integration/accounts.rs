//! End-user accounts in auth collections: the default `users` collection, registration,
//! verification, password reset, email change (tokens taken from the kept mails), auth methods,
//! impersonation, authRule and manageRule.

use serde_json::{json, Value};

use crate::harness::{record, records, Api, TestServer};

pub const USERS: &str = "users";
pub const PASSWORD: &str = "correct-horse-1";

/// Registers `email` in `users` as a guest; returns the record JSON.
pub async fn register(srv: &TestServer, email: &str, name: &str) -> Value {
    srv.guest()
        .post(
            &records(USERS),
            json!({"email": email, "password": PASSWORD, "passwordConfirm": PASSWORD, "name": name}),
        )
        .await
        .ok()
}

/// `auth-with-password` on `users`; returns `(token, record)`.
pub async fn login_user(srv: &TestServer, email: &str, password: &str) -> (String, Value) {
    let r = srv
        .guest()
        .post(
            "/api/collections/users/auth-with-password",
            json!({"identity": email, "password": password}),
        )
        .await
        .ok();
    (
        r["token"].as_str().expect("token").to_string(),
        r["record"].clone(),
    )
}

/// Registers and logs in; returns `(client, id)`.
pub async fn user(srv: &TestServer, email: &str, name: &str) -> (Api, String) {
    let rec = register(srv, email, name).await;
    let (token, _) = login_user(srv, email, PASSWORD).await;
    (
        srv.client(Some(token)),
        rec["id"].as_str().expect("id").to_string(),
    )
}

/// The token in the newest kept mail to `to` whose link contains `path` (`confirm-verification`…).
/// Mails are sent from a background queue, so this waits (bounded) for the mail to be kept.
pub async fn mailed_token(srv: &TestServer, to: &str, path: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let html = loop {
        let mails = srv.su().get("/api/mails").await.ok();
        let found = mails["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|m| m["to"] == to && m["html"].as_str().unwrap_or("").contains(path))
            .map(|m| m["html"].as_str().expect("html").to_string());
        match found {
            Some(html) => break html,
            None if std::time::Instant::now() > deadline => {
                panic!("no {path} mail to {to}: {mails}")
            }
            None => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    };
    let start = html.find(&format!("{path}/")).expect("link") + path.len() + 1;
    html[start..].split('"').next().expect("token").to_string()
}

fn url(action: &str) -> String {
    format!("/api/collections/users/{action}")
}

#[tokio::test]
async fn default_users_collection_matches_pocketbase() {
    let srv = TestServer::start().await;
    let c = srv.su().get("/api/collections/users").await.ok();
    assert_eq!(c["id"], "_pb_users_auth_");
    assert_eq!(c["type"], "auth");
    for key in ["listRule", "viewRule", "updateRule", "deleteRule"] {
        assert_eq!(c[key], "id = @request.auth.id", "{key}");
    }
    assert_eq!(c["createRule"], "");
    assert_eq!(c["authRule"], "");
    assert_eq!(c["manageRule"], Value::Null);
    let names: Vec<&str> = c["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "id",
            "password",
            "tokenKey",
            "email",
            "emailVisibility",
            "verified",
            "name",
            "avatar",
            "created",
            "updated"
        ]
    );
    assert!(!c.to_string().contains("secret"), "secrets leaked: {c}");
}

#[tokio::test]
async fn registration_verification_and_login_flow() {
    let srv = TestServer::start().await;
    let guest = srv.guest();
    // Registration needs passwordConfirm; a guest cannot pre-verify itself.
    let r = guest
        .post(
            &records(USERS),
            json!({"email": "ann@example.com", "password": PASSWORD}),
        )
        .await;
    r.assert_field_error(
        "Failed to create record.",
        "passwordConfirm",
        "validation_required",
    );
    let r = guest
        .post(
            &records(USERS),
            json!({"email": "ann@example.com", "password": PASSWORD, "passwordConfirm": PASSWORD, "verified": true}),
        )
        .await;
    r.assert_field_error(
        "Failed to create record.",
        "verified",
        "validation_values_mismatch",
    );
    let rec = register(&srv, "ann@example.com", "Ann").await;
    assert_eq!(rec["verified"], false);
    assert!(
        rec.get("email").is_none(),
        "email hidden from a guest: {rec}"
    );
    for secret in ["password", "tokenKey", "passwordConfirm"] {
        assert!(rec.get(secret).is_none(), "{secret} leaked: {rec}");
    }
    let (token, me) = login_user(&srv, "ann@example.com", PASSWORD).await;
    assert_eq!(me["email"], "ann@example.com", "owner sees the email");
    assert_eq!(me["verified"], false);

    // Verification: 204 for known and unknown addresses alike; 400 for a malformed one.
    for email in ["ann@example.com", "nobody@example.com"] {
        let r = guest
            .post(&url("request-verification"), json!({"email": email}))
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
    }
    let r = guest
        .post(&url("request-verification"), json!({"email": "nope"}))
        .await;
    assert_eq!(r.code("email"), "validation_is_email", "{}", r.text);
    // Kept mails are for superusers only.
    srv.client(Some(token.clone()))
        .get("/api/mails")
        .await
        .assert_error(
            403,
            "The authorized record is not allowed to perform this action.",
        );
    assert_eq!(guest.get("/api/mails").await.status, 401);
    let mails = srv.su().get("/api/mails").await.ok();
    assert!(
        !mails.to_string().contains("nobody@example.com"),
        "no mail to unknown accounts: {mails}"
    );

    let vt = mailed_token(&srv, "ann@example.com", "confirm-verification").await;
    let r = guest
        .post(&url("confirm-verification"), json!({"token": "x.y.z"}))
        .await;
    assert_eq!(
        r.code("token"),
        "validation_invalid_token_claims",
        "{}",
        r.text
    );
    // A verification token is not an auth token.
    srv.client(Some(vt.clone()))
        .post(&url("auth-refresh"), json!({}))
        .await
        .assert_error(
            401,
            "The request requires valid record authorization token.",
        );
    let r = guest
        .post(&url("confirm-verification"), json!({"token": vt}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let (_, me) = login_user(&srv, "ann@example.com", PASSWORD).await;
    assert_eq!(me["verified"], true);
    // The same token again is harmless.
    let r = guest
        .post(&url("confirm-verification"), json!({"token": vt}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
}

#[tokio::test]
async fn password_reset_flow_is_single_use_and_revokes_sessions() {
    let srv = TestServer::start().await;
    let (ann, id) = user(&srv, "ann@example.com", "Ann").await;
    let r = srv
        .guest()
        .post(
            &url("request-password-reset"),
            json!({"email": "ann@example.com"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let t = mailed_token(&srv, "ann@example.com", "confirm-password-reset").await;
    let r = srv
        .guest()
        .post(
            &url("confirm-password-reset"),
            json!({"token": t, "password": "short", "passwordConfirm": "short"}),
        )
        .await;
    assert_eq!(
        r.code("password"),
        "validation_min_text_constraint",
        "{}",
        r.text
    );
    let body =
        json!({"token": t, "password": "new-password-9", "passwordConfirm": "new-password-9"});
    let r = srv
        .guest()
        .post(&url("confirm-password-reset"), body.clone())
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // The old session is gone, the new password works, the token cannot be replayed.
    ann.get(&record(USERS, &id))
        .await
        .assert_error(404, "The requested resource wasn't found.");
    let (_, me) = login_user(&srv, "ann@example.com", "new-password-9").await;
    assert_eq!(me["verified"], true, "a reset proves the address");
    let r = srv.guest().post(&url("confirm-password-reset"), body).await;
    assert_eq!(r.code("token"), "validation_invalid_token", "{}", r.text);
}

#[tokio::test]
async fn email_change_flow() {
    let srv = TestServer::start().await;
    let (ann, _) = user(&srv, "ann@example.com", "Ann").await;
    register(&srv, "bob@example.com", "Bob").await;
    srv.guest()
        .post(
            &url("request-email-change"),
            json!({"newEmail": "x@example.com"}),
        )
        .await
        .assert_error(
            401,
            "The request requires valid record authorization token.",
        );
    let r = ann
        .post(
            &url("request-email-change"),
            json!({"newEmail": "bob@example.com"}),
        )
        .await;
    assert_eq!(
        r.code("newEmail"),
        "validation_invalid_new_email",
        "{}",
        r.text
    );
    let r = ann
        .post(
            &url("request-email-change"),
            json!({"newEmail": "ann2@example.com"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let t = mailed_token(&srv, "ann2@example.com", "confirm-email-change").await;
    let r = srv
        .guest()
        .post(
            &url("confirm-email-change"),
            json!({"token": t, "password": "wrong-password"}),
        )
        .await;
    assert_eq!(
        r.code("password"),
        "validation_invalid_password",
        "{}",
        r.text
    );
    let body = json!({"token": t, "password": PASSWORD});
    let r = srv
        .guest()
        .post(&url("confirm-email-change"), body.clone())
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let (_, me) = login_user(&srv, "ann2@example.com", PASSWORD).await;
    assert_eq!(me["email"], "ann2@example.com");
    assert_eq!(me["verified"], true);
    let r = srv.guest().post(&url("confirm-email-change"), body).await;
    assert_eq!(
        r.code("token"),
        "validation_invalid_token_payload",
        "single use: {}",
        r.text
    );
    // The session from before the change ended with it.
    ann.post(&url("auth-refresh"), json!({}))
        .await
        .assert_error(
            401,
            "The request requires valid record authorization token.",
        );
}

#[tokio::test]
async fn auth_methods_and_impersonation() {
    let srv = TestServer::start().await;
    let m = srv.guest().get(&url("auth-methods")).await.ok();
    assert_eq!(
        m["password"],
        json!({"identityFields": ["email"], "enabled": true})
    );
    assert_eq!(m["oauth2"]["enabled"], false);
    assert_eq!(m["mfa"]["enabled"], false);
    assert_eq!(m["otp"]["enabled"], false);
    assert_eq!(m["emailPassword"], true);

    let (ann, id) = user(&srv, "ann@example.com", "Ann").await;
    let path = url(&format!("impersonate/{id}"));
    ann.post(&path, json!({})).await.assert_error(
        403,
        "The authorized record is not allowed to perform this action.",
    );
    assert_eq!(srv.guest().post(&path, json!({})).await.status, 401);
    let r = srv.su().post(&path, json!({"duration": 60})).await.ok();
    assert_eq!(r["record"]["id"], id.as_str());
    let token = r["token"].as_str().unwrap().to_string();
    let as_ann = srv.client(Some(token.clone()));
    assert_eq!(as_ann.get(&record(USERS, &id)).await.status, 200);
    // Not refreshable: auth-refresh hands the same token back.
    let r = as_ann.post(&url("auth-refresh"), json!({})).await.ok();
    assert_eq!(r["token"], token.as_str());
    let r = srv
        .su()
        .post(&url("impersonate/nosuchrecord1234"), json!({}))
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[tokio::test]
async fn auth_rule_and_manage_rule() {
    let srv = TestServer::start().await;
    let su = srv.su();
    let mut users = su.get("/api/collections/users").await.ok();
    let fields = users["fields"].as_array_mut().unwrap();
    fields.push(json!({"name": "role", "type": "text"}));
    let patch = json!({
        "fields": users["fields"],
        "authRule": "verified = true || role = 'admin'",
        "manageRule": "@request.auth.role = 'admin'",
        "updateRule": "id = @request.auth.id || @request.auth.role = 'admin'",
    });
    su.patch("/api/collections/users", patch).await.ok();
    let ann = register(&srv, "ann@example.com", "Ann").await;
    let ann_id = ann["id"].as_str().unwrap();
    let boss = register(&srv, "boss@example.com", "Boss").await;
    let boss_id = boss["id"].as_str().unwrap();
    su.patch(&record(USERS, boss_id), json!({"role": "admin"}))
        .await
        .ok();

    // authRule: unverified Ann may not log in.
    srv.guest()
        .post(
            &url("auth-with-password"),
            json!({"identity": "ann@example.com", "password": PASSWORD}),
        )
        .await
        .assert_error(
            403,
            "The request doesn't satisfy the collection requirements to authenticate.",
        );
    let (boss_token, _) = login_user(&srv, "boss@example.com", PASSWORD).await;
    let boss_api = srv.client(Some(boss_token));
    // The manager may verify Ann, change her email and set a password without oldPassword.
    let r = boss_api
        .patch(
            &record(USERS, ann_id),
            json!({"verified": true, "email": "ann.new@example.com",
                   "password": "managed-pass-1", "passwordConfirm": "managed-pass-1"}),
        )
        .await
        .ok();
    assert_eq!(r["verified"], true);
    let (ann_token, _) = login_user(&srv, "ann.new@example.com", "managed-pass-1").await;
    let ann_api = srv.client(Some(ann_token));

    // Ann (no manager) cannot touch verified, email, or her password without oldPassword.
    let r = ann_api
        .patch(&record(USERS, ann_id), json!({"verified": false}))
        .await;
    r.assert_field_error(
        "Failed to update record.",
        "verified",
        "validation_values_mismatch",
    );
    let r = ann_api
        .patch(&record(USERS, ann_id), json!({"email": "evil@example.com"}))
        .await;
    r.assert_field_error(
        "Failed to update record.",
        "email",
        "validation_values_mismatch",
    );
    let body = json!({"password": "another-pass-2", "passwordConfirm": "another-pass-2"});
    let r = ann_api.patch(&record(USERS, ann_id), body).await;
    r.assert_field_error(
        "Failed to update record.",
        "oldPassword",
        "validation_required",
    );
    // Nor can she manage the boss (updateRule fails first: 404).
    ann_api
        .patch(&record(USERS, boss_id), json!({"name": "x"}))
        .await
        .assert_error(404, "The requested resource wasn't found.");
    // With oldPassword the change works and ends her other sessions.
    let body = json!({"oldPassword": "managed-pass-1", "password": "another-pass-2", "passwordConfirm": "another-pass-2"});
    ann_api.patch(&record(USERS, ann_id), body).await.ok();
    ann_api
        .get(&record(USERS, ann_id))
        .await
        .assert_error(404, "The requested resource wasn't found.");
    login_user(&srv, "ann.new@example.com", "another-pass-2").await;
}
