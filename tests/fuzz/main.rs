//! Fuzzing the running server: random filters, sorts, `fields`, `expand`, JSON, multipart and
//! batch bodies, collection definitions and realtime frames, as guest, user and superuser.
//!
//! Every answer must be < 500 and, when it is an error, the PocketBase envelope with the same
//! status; the server must still be alive and healthy at the end. Cases are reproducible from
//! `FERROBASE_FUZZ_SEED`. CI runs a small smoke count; the full run is `bash bench/fuzz.sh`
//! (release build, `FERROBASE_FUZZ_CASES=1000000`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gen;
#[allow(dead_code)]
#[path = "../integration/harness.rs"]
mod harness;

use futures_util::{SinkExt, StreamExt};
use harness::{id_of, TestServer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Concurrent clients.
const WORKERS: u64 = 16;
/// One request may take this long before it counts as a failure (hung server).
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The ids and tokens the cases draw from.
struct World {
    base: String,
    su: String,
    user: String,
    posts: Vec<String>,
    users: Vec<String>,
    /// The server process, for RSS in progress lines.
    pid: Option<u32>,
    /// Cases done by all workers.
    done: std::sync::atomic::AtomicU64,
}

/// Writes go to `inbox` (emptied every `TRUNCATE_EVERY` cases of a worker) so the data the
/// lists scan stays the same size and a million cases take minutes, not hours.
const WRITES: &str = "inbox";
const TRUNCATE_EVERY: u64 = 2_000;
/// A progress line (cases, server RSS) every this many cases.
const PROGRESS_EVERY: u64 = 50_000;

/// What one case sends.
struct Case {
    method: Method,
    path: String,
    auth: Option<String>,
    body: Body,
}

enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
    Multipart(Vec<(String, String)>),
}

#[derive(Default)]
struct Tally {
    by_status: BTreeMap<u16, u64>,
    done: u64,
    failures: Vec<String>,
    failed: u64,
}

async fn setup(srv: &TestServer) -> World {
    let su = srv.su();
    let users = su.get("/api/collections/users").await.ok();
    su.patch(
        "/api/collections/users",
        json!({"listRule": "", "viewRule": "", "createRule": ""}),
    )
    .await
    .ok();
    let posts = srv
        .create_collection(json!({
            "name": "posts",
            "listRule": "", "viewRule": "",
            "createRule": "@request.auth.id != ''",
            "updateRule": "author = @request.auth.id && (@request.body.author:isset = false || @request.body.author = @request.auth.id)",
            "deleteRule": "author = @request.auth.id",
            "fields": [
                {"name": "title", "type": "text", "max": 5000},
                {"name": "body", "type": "editor"},
                {"name": "n", "type": "number"},
                {"name": "flag", "type": "bool"},
                {"name": "tags", "type": "select", "maxSelect": 3, "values": ["a", "b", "c"]},
                {"name": "meta", "type": "json"},
                {"name": "when", "type": "date"},
                {"name": "email", "type": "email"},
                {"name": "site", "type": "url"},
                {"name": "author", "type": "relation", "collectionId": users["id"], "maxSelect": 1},
                {"name": "created", "type": "autodate", "onCreate": true},
                {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true}
            ],
            "indexes": ["CREATE INDEX idx_posts_n ON posts (n)"]
        }))
        .await;
    // A self-relation, so expand and back-relations can loop.
    let mut fields = posts["fields"].as_array().cloned().unwrap_or_default();
    fields.push(
        json!({"name": "parent", "type": "relation", "collectionId": posts["id"], "maxSelect": 3}),
    );
    su.patch("/api/collections/posts", json!({ "fields": fields }))
        .await
        .ok();
    // `inbox`: the same fields (its `parent` points at posts), the target of most writes.
    let inbox_fields: Vec<Value> = fields
        .iter()
        .filter(|f| f["name"] != "id")
        .map(|f| {
            let mut f = f.clone();
            if let Some(o) = f.as_object_mut() {
                o.remove("id");
            }
            f
        })
        .collect();
    srv.create_collection(json!({
        "name": WRITES,
        "listRule": posts["listRule"], "viewRule": posts["viewRule"],
        "createRule": posts["createRule"], "updateRule": posts["updateRule"],
        "deleteRule": posts["deleteRule"], "fields": inbox_fields,
    }))
    .await;

    let guest = srv.guest();
    let mut user_ids = Vec::new();
    for i in 0..5 {
        let u = guest
            .post(
                "/api/collections/users/records",
                json!({"email": format!("u{i}@example.com"), "password": "password123",
                       "passwordConfirm": "password123", "name": format!("user {i}"),
                       "emailVisibility": i % 2 == 0}),
            )
            .await
            .ok();
        user_ids.push(id_of(&u));
    }
    let auth = guest
        .post(
            "/api/collections/users/auth-with-password",
            json!({"identity": "u0@example.com", "password": "password123"}),
        )
        .await
        .ok();
    let user = auth["token"].as_str().unwrap_or_default().to_string();

    let mut rng = StdRng::seed_from_u64(7);
    let mut post_ids: Vec<String> = Vec::new();
    for i in 0..200 {
        let mut parents = Vec::new();
        for _ in 0..rng.gen_range(0..3) {
            if !post_ids.is_empty() {
                parents.push(post_ids[rng.gen_range(0..post_ids.len())].clone());
            }
        }
        let p = su
            .post(
                "/api/collections/posts/records",
                json!({"title": format!("post {i} {}", gen::text(&mut rng, 8)),
                       "body": gen::text(&mut rng, 40), "n": rng.gen_range(-50..50),
                       "flag": rng.gen_bool(0.5), "tags": (["a", "b", "c"][i % 3]),
                       "meta": gen::value(&mut rng, 3), "when": "2024-05-06 07:08:09.000Z",
                       "author": user_ids[i % user_ids.len()], "parent": parents}),
            )
            .await
            .ok();
        post_ids.push(id_of(&p));
    }
    World {
        base: srv.url(""),
        su: srv.token().to_string(),
        user,
        posts: post_ids,
        users: user_ids,
        pid: srv.pid(),
        done: std::sync::atomic::AtomicU64::new(0),
    }
}

