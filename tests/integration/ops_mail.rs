//! Operations: mail goes out through SMTP when `smtp.enabled` (tested against a tiny SMTP sink
//! in this file), else through `sendmail -t` when configured, else into the kept outbox; and
//! `POST /api/settings/test/email` sends a template on demand.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::accounts::{register, user};
use crate::harness::TestServer;

/// One message the sink accepted.
#[derive(Debug, Clone, Default)]
struct Received {
    from: String,
    to: Vec<String>,
    data: String,
    auth: Option<String>,
}

/// A minimal SMTP server on 127.0.0.1: EHLO, AUTH PLAIN, MAIL, RCPT (refused with 550 when
/// `refuse`), DATA, RSET, NOOP, QUIT. No TLS is offered, so clients stay in plain text.
struct Sink {
    port: u16,
    mails: Arc<Mutex<Vec<Received>>>,
}

impl Sink {
    async fn start(refuse: bool) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let store = mails.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, store.clone(), refuse));
            }
        });
        Sink { port, mails }
    }

    /// Waits (bounded) until `n` messages arrived; returns them.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.mails.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} mails: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn serve(stream: tokio::net::TcpStream, mails: Arc<Mutex<Vec<Received>>>, refuse: bool) {
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    let mut cur = Received::default();
    let mut auth = None;
    if w.write_all(b"220 sink ESMTP ready\r\n").await.is_err() {
        return;
    }
    // Bounded: a test never needs more than a few hundred lines per connection.
    for _ in 0..10_000 {
        let Ok(Some(line)) = lines.next_line().await else {
            return;
        };
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("HELO") {
            b"250 sink\r\n"
        } else if upper.starts_with("AUTH PLAIN") {
            auth = line.split_whitespace().nth(2).map(str::to_string);
            b"235 2.7.0 Authentication successful\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            cur = Received {
                from: line[10..].trim().to_string(),
                auth: auth.clone(),
                ..Received::default()
            };
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            if refuse {
                b"550 5.1.1 Mailbox unavailable\r\n"
            } else {
                cur.to.push(line[8..].trim().to_string());
                b"250 OK\r\n"
            }
        } else if upper == "DATA" {
            if w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await
                .is_err()
            {
                return;
            }
            let mut data = String::new();
            loop {
                let Ok(Some(l)) = lines.next_line().await else {
                    return;
                };
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                data.push('\n');
                if data.len() > 1 << 20 {
                    return;
                }
            }
            cur.data = data;
            mails.lock().unwrap().push(std::mem::take(&mut cur));
            b"250 OK queued\r\n"
        } else if upper == "RSET" || upper == "NOOP" {
            b"250 OK\r\n"
        } else if upper == "QUIT" {
            let _ = w.write_all(b"221 Bye\r\n").await;
            return;
        } else {
            b"502 Command not implemented\r\n"
        };
        if w.write_all(reply).await.is_err() {
            return;
        }
    }
}

async fn enable_smtp(srv: &TestServer, port: u16) {
    srv.su()
        .patch(
            "/api/settings",
            json!({
                "meta": {"appName": "Sink Test", "senderName": "Sink Sender", "senderAddress": "sender@example.com"},
                "smtp": {"enabled": true, "host": "127.0.0.1", "port": port, "username": "mailer", "password": "pw"},
            }),
        )
        .await
        .ok();
}

