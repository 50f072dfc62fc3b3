//! Plugins: `serve --plugins DIR` / `FERROBASE_PLUGINS_DIR` with test plugins in a temp dir —
//! before-hooks that modify, refuse, time out or fail (and `on_error = "allow"`), hooks in
//! batches, sidecar crash and restart, `{token}`, `/api/plugins` access, a bad manifest, and the
//! bundled `plugins/slugify` and `plugins/audit-log` end to end.

use crate::accounts::user;
use crate::harness::{id_of, public_collection, record, records, TestServer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A sidecar serving every hook behaviour the tests need; it logs each payload it receives.
const HOOK_SERVER: &str = r#"
import json, os, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

if os.environ.get("FERROBASE_TOKEN"):
    with open("token.txt", "w") as f:
        f.write(os.environ["FERROBASE_TOKEN"] + "\n" + os.environ["FERROBASE_URL"])

class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
        with open("payloads.jsonl", "a") as f:
            f.write(json.dumps({"path": self.path, **body}) + "\n")
        rec = dict(body.get("record") or {})
        if self.path == "/modify":
            rec["title"] = str(rec.get("title", "")).upper()
            rec["hooked"] = body["event"]
            if rec["title"] == "MAKE-INVALID":
                rec["count"] = "not a number"
            return self.reply(200, {"record": rec})
        if self.path == "/reject" and "bad" in str(rec.get("title", "")):
            return self.reply(422, {"message": "Titles must not say 'bad'."})
        if self.path == "/forever":
            return self.reply(403, {"message": "Posts are forever."})
        if self.path == "/slow":
            time.sleep(5)
        if self.path == "/fail":
            return self.reply(500, {"message": "boom"})
        self.send_response(204)
        self.end_headers()

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#;

/// Writes `root/<name>/plugin.toml` (the manifest below a `[plugin]` header) and the hook server.
fn plugin(root: &Path, name: &str, rest: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("plugin dir");
    let manifest = format!(
        "[plugin]\nname = \"{name}\"\ndescription = \"test plugin {name}\"\n\
         [sidecar]\ncommand = [\"python3\", \"server.py\"]\nenv = {{ PORT = \"{{port}}\" }}\n{rest}"
    );
    std::fs::write(dir.join("plugin.toml"), manifest).expect("manifest");
    std::fs::write(dir.join("server.py"), HOOK_SERVER).expect("server.py");
    dir
}

fn hook(event: &str, collection: &str, path: &str, extra: &str) -> String {
    format!(
        "[[hooks]]\nevent = \"{event}\"\ncollections = [\"{collection}\"]\n\
         url = \"http://127.0.0.1:{{port}}{path}\"\n{extra}\n"
    )
}

async fn start(plugins: &Path) -> TestServer {
    TestServer::builder()
        .env(
            "FERROBASE_PLUGINS_DIR",
            plugins.to_str().expect("utf-8 path"),
        )
        .start()
        .await
}

async fn posts(srv: &TestServer, name: &str) {
    srv.create_collection(public_collection(
        name,
        json!([
            {"name": "title", "type": "text"},
            {"name": "slug", "type": "text"},
            {"name": "hooked", "type": "text"},
            {"name": "count", "type": "number"},
        ]),
    ))
    .await;
}

/// The payloads a test plugin received, in order.
fn payloads(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("payloads.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("payload JSON"))
        .collect()
}

/// `GET /api/plugins` as superuser: the item named `name`.
async fn listed(srv: &TestServer, name: &str) -> Value {
    let list = srv.su().get("/api/plugins").await.ok();
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|p| p["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("plugin {name} not listed: {list}"))
}

/// Polls `/api/plugins` until `name`'s item satisfies `ok` (bounded: 20 s).
async fn listed_when(srv: &TestServer, name: &str, ok: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..400 {
        let item = listed(srv, name).await;
        if ok(&item) {
            return item;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "plugin {name} never reached the state: {}",
        listed(srv, name).await
    );
}

/// Whether `pid` is a live process (not a zombie).
fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

#[tokio::test]
async fn plugins_hook_replaces_pending_values_which_are_validated_again() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = plugin(
        root.path(),
        "shout",
        &(hook("before_create", "posts", "/modify", "")
            + &hook("before_update", "posts", "/modify", "")),
    );
    let srv = start(root.path()).await;
    posts(&srv, "posts").await;
    let su = srv.su();
    let rec = su
        .create("posts", json!({"title": "hello", "count": 2}))
        .await;
    assert_eq!(rec["title"], "HELLO", "{rec}");
    assert_eq!(rec["hooked"], "before_create");
    assert_eq!(rec["count"], 2);
    let id = id_of(&rec);
    let updated = su
        .patch(&record("posts", &id), json!({"title": "again"}))
        .await
        .ok();
    assert_eq!(updated["title"], "AGAIN");
    assert_eq!(updated["hooked"], "before_update");
    // What the hook saw: the pending values, the stored record, the caller.
    let seen = payloads(&dir);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0]["event"], "before_create");
    assert_eq!(seen[0]["collection"], "posts");
    assert_eq!(seen[0]["record"], json!({"title": "hello", "count": 2}));
    assert_eq!(seen[0]["previous"], Value::Null);
    assert_eq!(seen[0]["auth"]["collectionName"], "_superusers");
    assert!(seen[0]["auth"]["id"].is_string(), "{}", seen[0]);
    assert_eq!(seen[1]["event"], "before_update");
    assert_eq!(seen[1]["record"], json!({"title": "again"}));
    assert_eq!(seen[1]["previous"]["title"], "HELLO");
    assert_eq!(seen[1]["previous"]["id"], id.as_str());
    // A guest's write: auth is null.
    srv.guest().create("posts", json!({"title": "g"})).await;
    assert_eq!(payloads(&dir)[2]["auth"], Value::Null);
    // The replacement is validated like a client's values.
    let r = su
        .post(&records("posts"), json!({"title": "make-invalid"}))
        .await;
    r.assert_field_error(
        "Failed to create record.",
        "count",
        "validation_invalid_number",
    );
    // Other collections are not hooked.
    posts(&srv, "other").await;
    let plain = su.create("other", json!({"title": "quiet"})).await;
    assert_eq!(plain["title"], "quiet");
    assert_eq!(payloads(&dir).len(), 4);
}

#[tokio::test]
async fn plugins_hook_refusals_are_400_with_the_hooks_message() {
    let root = tempfile::tempdir().expect("tempdir");
    plugin(
        root.path(),
        "guard",
        &(hook("before_create", "posts", "/reject", "")
            + &hook("before_delete", "posts", "/forever", "")),
    );
    let srv = start(root.path()).await;
    posts(&srv, "posts").await;
    let su = srv.su();
    let r = su
        .post(&records("posts"), json!({"title": "a bad idea"}))
        .await;
    r.assert_error(400, "Titles must not say 'bad'.");
    assert_eq!(su.list("posts", "").await["totalItems"], 0);
    let good = su.create("posts", json!({"title": "a good idea"})).await;
    let r = su.delete(&record("posts", &id_of(&good))).await;
    r.assert_error(400, "Posts are forever.");
    su.get(&record("posts", &id_of(&good))).await.ok();
    // In a batch, the refusing request fails the whole batch, nothing is written.
    let r = su
        .post(
            "/api/batch",
            json!({"requests": [
                {"method": "POST", "url": records("posts"), "body": {"title": "fine"}},
                {"method": "POST", "url": records("posts"), "body": {"title": "bad again"}},
            ]}),
        )
        .await;
    r.assert_error(400, "Batch transaction failed.");
    let failed = &r.body["data"]["requests"]["1"]["response"];
    assert_eq!(failed["status"], 400, "{}", r.text);
    assert_eq!(failed["message"], "Titles must not say 'bad'.");
    assert_eq!(su.list("posts", "").await["totalItems"], 1);
}

#[tokio::test]
async fn plugins_hook_failures_reject_with_502_unless_allowed() {
    let root = tempfile::tempdir().expect("tempdir");
    let hooks = [
        hook("before_create", "strict", "/slow", "timeout = \"300ms\""),
        hook(
            "before_create",
            "lenient",
            "/slow",
            "timeout = \"300ms\"\non_error = \"allow\"",
        ),
        hook("before_create", "broken", "/fail", ""),
        "[[hooks]]\nevent = \"before_create\"\ncollections = [\"gone\"]\nurl = \"http://127.0.0.1:1/hook\"\n".to_string(),
    ];
    plugin(root.path(), "flaky", &hooks.concat());
    let srv = start(root.path()).await;
    for name in ["strict", "lenient", "broken", "gone"] {
        posts(&srv, name).await;
    }
    let su = srv.su();
    let r = su.post(&records("strict"), json!({"title": "t"})).await;
    r.assert_error(
        502,
        "The plugin hook flaky/before_create failed: timed out after 300ms.",
    );
    assert_eq!(su.list("strict", "").await["totalItems"], 0);
    let ok = su.create("lenient", json!({"title": "t"})).await;
    assert_eq!(ok["title"], "t");
    let r = su.post(&records("broken"), json!({"title": "t"})).await;
    r.assert_error(
        502,
        "The plugin hook flaky/before_create failed: answered 500.",
    );
    let r = su.post(&records("gone"), json!({"title": "t"})).await;
    r.assert_error(
        502,
        "The plugin hook flaky/before_create failed: cannot connect.",
    );
}

#[tokio::test]
async fn plugins_crashed_sidecar_is_restarted_and_stopped_with_the_server() {
    let root = tempfile::tempdir().expect("tempdir");
    plugin(
        root.path(),
        "crashy",
        &hook("before_create", "posts", "/modify", ""),
    );
    let mut srv = start(root.path()).await;
    posts(&srv, "posts").await;
    let item = listed(&srv, "crashy").await;
    assert_eq!(item["status"], "running", "{item}");
    assert_eq!(item["restarts"], 0);
    assert_eq!(item["lastError"], Value::Null);
    let pid = item["pid"].as_u64().expect("pid");
    let kill = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let item = listed_when(&srv, "crashy", |p| {
        p["restarts"] == 1 && p["status"] == "running"
    })
    .await;
    assert!(
        item["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("signal: 9")),
        "{item}"
    );
    let new_pid = item["pid"].as_u64().expect("pid");
    assert_ne!(new_pid, pid);
    // The restarted sidecar serves the hook again on the same port once it listens ("running"
    // means the process is up; until it binds, the hook fails with "cannot connect").
    let mut created = None;
    for _ in 0..400 {
        let r = srv
            .su()
            .post(&records("posts"), json!({"title": "back"}))
            .await;
        if r.status == 200 {
            created = Some(r.body);
            break;
        }
        r.assert_error(
            502,
            "The plugin hook crashy/before_create failed: cannot connect.",
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rec = created.expect("the restarted sidecar never served the hook");
    assert_eq!(rec["title"], "BACK");
    srv.stop().await;
    assert!(!alive(new_pid), "the sidecar outlived the server");
}

#[tokio::test]
async fn plugins_sidecars_die_with_a_killed_server() {
    let root = tempfile::tempdir().expect("tempdir");
    // The test sidecar does not watch its parent: only the kernel can end it.
    plugin(root.path(), "orphan", "");
    let mut srv = start(root.path()).await;
    let item = listed_when(&srv, "orphan", |p| p["status"] == "running").await;
    let pid = item["pid"].as_u64().expect("pid");
    assert!(alive(pid));
    srv.kill9();
    for _ in 0..400 {
        if !alive(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("sidecar {pid} outlived the killed server");
}

#[tokio::test]
async fn plugins_token_is_a_superuser_token_revoked_at_stop() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("tokened");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("plugin.toml"),
        "[plugin]\nname = \"tokened\"\n[sidecar]\ncommand = [\"python3\", \"server.py\"]\n\
         env = { PORT = \"{port}\", FERROBASE_TOKEN = \"{token}\", FERROBASE_URL = \"{url}\" }\n",
    )
    .expect("manifest");
    std::fs::write(dir.join("server.py"), HOOK_SERVER).expect("server.py");
    let mut srv = start(root.path()).await;
    listed_when(&srv, "tokened", |p| p["status"] == "running").await;
    let text = std::fs::read_to_string(dir.join("token.txt")).expect("token written");
    let (token, url) = text.split_once('\n').expect("token and url");
    assert_eq!(url, srv.url(""));
    let plugin_api = srv.client(Some(token.to_string()));
    let seen = plugin_api.get("/api/plugins").await.ok();
    assert_eq!(seen["totalItems"], 1);
    let identity = srv
        .su()
        .list(
            "_superusers",
            "filter=email%3D'tokened%40plugins.ferrobase.invalid'",
        )
        .await;
    assert_eq!(identity["totalItems"], 1, "{identity}");
    srv.restart().await;
    // The port changed with the restart: a new client with the old token.
    let plugin_api = srv.client(Some(token.to_string()));
    plugin_api.get("/api/plugins").await.assert_error(
        401,
        "The request requires valid record authorization token.",
    );
}

#[tokio::test]
async fn plugins_api_lists_plugins_to_superusers_only() {
    let root = tempfile::tempdir().expect("tempdir");
    plugin(
        root.path(),
        "lister",
        &(hook(
            "before_update",
            "posts",
            "/keep",
            "timeout = \"1500ms\"\non_error = \"allow\"",
        ) + "[[webhooks]]\nurl = \"http://127.0.0.1:{port}/events\"\nactions = [\"create\"]\n"),
    );
    let srv = start(root.path()).await;
    srv.guest().get("/api/plugins").await.assert_error(
        401,
        "The request requires valid record authorization token.",
    );
    let (ann, _) = user(&srv, "ann@example.com", "Ann").await;
    ann.get("/api/plugins").await.assert_error(
        403,
        "The authorized record is not allowed to perform this action.",
    );
    let list = srv.su().get("/api/plugins").await.ok();
    assert_eq!(
        (
            &list["page"],
            &list["perPage"],
            &list["totalItems"],
            &list["totalPages"]
        ),
        (&json!(1), &json!(30), &json!(1), &json!(1)),
        "{list}"
    );
    let p = &list["items"][0];
    let port = p["port"].as_u64().expect("port");
    assert_eq!(p["name"], "lister");
    assert_eq!(p["description"], "test plugin lister");
    assert!(
        p["dir"].as_str().is_some_and(|d| d.ends_with("lister")),
        "{p}"
    );
    assert_eq!(p["status"], "running");
    assert!(p["pid"].is_u64(), "{p}");
    assert_eq!(
        p["hooks"],
        json!([{"event": "before_update", "collections": ["posts"],
                "url": format!("http://127.0.0.1:{port}/keep"), "timeout": "1500ms",
                "onError": "allow"}])
    );
    let w = &p["webhooks"][0];
    assert_eq!(w["url"], format!("http://127.0.0.1:{port}/events"));
    assert_eq!(w["name"], "lister/0");
    assert_eq!(w["actions"], json!(["create"]));
    assert_eq!(w["timeout"], 10);
    assert!(w.get("secret").is_none(), "secrets are not listed: {w}");
}

#[tokio::test]
async fn plugins_bad_manifest_refuses_to_start_naming_file_and_key() {
    let root = tempfile::tempdir().expect("tempdir");
    let plugins = root.path().join("plugins");
    plugin(
        &plugins,
        "broken",
        "[[hooks]]\nevent = \"before_save\"\nurl = \"http://127.0.0.1:{port}/x\"\n",
    );
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferrobase"))
        .args(["serve", "--http", "127.0.0.1:0", "--plugins"])
        .arg(&plugins)
        .arg("--dir")
        .arg(root.path().join("data"))
        .env_remove("FERROBASE_PLUGINS_DIR")
        .current_dir(root.path())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .expect("serve should exit at once")
        .expect("run ferrobase");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = plugins.join("broken").join("plugin.toml");
    assert!(
        stderr.contains(&format!(
            "error: {}: hooks[0].event: unknown event \"before_save\"",
            file.display()
        )),
        "{stderr}"
    );
}

/// Copies a bundled plugin (`plugins/<name>` of this repository) into `root`.
fn bundled(root: &Path, name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("plugins")
        .join(name);
    let dst = root.join(name);
    std::fs::create_dir_all(&dst).expect("dir");
    for file in ["plugin.toml", "server.py"] {
        std::fs::copy(src.join(file), dst.join(file)).expect("copy plugin file");
    }
    dst
}

#[tokio::test]
async fn plugins_slugify_fills_slug_from_title() {
    let root = tempfile::tempdir().expect("tempdir");
    bundled(root.path(), "slugify");
    let srv = start(root.path()).await;
    posts(&srv, "posts").await;
    let api = srv.guest();
    let rec = api.create("posts", json!({"title": "Héllo, World!"})).await;
    assert_eq!(rec["slug"], "hello-world", "{rec}");
    assert_eq!(rec["title"], "Héllo, World!");
    let id = id_of(&rec);
    let updated = api
        .patch(&record("posts", &id), json!({"title": "Second Title"}))
        .await
        .ok();
    assert_eq!(updated["slug"], "second-title");
    let kept = api
        .patch(&record("posts", &id), json!({"count": 3}))
        .await
        .ok();
    assert_eq!(kept["slug"], "second-title", "no title, slug untouched");
    let own = api
        .create("posts", json!({"title": "Ignored", "slug": "my-own"}))
        .await;
    assert_eq!(own["slug"], "my-own");
}

#[tokio::test]
async fn plugins_audit_log_sidecar_runs_with_its_secret_and_refuses_unsigned_events() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = bundled(root.path(), "audit-log");
    let srv = start(root.path()).await;
    let p = listed_when(&srv, "audit-log", |p| p["status"] == "running").await;
    let port = p["port"].as_u64().expect("port");
    let w = &p["webhooks"][0];
    assert_eq!(w["name"], "audit-log");
    assert_eq!(w["url"], format!("http://127.0.0.1:{port}/events"));
    assert_eq!(w["collections"], json!([]));
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/events"))
        .body(r#"{"type":"record.created"}"#)
        .send()
        .await
        .expect("audit-log answers");
    assert_eq!(r.status().as_u16(), 401);
    assert!(
        !dir.join("audit.jsonl").exists(),
        "unsigned events are not logged"
    );

    // The declared webhook is live: a record change arrives signed and is logged.
    posts(&srv, "notes").await;
    let rec = srv
        .guest()
        .create("notes", json!({"title": "audited"}))
        .await;
    let log = dir.join("audit.jsonl");
    let mut lines = String::new();
    for _ in 0..400 {
        lines = std::fs::read_to_string(&log).unwrap_or_default();
        if lines.contains(&id_of(&rec)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let line: Value =
        serde_json::from_str(lines.lines().next().expect("a logged event")).expect("a JSON line");
    assert_eq!(line["event"]["type"], "record.created", "{line}");
    assert_eq!(line["event"]["data"]["record"]["id"], id_of(&rec));
    assert!(line["webhookId"].as_str().unwrap().starts_with("msg_p"));
    // It shows in the webhooks API as the plugin's, and only its manifest can change it.
    let su = srv.su();
    let hooks = su.get("/api/webhooks").await.ok();
    let declared = &hooks["items"][0];
    assert_eq!(declared["plugin"], "audit-log", "{hooks}");
    let id = declared["id"].as_str().unwrap();
    assert_eq!(
        su.patch(&format!("/api/webhooks/{id}"), json!({"enabled": false}))
            .await
            .status,
        400
    );
    assert_eq!(su.delete(&format!("/api/webhooks/{id}")).await.status, 400);
    let log = su.get(&format!("/api/webhooks/{id}/deliveries")).await.ok();
    assert_eq!(log["items"][0]["status"], "delivered", "{log}");
}