fn query(rng: &mut StdRng, parts: &[(&str, String)]) -> String {
    let mut url = reqwest::Url::parse("http://fuzz/").expect("static url");
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in parts {
            if rng.gen_bool(0.6) {
                q.append_pair(k, v);
            }
        }
    }
    url.query().unwrap_or("").to_string()
}

/// Where a create goes: mostly the periodically emptied `inbox`.
fn writes(rng: &mut StdRng) -> &'static str {
    if rng.gen_bool(0.9) {
        WRITES
    } else {
        "posts"
    }
}

fn any_id(rng: &mut StdRng, w: &World) -> String {
    match rng.gen_range(0..10) {
        0 => gen::text(rng, 20),
        1 => "x".repeat(rng.gen_range(0..300)),
        _ => w.posts[rng.gen_range(0..w.posts.len())].clone(),
    }
}

/// The case kinds, in the order `case` draws them (`FERROBASE_FUZZ_ONLY` takes these names).
const KINDS: [(&str, u32); 11] = [
    ("list", 44),
    ("view", 54),
    ("create", 66),
    ("update", 74),
    ("multipart", 78),
    ("raw", 81),
    ("batch", 86),
    ("auth", 89),
    ("sse", 91),
    ("collection", 94),
    ("misc", 99),
];

fn kind_of(roll: u32) -> &'static str {
    KINDS
        .iter()
        .find(|(_, upto)| roll <= *upto)
        .map_or("misc", |(k, _)| k)
}

