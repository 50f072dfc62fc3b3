//! `TestServer`: the real `ferrobase` binary on a free port with its own temp data dir.
//!
//! Every test starts its own server, so tests run in parallel without sharing state. The child is
//! killed on drop. Clients (`Api`) capture the server's current address: after `restart()` or
//! `kill9()` + `start_again()` the port changes, so take a fresh client from `srv.su()`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

pub const SU_EMAIL: &str = "root@example.com";
pub const SU_PASSWORD: &str = "root-password-123";

/// Upper bound for any single HTTP request made by a test.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Upper bound for the server to answer /api/health after spawn.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Upper bound for a graceful shutdown after SIGTERM.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(20);

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_ferrobase")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// Builder for env overrides (`FERROBASE_*`) applied to every process the server runs.
#[derive(Default)]
pub struct TestServerBuilder {
    env: Vec<(String, String)>,
    no_superuser: bool,
}

impl TestServerBuilder {
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Starts on a data dir without any superuser (first-run setup); `su()` is then a guest.
    pub fn without_superuser(mut self) -> Self {
        self.no_superuser = true;
        self
    }

    pub async fn start(self) -> TestServer {
        let root = tempfile::Builder::new()
            .prefix("ferrobase-it-")
            .tempdir()
            .expect("create temp dir");
        let mut srv = TestServer {
            data_dir: root.path().join("data"),
            root,
            env: self.env,
            port: 0,
            child: None,
            su_password: SU_PASSWORD.to_string(),
            token: String::new(),
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .expect("reqwest client"),
        };
        if self.no_superuser {
            srv.su_password.clear();
        } else {
            srv.superuser_upsert(SU_EMAIL, SU_PASSWORD);
        }
        srv.start_again().await;
        srv
    }
}

pub struct TestServer {
    root: tempfile::TempDir,
    data_dir: PathBuf,
    env: Vec<(String, String)>,
    port: u16,
    child: Option<Child>,
    /// Current password of `SU_EMAIL` (changed by `superuser_upsert`), used to log in on start.
    su_password: String,
    token: String,
    http: reqwest::Client,
}

impl TestServer {
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    pub async fn start() -> TestServer {
        Self::builder().start().await
    }

    /// A `ferrobase` command with a clean `FERROBASE_*` environment plus the builder's overrides,
    /// run from the temp root so no stray `./ferrobase.toml` is picked up.
    fn command(&self) -> Command {
        let mut cmd = Command::new(binary());
        for (key, _) in std::env::vars() {
            if key.starts_with("FERROBASE_") {
                cmd.env_remove(key);
            }
        }
        // Mail stays in the kept outbox (`GET /api/mails`) even where a sendmail exists.
        cmd.env("FERROBASE_SMTP_SENDMAIL", "off");
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd.current_dir(self.root.path());
        cmd
    }

