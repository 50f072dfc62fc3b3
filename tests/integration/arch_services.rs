//! Architecture: superuser-only services check the caller themselves. Every collections endpoint
//! and the kept-mail list answer a guest with 401 and an ordinary user with 403, and change
//! nothing, whatever the body.

use crate::accounts::user;
use crate::harness::{Api, TestServer};
use serde_json::json;

async fn refused_everywhere(c: &Api, status: u16, message: &str) {
    let body = json!({"name": "sneaky", "type": "base", "fields": []});
    let import = json!({"collections": [body.clone()], "deleteMissing": true});
    let cases = [
        c.get("/api/collections").await,
        c.get("/api/collections/users").await,
        c.post("/api/collections", body.clone()).await,
        c.patch("/api/collections/users", json!({"listRule": ""}))
            .await,
        c.delete("/api/collections/users").await,
        c.delete("/api/collections/users/truncate").await,
        c.put("/api/collections/import", import).await,
        c.get("/api/mails").await,
    ];
    for r in cases {
        r.assert_error(status, message);
    }
}

#[tokio::test]
async fn arch_services_superuser_only_operations_refuse_guests_and_users() {
    let srv = TestServer::start().await;
    let (ann, _) = user(&srv, "ann@example.com", "Ann").await;
    refused_everywhere(
        &srv.guest(),
        401,
        "The request requires valid record authorization token.",
    )
    .await;
    refused_everywhere(
        &ann,
        403,
        "The authorized record is not allowed to perform this action.",
    )
    .await;
    // Nothing changed: no new collection, `users` kept its rule and its record.
    let su = srv.su();
    su.get("/api/collections/sneaky")
        .await
        .assert_error(404, "The requested resource wasn't found.");
    let users = su.get("/api/collections/users").await.ok();
    assert_ne!(users["listRule"], json!(""), "{users}");
    let list = su.get("/api/collections/users/records").await.ok();
    assert_eq!(list["totalItems"], 1, "{list}");
}