fn case(rng: &mut StdRng, w: &World, only: Option<&str>) -> Case {
    // With `only`, rolls are redrawn until one of that kind comes up (bounded: 1000 draws).
    let mut roll = rng.gen_range(0..100);
    for _ in 0..1000 {
        if only.is_none_or(|k| k == kind_of(roll)) {
            break;
        }
        roll = rng.gen_range(0..100);
    }
    let auth = match rng.gen_range(0..3) {
        0 => None,
        1 => Some(w.user.clone()),
        _ => Some(w.su.clone()),
    };
    let coll = if rng.gen_bool(0.9) { "posts" } else { "users" };
    let list_q = |rng: &mut StdRng| {
        let parts = [
            ("filter", gen::filter(rng)),
            ("sort", gen::sort(rng)),
            ("fields", gen::fields(rng)),
            ("expand", gen::expand(rng)),
            ("page", rng.gen_range(-2..50).to_string()),
            ("perPage", rng.gen_range(-2..1200).to_string()),
            (
                "skipTotal",
                ["1", "0", "true", "x"][rng.gen_range(0..4)].to_string(),
            ),
        ];
        query(rng, &parts)
    };
    let (method, path, body) = match roll {
        0..=44 => (
            Method::GET,
            format!("/api/collections/{coll}/records?{}", list_q(rng)),
            Body::None,
        ),
        45..=54 => {
            let parts = [("fields", gen::fields(rng)), ("expand", gen::expand(rng))];
            let q = query(rng, &parts);
            let id = any_id(rng, w);
            (
                Method::GET,
                format!("/api/collections/{coll}/records/{id}?{q}"),
                Body::None,
            )
        }
        55..=66 => (
            Method::POST,
            format!(
                "/api/collections/{}/records?expand={}",
                writes(rng),
                gen::expand(rng)
            ),
            Body::Json(gen::record_body(rng, &w.posts, &w.users)),
        ),
        67..=74 => {
            let id = any_id(rng, w);
            (
                Method::PATCH,
                format!("/api/collections/posts/records/{id}"),
                Body::Json(gen::record_body(rng, &w.posts, &w.users)),
            )
        }
        75..=78 => {
            let mut parts: Vec<(String, String)> = Vec::new();
            let body = gen::record_body(rng, &w.posts, &w.users);
            if rng.gen_bool(0.5) {
                parts.push(("@jsonPayload".into(), body.to_string()));
            }
            for (k, v) in body.as_object().into_iter().flatten() {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                parts.push((k.clone(), v));
            }
            (
                Method::POST,
                format!("/api/collections/{}/records", writes(rng)),
                Body::Multipart(parts),
            )
        }
        79..=81 => {
            let raw = match rng.gen_range(0..3) {
                0 => gen::deep_json(rng.gen_range(100..20_000)).into_bytes(),
                1 => gen::text(rng, 200).into_bytes(),
                _ => (0..rng.gen_range(0..300))
                    .map(|_| rng.gen::<u8>())
                    .collect(),
            };
            let ct = [
                "application/json",
                "application/x-www-form-urlencoded",
                "text/plain",
            ][rng.gen_range(0..3)];
            (
                Method::POST,
                format!("/api/collections/{}/records", writes(rng)),
                Body::Raw(ct, raw),
            )
        }
        82..=86 => {
            let n = rng.gen_range(0..6);
            let requests: Vec<Value> = (0..n)
                .map(|_| {
                    let id = any_id(rng, w);
                    match rng.gen_range(0..4) {
                        0 => json!({"method": "POST", "url": format!("/api/collections/{}/records", writes(rng)),
                                    "body": gen::record_body(rng, &w.posts, &w.users)}),
                        1 => json!({"method": "PATCH", "url": format!("/api/collections/posts/records/{id}"),
                                    "body": gen::record_body(rng, &w.posts, &w.users)}),
                        2 => json!({"method": "DELETE", "url": format!("/api/collections/posts/records/{id}")}),
                        _ => gen::value(rng, 3),
                    }
                })
                .collect();
            (
                Method::POST,
                "/api/batch".into(),
                Body::Json(json!({ "requests": requests })),
            )
        }
        87..=89 => {
            let body = match rng.gen_range(0..3) {
                0 => json!({"identity": gen::text(rng, 30), "password": gen::text(rng, 30)}),
                1 => json!({"email": gen::text(rng, 30)}),
                _ => gen::value(rng, 3),
            };
            let ep = [
                "auth-with-password",
                "request-password-reset",
                "request-verification",
                "confirm-password-reset",
                "confirm-verification",
                "auth-refresh",
                "request-email-change",
            ][rng.gen_range(0..7)];
            (
                Method::POST,
                format!("/api/collections/users/{ep}"),
                Body::Json(body),
            )
        }
        90..=91 => (
            Method::POST,
            "/api/realtime".into(),
            Body::Json(json!({"clientId": gen::text(rng, 20),
                              "subscriptions": [format!("posts/*?options={}", gen::text(rng, 20)), gen::text(rng, 20)]})),
        ),
        92..=94 => {
            let name = format!("fz{}", rng.gen_range(0..1_000_000));
            let kinds = [
                "text", "number", "bool", "json", "relation", "select", "date", "email", "nope",
                "file",
            ];
            let fields: Vec<Value> = (0..rng.gen_range(0..5))
                .map(|_| {
                    let mut f = json!({"name": gen::text(rng, 8), "type": kinds[rng.gen_range(0..kinds.len())]});
                    if rng.gen_bool(0.5) {
                        f["options"] = gen::value(rng, 2);
                        f["maxSelect"] = gen::value(rng, 0);
                        f["collectionId"] = gen::value(rng, 0);
                    }
                    f
                })
                .collect();
            (
                Method::POST,
                "/api/collections".into(),
                Body::Json(
                    json!({"name": name, "type": (["base", "auth", "view", "x"][rng.gen_range(0..4)]),
                                  "fields": fields, "listRule": gen::filter(rng),
                                  "indexes": [format!("CREATE INDEX i{} ON {name} ({})", rng.gen::<u32>(), gen::text(rng, 10))]}),
                ),
            )
        }
        _ => {
            let ep = [
                "health",
                "collections",
                "collections/posts",
                "mails",
                "nope",
                "collections/posts/records/x/y",
            ][rng.gen_range(0..6)];
            // No DELETE: deleting the collection under test would end the run early.
            let method = [Method::GET, Method::PUT, Method::OPTIONS, Method::HEAD]
                [rng.gen_range(0..4)]
            .clone();
            (method, format!("/api/{ep}"), Body::None)
        }
    };
    Case {
        method,
        path,
        auth,
        body,
    }
}