    /// Runs `ferrobase <args> --dir <data dir>`; the server must be stopped (sled locks the store).
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        assert!(self.child.is_none(), "CLI commands need a stopped server");
        self.cli_while_running(args)
    }

    /// Runs `ferrobase <args> --dir <data dir>` even while the server runs (to check that a
    /// command refuses a dir in use).
    pub fn cli_while_running(&self, args: &[&str]) -> std::process::Output {
        self.command()
            .args(args)
            .arg("--dir")
            .arg(&self.data_dir)
            .output()
            .expect("run the ferrobase CLI")
    }

    /// `ferrobase superuser upsert EMAIL PASSWORD`; panics unless it succeeds.
    pub fn superuser_upsert(&mut self, email: &str, password: &str) {
        let out = self.cli(&["superuser", "upsert", email, password]);
        assert!(
            out.status.success(),
            "superuser upsert failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if email == SU_EMAIL {
            self.su_password = password.to_string();
        }
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.path().join("server.log")
    }

    /// The server's data dir (`--dir`).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// The server's log so far (for assertion messages).
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let start = log.len().saturating_sub(4000);
        log.get(start..).unwrap_or(&log).to_string()
    }

    /// Spawns `ferrobase serve` on a fresh port over the same data dir, waits for health and logs in.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "server already running");
        // The free port can be taken by a parallel test between probing and binding; the server
        // then exits at once, and we retry on another port.
        for attempt in 1..=3 {
            self.port = free_port();
            self.spawn_serve();
            match self.wait_healthy().await {
                Ok(()) => {
                    if !self.su_password.is_empty() {
                        self.token = self.login(SU_EMAIL, &self.su_password.clone()).await;
                    }
                    return;
                }
                Err(status) if attempt < 3 => {
                    eprintln!("server exited during startup ({status}), retrying");
                }
                Err(status) => panic!(
                    "server exited during startup ({status}):\n{}",
                    self.log_tail()
                ),
            }
        }
    }

    fn spawn_serve(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open server log");
        let child = self
            .command()
            .args([
                "serve",
                "--http",
                &format!("127.0.0.1:{}", self.port),
                "--dir",
            ])
            .arg(&self.data_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn ferrobase serve");
        self.child = Some(child);
    }

    /// Waits for /api/health from our child; `Err` with its exit status if it died.
    async fn wait_healthy(&mut self) -> Result<(), std::process::ExitStatus> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let probe = self
                .http
                .get(self.url("/api/health"))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            let healthy = matches!(probe, Ok(ref r) if r.status() == StatusCode::OK);
            // Checked after the probe, so a healthy answer from some other process on the port
            // is not mistaken for ours.
            let child = self.child.as_mut().expect("spawned");
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(status);
            }
            if healthy {
                // Another test's server may have answered on a port we both probed as free: our
                // child then fails to bind a moment later. Give it that moment, then re-check.
                tokio::time::sleep(Duration::from_millis(300)).await;
                let child = self.child.as_mut().expect("spawned");
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(status);
                }
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "server not healthy after {STARTUP_TIMEOUT:?}:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Superuser login; panics unless it succeeds.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let r = self
            .guest()
            .post(
                "/api/collections/_superusers/auth-with-password",
                json!({"identity": email, "password": password}),
            )
            .await;
        assert_eq!(r.status, 200, "superuser login failed: {}", r.body);
        r.body["token"]
            .as_str()
            .expect("token in auth response")
            .to_string()
    }

    /// The server process id (for `/proc/<pid>/…`), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `127.0.0.1:<port>` of the running server, for raw sockets.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// A client authenticated as the superuser.
    pub fn su(&self) -> Api {
        self.client(Some(self.token.clone()))
    }

    /// A client without any token.
    pub fn guest(&self) -> Api {
        self.client(None)
    }

    /// A client sending `auth` verbatim as the `Authorization` header.
    pub fn client(&self, auth: Option<String>) -> Api {
        Api {
            http: self.http.clone(),
            base: self.url(""),
            auth,
        }
    }

    /// A client whose connections come from `ip` (e.g. `127.0.0.2`: any loopback address works
    /// on Linux), to test per-IP limits.
    pub fn client_from(&self, ip: &str, auth: Option<String>) -> Api {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .local_address(ip.parse::<std::net::IpAddr>().expect("ip"))
            .build()
            .expect("reqwest client");
        Api {
            http,
            base: self.url(""),
            auth,
        }
    }

    /// Creates a collection as superuser; panics unless 200. Returns the collection JSON.
    pub async fn create_collection(&self, collection: Value) -> Value {
        let r = self.su().post("/api/collections", collection).await;
        assert_eq!(r.status, 200, "create collection failed: {}", r.body);
        r.body
    }

    /// Graceful stop (SIGTERM), asserting a clean exit.
    pub async fn stop(&mut self) {
        let mut child = self.child.take().expect("server running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("wait for server") {
                assert!(
                    status.success(),
                    "server exited uncleanly after SIGTERM ({status}):\n{}",
                    self.log_tail()
                );
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("server ignored SIGTERM for {SHUTDOWN_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// How many times the server (this child, across in-place restarts) has started listening.
    pub fn starts(&self) -> usize {
        std::fs::read_to_string(self.log_path())
            .unwrap_or_default()
            .matches("Server started at")
            .count()
    }

    /// After something made the server restart itself in place (a restore re-execs the binary:
    /// same PID, same port): waits until it has started more than `before` times and is
    /// healthy, then logs in again.
    pub async fn wait_restarted(&mut self, before: usize) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let child = self.child.as_mut().expect("server running");
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                panic!(
                    "server exited instead of restarting ({status}):\n{}",
                    self.log_tail()
                );
            }
            if self.starts() > before {
                let probe = self
                    .http
                    .get(self.url("/api/health"))
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await;
                if matches!(probe, Ok(ref r) if r.status() == StatusCode::OK) {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "server did not restart within {STARTUP_TIMEOUT:?}:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if !self.su_password.is_empty() {
            self.token = self.login(SU_EMAIL, &self.su_password.clone()).await;
        }
    }

    /// Graceful stop, then start again on the same data dir.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start_again().await;
    }

    /// SIGKILL the server (no chance to flush anything).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL server");
            child.wait().expect("reap server");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // A failing test shows what the server logged (the temp dir is deleted right after).
        if std::thread::panicking() {
            eprintln!("---- server log (tail) ----\n{}", self.log_tail());
        }
    }
}

