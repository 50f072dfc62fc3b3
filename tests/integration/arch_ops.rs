//! Operations: every response carries an `X-Request-Id` (the client's when sane, else a generated
//! one), and with `[log] format = "json"` the server's log lines are JSON objects that carry the
//! id of the request they belong to, including lines logged on the CPU work pool.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{public_collection, records, Api, TestServer};

const HEADER: &str = "x-request-id";

/// Sends `method path` with an optional `X-Request-Id`; returns (status, response id).
async fn send(api: &Api, method: Method, path: &str, id: Option<&[u8]>) -> (u16, Option<String>) {
    let mut rb = api.request(method, path);
    if let Some(id) = id {
        let value = reqwest::header::HeaderValue::from_bytes(id).expect("header value");
        rb = rb.header(HEADER, value);
    }
    let r = rb.send().await.expect("send");
    let status = r.status().as_u16();
    let echoed = r
        .headers()
        .get(HEADER)
        .map(|v| v.to_str().expect("visible ASCII id").to_string());
    (status, echoed)
}

fn is_sane(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated_on_every_response() {
    let srv = TestServer::start().await;
    let guest = srv.guest();

    // A sane client id comes back unchanged, on success and on error responses alike.
    for (path, status) in [("/api/health", 200), ("/api/nope", 404)] {
        let (s, id) = send(&guest, Method::GET, path, Some(b"client-id_1.2:3")).await;
        assert_eq!(s, status, "{path}");
        assert_eq!(id.as_deref(), Some("client-id_1.2:3"), "{path}");
    }

    // Without one, each response gets a fresh generated id.
    let (s, a) = send(&guest, Method::GET, "/api/health", None).await;
    assert_eq!(s, 200);
    let (_, b) = send(&guest, Method::GET, "/api/nope", None).await;
    let (a, b) = (a.expect("generated id"), b.expect("generated id on 404"));
    assert!(is_sane(&a) && is_sane(&b), "{a:?} {b:?}");
    assert_ne!(a, b);

    // Too long, with spaces or control-free but non-ASCII bytes: replaced, never echoed.
    let long = [b'a'; 129];
    let max = [b'b'; 128];
    for bad in [&long[..], b"has space", b"caf\xc3\xa9", b"tab\there"] {
        let (s, id) = send(&guest, Method::GET, "/api/health", Some(bad)).await;
        assert_eq!(s, 200);
        let id = id.expect("generated id");
        assert!(is_sane(&id), "{id:?}");
        assert_ne!(id.as_bytes(), bad);
    }
    let (_, id) = send(&guest, Method::GET, "/api/health", Some(&max)).await;
    assert_eq!(id.as_deref().map(str::as_bytes), Some(&max[..]));

    // CORS preflights (answered before routing) and 405s carry it too.
    let r = guest
        .request(Method::OPTIONS, "/api/health")
        .header("origin", "http://example.com")
        .header("access-control-request-method", "GET")
        .header(HEADER, "preflight-1")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(r.headers()[HEADER], "preflight-1");
    let (s, id) = send(&guest, Method::PUT, "/api/health", Some(b"put-1")).await;
    assert_eq!(s, 404);
    assert_eq!(id.as_deref(), Some("put-1"));
}

/// JSON log lines of the server so far.
fn json_lines(srv: &TestServer) -> Vec<Value> {
    std::fs::read_to_string(srv.log_path())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// The request id a JSON log line was logged under (its innermost span's `request_id`).
fn line_id(line: &Value) -> Option<&str> {
    line["span"]["request_id"].as_str()
}

#[tokio::test]
async fn json_log_lines_carry_the_request_id() {
    let srv = TestServer::builder()
        .env("FERROBASE_LOG_FORMAT", "json")
        .env("FERROBASE_LOG_LEVEL", "info,ferrobase=debug")
        .start()
        .await;
    srv.create_collection(public_collection(
        "notes",
        json!([{"name": "title", "type": "text"}]),
    ))
    .await;
    let guest = srv.guest();
    guest.create("notes", json!({"title": "a"})).await;
    let (status, id) = send(
        &guest,
        Method::GET,
        &format!("{}?filter=title='a'", records("notes")),
        Some(b"arch-ops-list-1"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(id.as_deref(), Some("arch-ops-list-1"));
    let (status, _) = send(&guest, Method::GET, "/api/nope", Some(b"arch-ops-404")).await;
    assert_eq!(status, 404);

    // Lines are written as they happen; allow the log a moment to reach the file.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (plan, done, missing) = loop {
        let lines = json_lines(&srv);
        let of = |id: &str| -> Vec<Value> {
            lines
                .iter()
                .filter(|l| line_id(l) == Some(id))
                .cloned()
                .collect()
        };
        let list = of("arch-ops-list-1");
        let plan = list
            .iter()
            .find(|l| l["fields"]["message"] == "list plan")
            .cloned();
        let done = list
            .iter()
            .find(|l| l["fields"]["message"] == "request finished")
            .cloned();
        let missing = of("arch-ops-404")
            .into_iter()
            .find(|l| l["fields"]["message"] == "request finished");
        if (plan.is_some() && done.is_some() && missing.is_some()) || Instant::now() > deadline {
            break (plan, done, missing);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let log = srv.log_tail();
    // Logged on the CPU work pool, still under the request's span.
    let plan = plan.unwrap_or_else(|| panic!("no 'list plan' line with the id:\n{log}"));
    assert_eq!(plan["level"], "DEBUG", "{plan}");
    let done = done.unwrap_or_else(|| panic!("no 'request finished' line with the id:\n{log}"));
    assert_eq!(done["span"]["method"], "GET", "{done}");
    assert_eq!(
        done["span"]["path"], "/api/collections/notes/records",
        "{done}"
    );
    assert_eq!(done["fields"]["status"], 200, "{done}");
    assert!(done["fields"]["duration_us"].as_u64().is_some(), "{done}");
    let missing = missing.unwrap_or_else(|| panic!("no line for the 404:\n{log}"));
    assert_eq!(missing["fields"]["status"], 404, "{missing}");
}