#[tokio::test]
async fn test_email_and_account_mail_go_out_through_smtp() {
    let sink = Sink::start(false).await;
    let srv = TestServer::start().await;
    enable_smtp(&srv, sink.port).await;
    let su = srv.su();

    let r = su
        .post(
            "/api/settings/test/email",
            json!({"email": "to@example.com", "template": "verification"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let got = sink.wait_for(1).await;
    let m = &got[0];
    assert_eq!(m.from, "<sender@example.com>");
    assert_eq!(m.to, ["<to@example.com>"]);
    assert!(
        m.data.contains("Subject: Verify your Sink Test email"),
        "{}",
        m.data
    );
    assert!(
        m.data
            .contains("From: \"Sink Sender\" <sender@example.com>")
            || m.data.contains("From: Sink Sender <sender@example.com>"),
        "{}",
        m.data
    );
    assert!(m.data.contains("To: to@example.com"), "{}", m.data);
    // AUTH PLAIN carried the configured credentials: base64("\0mailer\0pw").
    assert_eq!(m.auth.as_deref(), Some("AG1haWxlcgBwdw=="));

    // Other templates of a chosen collection.
    let r = su
        .post(
            "/api/settings/test/email",
            json!({"email": "to@example.com", "template": "password-reset", "collection": "users"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let got = sink.wait_for(2).await;
    assert!(
        got[1].data.to_lowercase().contains("reset"),
        "{}",
        got[1].data
    );

    // An account flow's mail takes the same way.
    register(&srv, "acct@example.com", "a").await;
    let r = srv
        .guest()
        .post(
            "/api/collections/users/request-verification",
            json!({"email": "acct@example.com"}),
        )
        .await;
    assert_eq!(r.status, 204);
    let got = sink.wait_for(3).await;
    assert_eq!(got[2].to, ["<acct@example.com>"]);
    // The HTML part may be quoted-printable: undo its soft line breaks.
    let body = got[2].data.replace("=\n", "");
    assert!(body.contains("confirm-verification/"), "{body}");
    // Sent mail is not kept.
    let kept = su.get("/api/mails").await.ok();
    assert_eq!(kept["items"], json!([]), "{kept}");
}

#[tokio::test]
async fn a_refused_test_email_is_a_400_and_kept() {
    let sink = Sink::start(true).await;
    let srv = TestServer::start().await;
    enable_smtp(&srv, sink.port).await;
    let su = srv.su();
    let r = su
        .post(
            "/api/settings/test/email",
            json!({"email": "nobody@example.com", "template": "email-change"}),
        )
        .await;
    r.assert_error(400, "Failed to send the test email.");
    assert!(
        r.body["data"]["email"]["message"]
            .as_str()
            .unwrap()
            .contains("550"),
        "{}",
        r.text
    );
    let kept = su.get("/api/mails").await.ok();
    assert_eq!(kept["items"][0]["status"], "failed", "{kept}");
    assert_eq!(kept["items"][0]["to"], "nobody@example.com");

    // SMTP pointing at a closed port fails the same way (no hang, no 500).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    su.patch("/api/settings", json!({"smtp": {"port": port}}))
        .await
        .ok();
    let r = su
        .post(
            "/api/settings/test/email",
            json!({"email": "nobody@example.com", "template": "otp"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

#[tokio::test]
async fn test_email_validates_its_body_and_is_superuser_only() {
    let srv = TestServer::start().await;
    let su = srv.su();
    let r = su.post("/api/settings/test/email", json!({})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.code("email"), "validation_required");
    assert_eq!(r.code("template"), "validation_required");
    let r = su
        .post(
            "/api/settings/test/email",
            json!({"email": "not an email", "template": "nope", "collection": "missing"}),
        )
        .await;
    assert_eq!(r.code("email"), "validation_is_email", "{}", r.text);
    assert_eq!(r.code("template"), "validation_in_invalid");
    assert_eq!(r.code("collection"), "validation_invalid_collection");

    // Without SMTP or sendmail the test mail is kept, with the template rendered.
    let r = su
        .post(
            "/api/settings/test/email",
            json!({"email": "kept@example.com", "template": "login-alert"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let kept = su.get("/api/mails").await.ok();
    let m = &kept["items"][0];
    assert_eq!(m["to"], "kept@example.com");
    assert_eq!(m["status"], "kept");
    assert!(
        !m["subject"].as_str().unwrap().contains("{APP_NAME}"),
        "{m}"
    );

    let body = json!({"email": "x@example.com", "template": "verification"});
    let r = srv
        .guest()
        .post("/api/settings/test/email", body.clone())
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    let (client, _) = user(&srv, "u@example.com", "u").await;
    let r = client.post("/api/settings/test/email", body).await;
    assert_eq!(r.status, 403, "{}", r.text);
}

#[tokio::test]
async fn without_smtp_mail_is_piped_to_sendmail() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.eml");
    let script = dir.path().join("fake-sendmail");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"ARGS: $*\" > '{0}'\ncat >> '{0}'\n",
            out.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();

    let srv = TestServer::builder()
        .env("FERROBASE_SMTP_SENDMAIL", script.to_str().unwrap())
        .start()
        .await;
    let r = srv
        .su()
        .post(
            "/api/settings/test/email",
            json!({"email": "piped@example.com", "template": "verification"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("ARGS: -t -i"), "{text}");
    assert!(text.contains("To: piped@example.com"), "{text}");
    assert!(
        text.contains("Subject: Verify your Ferrobase email"),
        "{text}"
    );
    let kept: Value = srv.su().get("/api/mails").await.ok();
    assert_eq!(kept["items"], json!([]));

    // A failing sendmail is reported like a refusing SMTP server.
    std::fs::write(&script, "#!/bin/sh\necho 'no route' >&2\nexit 3\n").unwrap();
    let r = srv
        .su()
        .post(
            "/api/settings/test/email",
            json!({"email": "piped@example.com", "template": "verification"}),
        )
        .await;
    r.assert_error(400, "Failed to send the test email.");
    assert!(
        r.body["data"]["email"]["message"]
            .as_str()
            .unwrap()
            .contains("no route"),
        "{}",
        r.text
    );
}