/// A response: status plus the body parsed as JSON (`Value::Null` for an empty body).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// `data.<field>.code` of a PocketBase error envelope.
    pub fn code(&self, field: &str) -> &str {
        self.body["data"][field]["code"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }

    /// Asserts a PocketBase error envelope with this status and message.
    pub fn assert_error(&self, status: u16, message: &str) {
        assert_eq!(
            self.status, status,
            "unexpected status, body: {}",
            self.text
        );
        assert_eq!(
            self.body["status"], status,
            "envelope status: {}",
            self.text
        );
        assert_eq!(self.message(), message, "envelope message: {}", self.text);
        assert!(
            self.body["data"].is_object(),
            "envelope data: {}",
            self.text
        );
    }

    /// Asserts a 400 validation error with `code` on `field`.
    pub fn assert_field_error(&self, message: &str, field: &str, code: &str) {
        self.assert_error(400, message);
        assert_eq!(self.code(field), code, "error on {field}: {}", self.text);
    }

    pub fn ok(self) -> Value {
        assert_eq!(self.status, 200, "expected 200, got: {}", self.text);
        self.body
    }
}

/// A thin JSON-over-HTTP client bound to one server address and one identity.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    auth: Option<String>,
}

impl Api {
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let rb = self.http.request(method, format!("{}{}", self.base, path));
        match &self.auth {
            Some(auth) => rb.header("Authorization", auth),
            None => rb,
        }
    }

    pub async fn send(rb: RequestBuilder) -> Resp {
        let r = rb.send().await.expect("send request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("read body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        };
        Resp { status, body, text }
    }

    /// Like `send` but returns the transport error instead of panicking (crash tests).
    pub async fn try_send(rb: RequestBuilder) -> Result<Resp, reqwest::Error> {
        let r = rb.send().await?;
        let status = r.status().as_u16();
        let text = r.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Resp { status, body, text })
    }

    pub async fn get(&self, path: &str) -> Resp {
        Self::send(self.request(Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        Self::send(self.request(Method::DELETE, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        Self::send(self.request(Method::POST, path).json(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        Self::send(self.request(Method::PATCH, path).json(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        Self::send(self.request(Method::PUT, path).json(&body)).await
    }

    /// `POST /api/collections/{c}/records`; panics unless 200.
    pub async fn create(&self, collection: &str, body: Value) -> Value {
        self.post(&records(collection), body).await.ok()
    }

    /// `GET /api/collections/{c}/records?<query>`; panics unless 200.
    pub async fn list(&self, collection: &str, query: &str) -> Value {
        self.get(&format!("{}?{query}", records(collection)))
            .await
            .ok()
    }
}

/// `/api/collections/{c}/records`
pub fn records(collection: &str) -> String {
    format!("/api/collections/{collection}/records")
}

/// `/api/collections/{c}/records/{id}`
pub fn record(collection: &str, id: &str) -> String {
    format!("/api/collections/{collection}/records/{id}")
}

/// The `id` of a record JSON.
pub fn id_of(record: &Value) -> String {
    record["id"].as_str().expect("record id").to_string()
}

/// Ids of a list envelope's items, in order.
pub fn item_ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items array")
        .iter()
        .map(id_of)
        .collect()
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters kept).
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A collection open to everyone (all rules `""`) with the given fields.
pub fn public_collection(name: &str, fields: Value) -> Value {
    json!({
        "name": name,
        "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": fields,
    })
}

/// PocketBase's date output format `YYYY-MM-DD HH:MM:SS.mmmZ`.
pub fn is_pb_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// A PocketBase record id: 15 chars of `[a-z0-9]`.
pub fn is_record_id(s: &str) -> bool {
    s.len() == 15
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}
