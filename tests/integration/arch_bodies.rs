//! Auth request bodies as typed structs (`accounts::bodies`): the envelopes for missing,
//! mistyped and repeated fields stay what they were when the flows read a JSON map by hand.

use serde_json::{json, Value};

use crate::accounts::{login_user, register, user, PASSWORD};
use crate::harness::{Api, TestServer};

const INVALID: &str = "An error occurred while validating the submitted data.";

fn url(action: &str) -> String {
    format!("/api/collections/users/{action}")
}

/// Each field of `expect` carries its code in `data`, and no other field does.
fn assert_codes(r: &crate::harness::Resp, expect: &[(&str, &str)]) {
    r.assert_error(400, INVALID);
    for (field, code) in expect {
        assert_eq!(r.code(field), *code, "{field}: {}", r.text);
    }
    let data = r.body["data"].as_object().expect("data");
    assert_eq!(data.len(), expect.len(), "{}", r.text);
}

async fn form(api: &Api, path: &str, body: &'static str) -> crate::harness::Resp {
    let rb = api
        .request(reqwest::Method::POST, path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    Api::send(rb).await
}

#[tokio::test]
async fn arch_bodies_mistyped_fields_read_as_missing() {
    let srv = TestServer::start().await;
    let g = srv.guest();
    register(&srv, "ann@x.io", "Ann").await;

    let r = g
        .post(
            &url("auth-with-password"),
            json!({"identity": 5, "password": ["x"]}),
        )
        .await;
    assert_codes(
        &r,
        &[
            ("identity", "validation_required"),
            ("password", "validation_required"),
        ],
    );
    let r = g.post(&url("auth-with-password"), json!({})).await;
    assert_codes(
        &r,
        &[
            ("identity", "validation_required"),
            ("password", "validation_required"),
        ],
    );
    let body = json!({"identity": "ann@x.io", "password": "nope", "identityField": "name"});
    let r = g.post(&url("auth-with-password"), body).await;
    assert_codes(&r, &[("identityField", "validation_in_invalid")]);
    // A non-string identityField is no identityField: every identity field is tried.
    let body = json!({"identity": "ann@x.io", "password": PASSWORD, "identityField": 7});
    let r = g.post(&url("auth-with-password"), body).await.ok();
    assert_eq!(r["record"]["email"], "ann@x.io");
    let body = json!({"identity": "ann@x.io", "password": PASSWORD, "identityField": ""});
    g.post(&url("auth-with-password"), body).await.ok();

    for action in ["request-verification", "request-password-reset"] {
        for body in [
            json!({}),
            json!({"email": 12}),
            json!({"email": "  "}),
            json!({"email": null}),
        ] {
            let r = g.post(&url(action), body).await;
            assert_codes(&r, &[("email", "validation_required")]);
        }
        let r = g.post(&url(action), json!({"email": "not-an-email"})).await;
        assert_codes(&r, &[("email", "validation_is_email")]);
        let r = g
            .post(&url(action), json!({"email": "NOBODY@x.io", "extra": 1}))
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
    }

    let r = g
        .post(&url("confirm-verification"), json!({"token": null}))
        .await;
    assert_codes(&r, &[("token", "validation_required")]);
    let r = g
        .post(&url("confirm-verification"), json!({"token": "junk"}))
        .await;
    assert_codes(&r, &[("token", "validation_invalid_token_claims")]);

    let body = json!({"token": 1, "passwordConfirm": true});
    let r = g.post(&url("confirm-password-reset"), body).await;
    assert_codes(
        &r,
        &[
            ("token", "validation_required"),
            ("password", "validation_required"),
            ("passwordConfirm", "validation_required"),
        ],
    );
    let body = json!({"token": "junk", "password": "12345678", "passwordConfirm": "12345678"});
    let r = g.post(&url("confirm-password-reset"), body).await;
    assert_codes(&r, &[("token", "validation_invalid_token")]);

    let r = g
        .post(&url("confirm-email-change"), json!({"token": "x"}))
        .await;
    assert_codes(&r, &[("password", "validation_required")]);
    let r = g
        .post(&url("confirm-email-change"), json!({"password": ["p"]}))
        .await;
    assert_codes(
        &r,
        &[
            ("token", "validation_required"),
            ("password", "validation_required"),
        ],
    );
    let r = g
        .post(
            &url("confirm-email-change"),
            json!({"token": "x", "password": "p"}),
        )
        .await;
    assert_codes(&r, &[("token", "validation_invalid_token_payload")]);
}

#[tokio::test]
async fn arch_bodies_email_change_impersonate_and_forms() {
    let srv = TestServer::start().await;
    let (ann, id) = user(&srv, "ann@x.io", "Ann").await;

    for body in [
        json!({}),
        json!({"newEmail": {}}),
        json!({"newEmail": false}),
    ] {
        let r = ann.post(&url("request-email-change"), body).await;
        assert_codes(&r, &[("newEmail", "validation_required")]);
    }
    let r = ann
        .post(
            &url("request-email-change"),
            json!({"newEmail": "ANN@x.io"}),
        )
        .await;
    assert_codes(&r, &[("newEmail", "validation_invalid_new_email")]);
    let r = srv
        .guest()
        .post(&url("request-email-change"), json!({"newEmail": "b@x.io"}))
        .await;
    assert_eq!(r.status, 401, "{}", r.text);

    let path = url(&format!("impersonate/{id}"));
    for bad in [json!("10"), json!(-1), json!(1.5), json!(1e12), json!([1])] {
        let r = srv.su().post(&path, json!({"duration": bad})).await;
        assert_codes(&r, &[("duration", "validation_invalid_value")]);
    }
    for ok in [
        json!({}),
        json!({"duration": null}),
        json!({"duration": 0}),
        json!({"duration": 60}),
    ] {
        let r = srv.su().post(&path, ok).await.ok();
        assert_eq!(r["record"]["id"], Value::String(id.clone()));
    }

    // Urlencoded bodies: strings log in, a repeated key is an array and so no identity at all.
    let g = srv.guest();
    let r = form(
        &g,
        &url("auth-with-password"),
        "identity=ann%40x.io&password=correct-horse-1",
    )
    .await
    .ok();
    assert_eq!(r["record"]["id"], Value::String(id.clone()));
    let r = form(
        &g,
        &url("auth-with-password"),
        "identity=ann%40x.io&identity=b&password=correct-horse-1",
    )
    .await;
    assert_codes(&r, &[("identity", "validation_required")]);
    let r = form(
        &g,
        &url("request-password-reset"),
        "email=a%40x.io&email=b%40x.io",
    )
    .await;
    assert_codes(&r, &[("email", "validation_required")]);
    login_user(&srv, "ann@x.io", PASSWORD).await;
}