/// A process's resident set (VmRSS) in kB, 0 when unreadable.
fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Why a response is a failure, if it is one.
fn judge(method: &Method, status: u16, text: &str) -> Option<String> {
    if status >= 500 {
        return Some(format!("status {status}: {}", excerpt(text)));
    }
    if status >= 400 && *method != Method::HEAD {
        let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let envelope =
            body["status"] == status && body["message"].is_string() && body["data"].is_object();
        if !envelope {
            return Some(format!(
                "status {status} without the envelope: {}",
                excerpt(text)
            ));
        }
    }
    None
}

/// The server's resident memory in MB (0 when unknown).
fn rss_mb(pid: Option<u32>) -> u64 {
    pid.map_or(0, rss_kb) / 1024
}

fn excerpt(s: &str) -> String {
    s.chars().take(400).collect()
}

async fn send(http: &reqwest::Client, w: &World, c: Case) -> Result<(u16, String), String> {
    let mut rb = http
        .request(c.method.clone(), format!("{}{}", w.base, c.path))
        .timeout(CASE_TIMEOUT);
    if let Some(a) = &c.auth {
        rb = rb.header("Authorization", a);
    }
    rb = match c.body {
        Body::None => rb,
        Body::Json(v) => rb.json(&v),
        Body::Raw(ct, bytes) => rb.header("content-type", ct).body(bytes),
        Body::Multipart(parts) => {
            let mut form = reqwest::multipart::Form::new();
            for (k, v) in parts {
                form = form.text(k, v);
            }
            rb.multipart(form)
        }
    };
    let r = rb.send().await.map_err(|e| {
        format!(
            "transport error {} <- {} {}",
            e.without_url(),
            c.method,
            excerpt(&c.path)
        )
    })?;
    let status = r.status().as_u16();
    let text = r.text().await.map_err(|e| format!("reading body: {e}"))?;
    Ok((status, text))
}

