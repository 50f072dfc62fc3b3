//! Attacks on end-user auth: token reuse after a password change, tokens of deleted users, JWT
//! tampering, brute force against logins and reset tokens, and the global request limit.

use serde_json::json;

use crate::accounts::{login_user, mailed_token, register, user, PASSWORD, USERS};
use crate::harness::{record, TestServer};

const NEEDS_AUTH: &str = "The request requires valid record authorization token.";
const REFRESH: &str = "/api/collections/users/auth-refresh";
const LOGIN: &str = "/api/collections/users/auth-with-password";

fn b64(s: &str) -> String {
    // base64url without padding, enough for JWT parts in tests.
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, &x| (acc << 8) | x as u32) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn old_tokens_die_with_a_password_change_and_with_the_user() {
    let srv = TestServer::start().await;
    let (ann, id) = user(&srv, "ann@example.com", "Ann").await;
    let body = json!({"oldPassword": PASSWORD, "password": "changed-pass-1", "passwordConfirm": "changed-pass-1"});
    ann.patch(&record(USERS, &id), body).await.ok();
    ann.get(&record(USERS, &id))
        .await
        .assert_error(404, "The requested resource wasn't found.");
    ann.post(REFRESH, json!({}))
        .await
        .assert_error(401, NEEDS_AUTH);
    let (token, _) = login_user(&srv, "ann@example.com", "changed-pass-1").await;

    // A deleted user's token is worthless, even though its signature is still valid.
    let fresh = srv.client(Some(token));
    let r = fresh.delete(&record(USERS, &id)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    fresh
        .post(REFRESH, json!({}))
        .await
        .assert_error(401, NEEDS_AUTH);
    // Re-registering the same email does not revive it.
    register(&srv, "ann@example.com", "Ann again").await;
    fresh
        .post(REFRESH, json!({}))
        .await
        .assert_error(401, NEEDS_AUTH);
}

#[tokio::test]
async fn tampered_and_foreign_tokens_are_rejected() {
    let srv = TestServer::start().await;
    let (ann, ann_id) = user(&srv, "ann@example.com", "Ann").await;
    let (_, bob_id) = user(&srv, "bob@example.com", "Bob").await;
    let token = login_user(&srv, "ann@example.com", PASSWORD).await.0;
    let parts: Vec<&str> = token.split('.').collect();
    let exp = chrono_like_future();
    let claims = |id: &str| {
        b64(&format!(
            r#"{{"collectionId":"_pb_users_auth_","exp":{exp},"id":"{id}","refreshable":true,"type":"auth"}}"#
        ))
    };
    let forged = [
        // alg:none with Bob's id.
        format!(
            "{}.{}.",
            b64(r#"{"alg":"none","typ":"JWT"}"#),
            claims(&bob_id)
        ),
        // Ann's signature on a payload naming Bob.
        format!("{}.{}.{}", parts[0], claims(&bob_id), parts[2]),
        // HS512 header on the original payload.
        format!(
            "{}.{}.{}",
            b64(r#"{"alg":"HS512","typ":"JWT"}"#),
            parts[1],
            parts[2]
        ),
        // Truncated signature.
        format!("{}.{}.{}", parts[0], parts[1], &parts[2][..10]),
    ];
    for t in forged {
        let c = srv.client(Some(t.clone()));
        c.post(REFRESH, json!({}))
            .await
            .assert_error(401, NEEDS_AUTH);
        c.get(&record(USERS, &bob_id))
            .await
            .assert_error(404, "The requested resource wasn't found.");
    }
    // Another collection's token: a superuser token is not a `users` session, and a user token
    // opens no superuser endpoint.
    srv.su().post(REFRESH, json!({})).await.assert_error(
        403,
        "The authorized record is not allowed to perform this action.",
    );
    ann.get("/api/collections").await.assert_error(
        403,
        "The authorized record is not allowed to perform this action.",
    );
    ann.post("/api/collections/_superusers/auth-refresh", json!({}))
        .await
        .assert_error(
            403,
            "The authorized record is not allowed to perform this action.",
        );
    assert_eq!(ann.get(&record(USERS, &ann_id)).await.status, 200);
}

fn chrono_like_future() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600
}

#[tokio::test]
async fn brute_force_is_limited_per_account_and_per_ip() {
    let srv = TestServer::builder()
        .env("FERROBASE_AUTH_MAX_FAILED_LOGINS_PER_IP", "8")
        .start()
        .await;
    register(&srv, "ann@example.com", "Ann").await;
    register(&srv, "bob@example.com", "Bob").await;
    let guest = srv.guest();
    let wrong = json!({"identity": "ann@example.com", "password": "guess-guess"});
    for _ in 0..5 {
        guest
            .post(LOGIN, wrong.clone())
            .await
            .assert_error(400, "Failed to authenticate.");
    }
    // Ann's account is locked for this window, even with the right password…
    let r = guest
        .post(
            LOGIN,
            json!({"identity": "ann@example.com", "password": PASSWORD}),
        )
        .await;
    r.assert_error(429, "Too Many Requests.");
    let retry: u64 = r_header(&srv, &wrong).await;
    assert!(retry >= 1, "Retry-After");
    // …while Bob logs in fine from the same IP.
    login_user(&srv, "bob@example.com", PASSWORD).await;

    // Spraying other accounts exhausts this IP; another IP still logs in.
    for i in 0..3 {
        let body = json!({"identity": format!("nobody{i}@example.com"), "password": "x-guess-1"});
        guest.post(LOGIN, body).await;
    }
    guest
        .post(
            LOGIN,
            json!({"identity": "bob@example.com", "password": PASSWORD}),
        )
        .await
        .assert_error(429, "Too Many Requests.");
    let other_ip = srv.client_from("127.0.0.2", None);
    let r = other_ip
        .post(
            LOGIN,
            json!({"identity": "bob@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// The `Retry-After` of a (blocked) login attempt.
async fn r_header(srv: &TestServer, body: &serde_json::Value) -> u64 {
    let rb = srv.guest().request(reqwest::Method::POST, LOGIN).json(body);
    let resp = rb.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn reset_token_guessing_is_limited() {
    let srv = TestServer::start().await;
    register(&srv, "ann@example.com", "Ann").await;
    let guest = srv.guest();
    guest
        .post(
            "/api/collections/users/request-password-reset",
            json!({"email": "ann@example.com"}),
        )
        .await;
    let good = mailed_token(&srv, "ann@example.com", "confirm-password-reset").await;
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    parts[2] = format!("{}x", &parts[2][..parts[2].len() - 1]);
    let bad = parts.join(".");
    let body = |t: &str| json!({"token": t, "password": "new-password-1", "passwordConfirm": "new-password-1"});
    for _ in 0..5 {
        let r = guest
            .post("/api/collections/users/confirm-password-reset", body(&bad))
            .await;
        assert_eq!(r.code("token"), "validation_invalid_token", "{}", r.text);
    }
    guest
        .post("/api/collections/users/confirm-password-reset", body(&good))
        .await
        .assert_error(429, "Too Many Requests.");
}

#[tokio::test]
async fn global_request_limit_when_enabled() {
    let srv = TestServer::builder()
        .env("FERROBASE_RATE_LIMIT_ENABLED", "true")
        .env("FERROBASE_RATE_LIMIT_MAX_REQUESTS", "20")
        .env("FERROBASE_RATE_LIMIT_WINDOW_SECS", "60")
        .start()
        .await;
    let guest = srv.guest();
    let mut limited = None;
    for i in 0..25 {
        let resp = guest
            .request(reqwest::Method::GET, "/api/health")
            .send()
            .await
            .unwrap();
        if resp.status().as_u16() == 429 {
            limited = Some((
                i,
                resp.headers()["retry-after"].to_str().unwrap().to_string(),
            ));
            break;
        }
    }
    let (at, retry) = limited.expect("429 within 25 requests");
    assert!(at <= 20, "limited at request {at}");
    assert!(retry.parse::<u64>().unwrap() >= 1);
    let other = srv.client_from("127.0.0.3", None);
    assert_eq!(other.get("/api/health").await.status, 200);
}