/// A WebSocket session with random frames; every answer must be JSON (or a clean close).
async fn ws_case(rng: &mut StdRng, w: &World) -> Result<u16, String> {
    let url = w.base.replace("http://", "ws://") + "/api/realtime/ws";
    let (mut ws, _) = tokio::time::timeout(CASE_TIMEOUT, tokio_tungstenite::connect_async(url))
        .await
        .map_err(|_| "ws connect timed out".to_string())?
        .map_err(|e| format!("ws connect: {e}"))?;
    for i in 0..rng.gen_range(1..6) {
        let frame = match rng.gen_range(0..5) {
            0 => json!({"type": "auth", "token": ([w.user.as_str(), w.su.as_str(), "x"][rng.gen_range(0..3)])}).to_string(),
            1 => gen::text(rng, 50),
            _ => json!({"type": "subscribe", "id": format!("s{i}"),
                         "topic": (["posts/*", "users/*", "posts/x", "nope/*", ""][rng.gen_range(0..5)]),
                         "filter": gen::filter(rng), "fields": gen::fields(rng), "expand": gen::expand(rng),
                         "since": ([json!(0), json!(1), json!(-1), json!("x"), Value::Null][rng.gen_range(0..5)].clone())})
            .to_string(),
        };
        ws.send(Message::Text(frame.into()))
            .await
            .map_err(|e| format!("ws send: {e}"))?;
    }
    // Read what comes for a moment: replies must be JSON frames.
    let until = Instant::now() + Duration::from_millis(200);
    while let Ok(Some(msg)) = tokio::time::timeout_at(until.into(), ws.next()).await {
        match msg {
            Ok(Message::Text(t)) => {
                serde_json::from_str::<Value>(&t)
                    .map_err(|_| format!("ws non-JSON frame: {}", excerpt(&t)))?;
            }
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let _ = ws.close(None).await;
    Ok(101)
}

async fn worker(w: Arc<World>, seed: u64, cases: u64, tally: Arc<Mutex<Tally>>) {
    let http = reqwest::Client::new();
    let mut rng = StdRng::seed_from_u64(seed);
    let only = std::env::var("FERROBASE_FUZZ_ONLY").ok();
    let only = only.as_deref();
    for n in 1..=cases {
        if n % TRUNCATE_EVERY == 0 {
            let r = http
                .delete(format!("{}/api/collections/{WRITES}/truncate", w.base))
                .header("Authorization", &w.su)
                .send()
                .await;
            assert!(
                matches!(r, Ok(ref r) if r.status().as_u16() == 204),
                "truncate {WRITES}: {r:?}"
            );
        }
        let total = w.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if total % PROGRESS_EVERY == 0 {
            println!(
                "fuzz progress: {total} cases, server RSS {} MB",
                rss_mb(w.pid)
            );
        }
        let ws = match only {
            Some("ws") => true,
            Some(_) => false,
            None => rng.gen_range(0..100) == 0,
        };
        let result = if ws {
            ws_case(&mut rng, &w).await
        } else {
            let c = case(&mut rng, &w, only);
            let what = format!("{} {} ({:?})", c.method, excerpt(&c.path), c.auth.is_some());
            let method = c.method.clone();
            match send(&http, &w, c).await {
                Ok((status, text)) => match judge(&method, status, &text) {
                    Some(why) => Err(format!("{why} <- {what}")),
                    None => Ok(status),
                },
                Err(e) => Err(e),
            }
        };
        let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
        t.done += 1;
        match result {
            Ok(status) => *t.by_status.entry(status).or_default() += 1,
            Err(why) => {
                t.failed += 1;
                if t.failures.len() < 20 {
                    t.failures.push(excerpt(&why));
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_requests_never_crash_the_server() {
    let cases = env_u64("FERROBASE_FUZZ_CASES", 3_000);
    let seed = env_u64("FERROBASE_FUZZ_SEED", 1);
    let srv = TestServer::start().await;
    let world = Arc::new(setup(&srv).await);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    // `FERROBASE_FUZZ_RSS_SECS=N`: print the server's resident memory every N seconds.
    let rss_secs = env_u64("FERROBASE_FUZZ_RSS_SECS", 0);
    let monitor = (rss_secs > 0).then(|| {
        let (pid, tally) = (srv.pid(), tally.clone());
        tokio::spawn(async move {
            loop {
                let done = tally.lock().unwrap_or_else(|p| p.into_inner()).done;
                println!(
                    "fuzz rss: {:>6.1} s {done:>8} cases {:>8} kB",
                    started.elapsed().as_secs_f64(),
                    pid.map_or(0, rss_kb)
                );
                tokio::time::sleep(Duration::from_secs(rss_secs)).await;
            }
        })
    });
    let tasks: Vec<_> = (0..WORKERS)
        .map(|i| {
            let share = cases / WORKERS + u64::from(i < cases % WORKERS);
            tokio::spawn(worker(world.clone(), seed * 1000 + i, share, tally.clone()))
        })
        .collect();
    for t in tasks {
        t.await.expect("worker task");
    }
    let secs = started.elapsed().as_secs_f64();
    if let Some(m) = monitor {
        m.abort();
        println!(
            "fuzz rss: {secs:>6.1} s (end) {:>8} kB",
            srv.pid().map_or(0, rss_kb)
        );
    }
    let health = harness::Api::try_send(srv.guest().request(Method::GET, "/api/health")).await;
    let t = tally.lock().unwrap_or_else(|p| p.into_inner());
    println!(
        "fuzz: {cases} cases (seed {seed}) in {secs:.1} s ({:.0}/s), by status {:?}, {} failures, server RSS {} MB",
        cases as f64 / secs,
        t.by_status,
        t.failed,
        rss_mb(world.pid)
    );
    let healthy = matches!(health, Ok(ref r) if r.status == 200);
    assert!(
        healthy && t.failed == 0,
        "healthy at the end: {healthy}; failures:\n{}",
        t.failures.join("\n")
    );
}
