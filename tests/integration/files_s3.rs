//! File fields stored in an S3-compatible bucket: the real binary against a real local S3 server
//! (npm `s3rver`, installed into tests/s3/node_modules on first use and started on 127.0.0.1
//! with a temp dir). Uploads (small in one PUT, large as a multipart upload), downloads with
//! ETags and ranges streamed from the bucket, thumbnails made from the object and stored back in
//! the bucket, modifiers and deletes removing objects, protected files, and the start-up sweep.
//! Skipped, with a message, only when node/npm are not installed.

use crate::files::{file, file_url, get_raw, media, png, send_form, storage_files};
use crate::harness::*;
use reqwest::multipart::Form;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(crate) const BUCKET: &str = "ferrobase-test";

/// A running s3rver; stopped (its own child process only) when dropped.
pub(crate) struct S3rver {
    child: Child,
    dir: tempfile::TempDir,
    pub(crate) endpoint: String,
}

impl Drop for S3rver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs s3rver into tests/s3/node_modules once per test process.
fn install() -> PathBuf {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/s3");
    let bin = dir.join("node_modules/s3rver/bin/s3rver.js");
    if !bin.exists() {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .output()
            .expect("run npm ci");
        assert!(
            out.status.success(),
            "npm ci in tests/s3 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    bin
}

impl S3rver {
    /// Starts s3rver with the test bucket, or `None` (after saying why) without node/npm.
    pub(crate) fn start() -> Option<Self> {
        if !have("node") || !have("npm") {
            eprintln!("SKIPPED: the S3 storage tests need node and npm (for s3rver); not found");
            return None;
        }
        let bin = install();
        let dir = tempfile::Builder::new()
            .prefix("ferrobase-s3rver-")
            .tempdir()
            .expect("temp dir");
        let mut child = Command::new("node")
            .arg(&bin)
            .args(["-d"])
            .arg(dir.path())
            .args(["-a", "127.0.0.1", "-p", "0", "--silent"])
            .args(["--configure-bucket", BUCKET])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3rver");
        let stdout = child.stdout.take().expect("s3rver stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("S3rver listening on ") {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("s3rver did not start listening");
        Some(Self {
            child,
            dir,
            endpoint: format!("http://{addr}"),
        })
    }

    /// A Ferrobase server whose files go to this bucket.
    async fn ferrobase(&self) -> TestServer {
        TestServer::builder()
            .env("FERROBASE_STORAGE_S3_ENABLED", "true")
            .env("FERROBASE_STORAGE_S3_BUCKET", BUCKET)
            .env("FERROBASE_STORAGE_S3_REGION", "us-east-1")
            .env("FERROBASE_STORAGE_S3_ENDPOINT", &self.endpoint)
            .env("FERROBASE_STORAGE_S3_ACCESS_KEY", "S3RVER")
            .env("FERROBASE_STORAGE_S3_SECRET", "S3RVER")
            .env("FERROBASE_STORAGE_S3_FORCE_PATH_STYLE", "true")
            .start()
            .await
    }

    /// Where s3rver keeps the object `key` on disk (to check what the bucket holds).
    pub(crate) fn object(&self, key: &str) -> PathBuf {
        self.dir
            .path()
            .join(BUCKET)
            .join(format!("{key}._S3rver_object"))
    }

    /// Every object key in the bucket.
    pub(crate) fn keys(&self) -> Vec<String> {
        let root = self.dir.path().join(BUCKET);
        let mut found = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Some(key) = path
                    .strip_prefix(&root)
                    .ok()
                    .and_then(|p| p.to_str())
                    .and_then(|p| p.strip_suffix("._S3rver_object"))
                {
                    found.push(key.to_string());
                }
            }
        }
        found.sort();
        found
    }
}

async fn collection_id(srv: &TestServer, name: &str) -> String {
    srv.su().get(&format!("/api/collections/{name}")).await.body["id"]
        .as_str()
        .expect("collection id")
        .to_string()
}

#[tokio::test]
async fn s3_upload_download_ranges_etags_and_thumbs() {
    let Some(s3) = S3rver::start() else { return };
    let srv = s3.ferrobase().await;
    media(&srv).await;
    let col = collection_id(&srv, "media").await;
    let form = Form::new()
        .text("title", "hello")
        .part("docs", file("Read Me.txt", b"hello files".to_vec()))
        .part("avatar", file("face.png", png(200, 100)));
    let rec = send_form(&srv.guest(), Method::POST, &records("media"), form)
        .await
        .ok();
    let id = id_of(&rec);
    let doc = rec["docs"][0].as_str().unwrap().to_string();
    let avatar = rec["avatar"].as_str().unwrap().to_string();

    // In the bucket, laid out as PocketBase does; nothing placed on local disk.
    assert_eq!(
        std::fs::read(s3.object(&format!("{col}/{id}/{doc}"))).unwrap(),
        b"hello files"
    );
    assert!(s3.object(&format!("{col}/{id}/{avatar}")).exists());
    assert!(storage_files(&srv).is_empty(), "{:?}", storage_files(&srv));

    // The text file, streamed from the bucket as an attachment.
    let resp = get_raw(&srv, &file_url("media", &id, &doc), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(resp.headers()["content-length"], "11");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"hello files");

    // The image: inline, ETag revalidation (304), ranges (206, 416), HEAD.
    let url = file_url("media", &id, &avatar);
    let resp = get_raw(&srv, &url, &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("inline"));
    assert!(resp.headers().contains_key("last-modified"));
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let full = resp.bytes().await.unwrap();
    assert_eq!(full.as_ref(), png(200, 100).as_slice());
    let again = get_raw(&srv, &url, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), 304);
    let changed = get_raw(&srv, &url, &[("if-none-match", "\"other\"")]).await;
    assert_eq!(changed.status(), 200);
    let part = get_raw(&srv, &url, &[("range", "bytes=2-9")]).await;
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 2-9/{}", full.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &full[2..10]);
    let tail = get_raw(&srv, &url, &[("range", "bytes=-4")]).await;
    assert_eq!(tail.status(), 206);
    assert_eq!(
        tail.bytes().await.unwrap().as_ref(),
        &full[full.len() - 4..]
    );
    let beyond = format!("bytes={}-", full.len() + 10);
    let unsatisfiable = get_raw(&srv, &url, &[("range", beyond.as_str())]).await;
    assert_eq!(unsatisfiable.status(), 416);
    let head = reqwest::Client::new()
        .head(srv.url(&url))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        full.len().to_string().as_str()
    );

    // Thumbs: made from the object, stored back in the bucket, served from there.
    for (spec, dims) in [
        ("100x100", (100, 100)),
        ("50x50", (50, 50)),
        ("0x20", (40, 20)),
        ("70x70", (200, 100)),
    ] {
        let resp = get_raw(&srv, &format!("{url}?thumb={spec}"), &[]).await;
        assert_eq!(resp.status(), 200, "thumb {spec}");
        let img = image::load_from_memory(&resp.bytes().await.unwrap()).expect("an image");
        assert_eq!((img.width(), img.height()), dims, "thumb {spec}");
    }
    let thumb = s3.object(&format!("{col}/{id}/thumbs_{avatar}/50x50_{avatar}"));
    assert!(thumb.exists(), "{:?}", s3.keys());
    // Served from the bucket afterwards: the stored thumb is what comes back.
    let stored = std::fs::read(&thumb).unwrap();
    let served = get_raw(&srv, &format!("{url}?thumb=50x50"), &[])
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(served.as_ref(), stored.as_slice());
    assert!(!s3
        .object(&format!("{col}/{id}/thumbs_{avatar}/70x70_{avatar}"))
        .exists());

    // Unknown names are 404s in the envelope, as on disk.
    for path in [
        file_url("media", &id, "nope.txt"),
        file_url("media", "nope", &avatar),
        file_url("media", &id, "..%2F..%2Fdata.db"),
    ] {
        let r = srv.guest().get(&path).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text);
    }
    // A file the record names but the bucket lost: 404, not a broken stream.
    std::fs::remove_file(s3.object(&format!("{col}/{id}/{doc}"))).unwrap();
    let r = srv.guest().get(&file_url("media", &id, &doc)).await;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[tokio::test]
async fn s3_large_uploads_stream_as_multipart_and_read_back_in_ranges() {
    let Some(s3) = S3rver::start() else { return };
    let srv = s3.ferrobase().await;
    srv.create_collection(public_collection(
        "big",
        json!([{"name": "blob", "type": "file", "maxSelect": 1, "maxSize": 20_000_000}]),
    ))
    .await;
    // 12 MiB of non-repeating bytes: three parts of a multipart upload.
    let data: Vec<u8> = (0..12 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let form = Form::new().part("blob", file("big.bin", data.clone()));
    let rec = send_form(&srv.guest(), Method::POST, &records("big"), form)
        .await
        .ok();
    let name = rec["blob"].as_str().unwrap().to_string();
    let url = file_url("big", &id_of(&rec), &name);
    let resp = get_raw(&srv, &url, &[]).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.len(), data.len());
    assert!(body.as_ref() == data.as_slice(), "the bytes round-trip");
    let (from, to) = (5 * 1024 * 1024 - 3, 5 * 1024 * 1024 + 5);
    let range = format!("bytes={from}-{to}");
    let part = get_raw(&srv, &url, &[("range", range.as_str())]).await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().as_ref(), &data[from..=to]);
}

#[tokio::test]
async fn s3_modifiers_and_deletes_remove_objects_after_commit() {
    let Some(s3) = S3rver::start() else { return };
    let srv = s3.ferrobase().await;
    media(&srv).await;
    let col = collection_id(&srv, "media").await;
    let api = srv.guest();
    let names = |v: &Value| -> Vec<String> { serde_json::from_value(v["docs"].clone()).unwrap() };
    let form = Form::new()
        .part("docs", file("a.txt", b"aaa".to_vec()))
        .part("avatar", file("one.png", png(10, 10)));
    let rec = send_form(&api, Method::POST, &records("media"), form)
        .await
        .ok();
    let id = id_of(&rec);
    let a = names(&rec)[0].clone();
    let one = rec["avatar"].as_str().unwrap().to_string();
    let key = |name: &str| format!("{col}/{id}/{name}");

    // docs+ appends; docs- removes by name, from the record and the bucket.
    let form = Form::new().part("docs+", file("c.txt", b"ccc".to_vec()));
    let rec = send_form(&api, Method::PATCH, &record("media", &id), form)
        .await
        .ok();
    let now = names(&rec);
    assert_eq!(now.len(), 2, "{rec}");
    let c = now[1].clone();
    assert!(s3.object(&key(&c)).exists());
    let rec = api
        .patch(&record("media", &id), json!({"docs-": a}))
        .await
        .ok();
    assert_eq!(names(&rec), std::slice::from_ref(&c));
    assert!(!s3.object(&key(&a)).exists());
    assert_eq!(
        srv.guest().get(&file_url("media", &id, &a)).await.status,
        404
    );

    // Over maxSelect: refused, and neither the record nor the bucket changes.
    let before = s3.keys();
    let mut form = Form::new();
    for i in 0..3 {
        form = form.part("docs+", file(&format!("x{i}.txt"), b"x".to_vec()));
    }
    let r = send_form(&api, Method::PATCH, &record("media", &id), form).await;
    r.assert_field_error(
        "Failed to update record.",
        "docs",
        "validation_too_many_files",
    );
    assert_eq!(s3.keys(), before);

    // A replaced image goes with its thumbnails.
    let thumb = get_raw(
        &srv,
        &format!("{}?thumb=50x50", file_url("media", &id, &one)),
        &[],
    )
    .await;
    assert_eq!(thumb.status(), 200);
    assert!(s3
        .object(&key(&format!("thumbs_{one}/50x50_{one}")))
        .exists());
    let form = Form::new().part("avatar", file("two.png", png(10, 10)));
    let rec = send_form(&api, Method::PATCH, &record("media", &id), form)
        .await
        .ok();
    let two = rec["avatar"].as_str().unwrap().to_string();
    assert!(s3.object(&key(&two)).exists());
    assert!(!s3.object(&key(&one)).exists());
    assert!(!s3
        .object(&key(&format!("thumbs_{one}/50x50_{one}")))
        .exists());

    // Deleting the record removes all of its objects.
    assert_eq!(api.delete(&record("media", &id)).await.status, 204);
    let left: Vec<String> = s3
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(&format!("{col}/{id}/")))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // Deleting the collection removes every object under it.
    let form = Form::new().part("docs", file("z.txt", b"zzz".to_vec()));
    let rec = send_form(&api, Method::POST, &records("media"), form)
        .await
        .ok();
    assert!(s3
        .object(&format!(
            "{col}/{}/{}",
            id_of(&rec),
            rec["docs"][0].as_str().unwrap()
        ))
        .exists());
    assert_eq!(srv.su().delete("/api/collections/media").await.status, 204);
    let left: Vec<String> = s3
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(&format!("{col}/")))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn s3_protected_files_need_a_file_token() {
    let Some(s3) = S3rver::start() else { return };
    let srv = s3.ferrobase().await;
    srv.create_collection(json!({
        "name": "secrets",
        "listRule": "@request.auth.id != ''", "viewRule": "@request.auth.id != ''",
        "createRule": null, "updateRule": null, "deleteRule": null,
        "fields": [{"name": "doc", "type": "file", "maxSelect": 1, "protected": true}],
    }))
    .await;
    let form = Form::new().part("doc", file("plan.txt", b"top secret".to_vec()));
    let rec = send_form(&srv.su(), Method::POST, &records("secrets"), form)
        .await
        .ok();
    let url = file_url("secrets", &id_of(&rec), rec["doc"].as_str().unwrap());
    assert_eq!(srv.guest().get(&url).await.status, 404);
    assert_eq!(
        srv.su().get(&url).await.status,
        404,
        "a bearer header is not enough"
    );
    let token = srv.su().post("/api/files/token", json!({})).await.ok()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = get_raw(&srv, &format!("{url}?token={token}"), &[]).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["cache-control"]
        .to_str()
        .unwrap()
        .starts_with("private"));
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"top secret");
    let forged = get_raw(&srv, &format!("{url}?token=not.a.token"), &[]).await;
    assert_eq!(forged.status(), 404);
}

#[tokio::test]
async fn s3_orphans_are_swept_on_start_and_foreign_keys_kept() {
    let Some(s3) = S3rver::start() else { return };
    let mut srv = s3.ferrobase().await;
    media(&srv).await;
    let col = collection_id(&srv, "media").await;
    let form = Form::new().part("docs", file("keep.txt", b"keep".to_vec()));
    let rec = send_form(&srv.guest(), Method::POST, &records("media"), form)
        .await
        .ok();
    let id = id_of(&rec);
    let kept = rec["docs"][0].as_str().unwrap().to_string();

    // What a crash between placing and committing leaves, written straight to the bucket; and
    // keys outside Ferrobase's layout, which are not its to remove.
    let store = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(BUCKET)
        .with_region("us-east-1")
        .with_endpoint(&s3.endpoint)
        .with_allow_http(true)
        .with_access_key_id("S3RVER")
        .with_secret_access_key("S3RVER")
        .build()
        .unwrap();
    use object_store::ObjectStore;
    for key in [
        format!("{col}/{id}/orphan_0123456789.txt"),
        format!("{col}/ghostrecord1234/x_0123456789.txt"),
        "notes.txt".to_string(),
        "backups/2026/db.tar".to_string(),
    ] {
        store
            .put(&key.as_str().into(), b"o".to_vec().into())
            .await
            .unwrap();
    }
    // The sweep leaves objects written after start-up alone (they may be in flight).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    srv.restart().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while s3
        .object(&format!("{col}/{id}/orphan_0123456789.txt"))
        .exists()
        || s3
            .object(&format!("{col}/ghostrecord1234/x_0123456789.txt"))
            .exists()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "orphans not swept: {:?}",
            s3.keys()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let keys = s3.keys();
    assert!(keys.contains(&format!("{col}/{id}/{kept}")), "{keys:?}");
    assert!(keys.contains(&"notes.txt".to_string()), "{keys:?}");
    assert!(
        keys.contains(&"backups/2026/db.tar".to_string()),
        "{keys:?}"
    );
    assert_eq!(
        srv.guest().get(&file_url("media", &id, &kept)).await.status,
        200
    );
}

#[tokio::test]
async fn s3_missing_bucket_refuses_uploads_without_committing() {
    let Some(s3) = S3rver::start() else { return };
    // A bucket that does not exist: uploads fail with the error envelope, nothing is committed.
    let srv = TestServer::builder()
        .env("FERROBASE_STORAGE_S3_ENABLED", "true")
        .env("FERROBASE_STORAGE_S3_BUCKET", "no-such-bucket")
        .env("FERROBASE_STORAGE_S3_ENDPOINT", &s3.endpoint)
        .env("FERROBASE_STORAGE_S3_ACCESS_KEY", "S3RVER")
        .env("FERROBASE_STORAGE_S3_SECRET", "S3RVER")
        .env("FERROBASE_STORAGE_S3_FORCE_PATH_STYLE", "true")
        .start()
        .await;
    media(&srv).await;
    let form = Form::new().part("docs", file("a.txt", b"aaa".to_vec()));
    let r = send_form(&srv.guest(), Method::POST, &records("media"), form).await;
    assert_eq!(r.status, 500, "{}", r.text);
    assert_eq!(srv.guest().list("media", "").await["totalItems"], 0);
    // Records without files still work.
    let r = srv
        .guest()
        .post(&records("media"), json!({"title": "t"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn s3_enabled_without_a_bucket_refuses_to_start() {
    // No S3 server needed: the configuration is refused before anything is sent.
    let root = tempfile::tempdir().expect("tempdir");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferrobase"))
        .args(["serve", "--http", "127.0.0.1:0", "--dir"])
        .arg(root.path().join("data"))
        .env("FERROBASE_STORAGE_S3_ENABLED", "true")
        .env_remove("FERROBASE_STORAGE_S3_BUCKET")
        .current_dir(root.path())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .expect("serve should exit at once")
        .expect("run ferrobase");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot open S3 file storage") && stderr.contains("s3_bucket"),
        "{stderr}"
    );
}

/// `kill -9` while records with files in the bucket are created, replaced and deleted: after
/// restart every acknowledged record is there, every name a record holds is an object that
/// downloads, and the start-up sweep leaves no object that no record names.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_kill_9_during_uploads_leaves_no_dangling_names_and_no_orphans() {
    use std::collections::HashMap;
    let Some(s3) = S3rver::start() else { return };
    let mut srv = s3.ferrobase().await;
    srv.create_collection(public_collection(
        "media",
        json!([{"name": "w", "type": "number"},
               {"name": "doc", "type": "file", "maxSelect": 1, "maxSize": 1048576}]),
    ))
    .await;
    let col = collection_id(&srv, "media").await;
    let acked =
        crate::crash::file_writes_until_kill_9(&mut srv, 4, 16 * 1024, Duration::from_millis(2000))
            .await;
    assert!(acked.len() >= 4, "too little load: {}", acked.len());

    srv.start_again().await;
    let listed = srv.su().list("media", "perPage=1000").await;
    let held: HashMap<String, String> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (id_of(r), r["doc"].as_str().unwrap_or("").to_string()))
        .collect();
    for id in &acked {
        assert!(held.contains_key(id), "acknowledged record {id} lost");
    }
    for (id, name) in held.iter().filter(|(_, n)| !n.is_empty()) {
        let r = srv.guest().get(&file_url("media", id, name)).await;
        assert_eq!(r.status, 200, "record {id} names {name}, which is missing");
    }
    let named: Vec<String> = held
        .iter()
        .filter(|(_, n)| !n.is_empty())
        .map(|(id, n)| format!("{col}/{id}/{n}"))
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let orphans: Vec<String> = s3
            .keys()
            .into_iter()
            .filter(|k| !named.contains(k))
            .collect();
        if orphans.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "orphans left after restart: {orphans:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn s3_down_fails_requests_quickly_with_the_envelope() {
    let Some(mut s3) = S3rver::start() else {
        return;
    };
    let srv = s3.ferrobase().await;
    media(&srv).await;
    let form = Form::new().part("docs", file("a.txt", b"aaa".to_vec()));
    let rec = send_form(&srv.guest(), Method::POST, &records("media"), form)
        .await
        .ok();
    let id = id_of(&rec);
    let doc = rec["docs"][0].as_str().unwrap().to_string();
    // The S3 server goes away.
    let _ = s3.child.kill();
    let _ = s3.child.wait();
    let started = std::time::Instant::now();
    let r = srv.guest().get(&file_url("media", &id, &doc)).await;
    assert_eq!(r.status, 500, "{}", r.text);
    assert_eq!(r.body["status"], 500, "{}", r.text);
    let form = Form::new().part("docs", file("b.txt", b"bbb".to_vec()));
    let r = send_form(&srv.guest(), Method::POST, &records("media"), form).await;
    assert_eq!(r.status, 500, "{}", r.text);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    // Nothing was committed for the failed upload; the record store still answers.
    assert_eq!(srv.guest().list("media", "").await["totalItems"], 1);
}

/// `PATCH /api/settings` body pointing `s3` (or `backups.s3`) at `bucket` on this s3rver.
fn s3_settings(s3: &S3rver, bucket: &str) -> Value {
    json!({
        "enabled": true,
        "bucket": bucket,
        "region": "us-east-1",
        "endpoint": s3.endpoint,
        "accessKey": "S3RVER",
        "secret": "S3RVER",
        "forcePathStyle": true,
    })
}

#[tokio::test]
async fn settings_test_s3_checks_the_saved_buckets() {
    let Some(s3) = S3rver::start() else { return };
    let srv = TestServer::start().await;
    let su = srv.su();
    let test = |body: Value| {
        let su = su.clone();
        async move { su.post("/api/settings/test/s3", body).await }
    };

    // Superusers only.
    let r = srv
        .guest()
        .post("/api/settings/test/s3", json!({"filesystem": "storage"}))
        .await;
    assert_eq!(r.status, 401, "{}", r.text);

    // `filesystem` is required and one of storage/backups.
    let r = test(json!({})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["message"], "Failed to test the S3 filesystem.");
    assert_eq!(r.body["data"]["filesystem"]["code"], "validation_required");
    let r = test(json!({"filesystem": "other"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["data"]["filesystem"]["code"],
        "validation_in_invalid"
    );

    // Not enabled in the saved settings: 400 saying so.
    for fs in ["storage", "backups"] {
        let r = test(json!({"filesystem": fs})).await;
        assert_eq!(r.status, 400, "{}", r.text);
        let msg = r.body["message"].as_str().unwrap();
        assert!(
            msg.starts_with("Failed to test the S3 filesystem. Raw error: \n")
                && msg.contains("S3 storage filesystem is not enabled"),
            "{msg}"
        );
    }

    // A reachable bucket: 204, and the test object is gone again.
    let r = su
        .patch(
            "/api/settings",
            json!({"s3": s3_settings(&s3, BUCKET), "backups": {"s3": s3_settings(&s3, "missing-bucket")}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = test(json!({"filesystem": "storage"})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(s3.keys().is_empty(), "{:?}", s3.keys());

    // A bucket that does not exist: 400 with the bucket's error.
    let r = test(json!({"filesystem": "backups"})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let msg = r.body["message"].as_str().unwrap();
    assert!(msg.contains("failed to upload a test file"), "{msg}");
    assert!(r.body["data"].as_object().unwrap().is_empty());
}

/// Uploads one `docs` file into a new `media` record; returns (record id, stored name).
async fn upload_doc(srv: &TestServer, bytes: &[u8]) -> (String, String) {
    let form = Form::new().part("docs", file("doc.txt", bytes.to_vec()));
    let rec = send_form(&srv.guest(), Method::POST, &records("media"), form)
        .await
        .ok();
    (
        id_of(&rec),
        rec["docs"][0].as_str().expect("stored name").to_string(),
    )
}

#[tokio::test]
async fn settings_s3_applies_to_new_files_at_runtime_and_survives_a_restart() {
    let Some(s3) = S3rver::start() else { return };
    // No `[storage]` S3 in the config: files start on local disk.
    let mut srv = TestServer::start().await;
    media(&srv).await;
    let col = collection_id(&srv, "media").await;
    let (local_id, local) = upload_doc(&srv, b"on disk").await;
    assert_eq!(storage_files(&srv).len(), 1);

    // Enabling `s3`: the next upload goes to the bucket and is served from it.
    let r = srv
        .su()
        .patch("/api/settings", json!({"s3": s3_settings(&s3, BUCKET)}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (id, name) = upload_doc(&srv, b"in the bucket").await;
    assert_eq!(
        std::fs::read(s3.object(&format!("{col}/{id}/{name}"))).unwrap(),
        b"in the bucket"
    );
    assert_eq!(storage_files(&srv).len(), 1, "nothing new on disk");
    let resp = get_raw(&srv, &file_url("media", &id, &name), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"in the bucket");

    // The saved setting wins after a restart too.
    srv.restart().await;
    let (id2, name2) = upload_doc(&srv, b"still the bucket").await;
    assert!(s3.object(&format!("{col}/{id2}/{name2}")).exists());

    // Disabling goes back to local disk (existing files are not migrated).
    let r = srv
        .su()
        .patch("/api/settings", json!({"s3": {"enabled": false}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (id3, name3) = upload_doc(&srv, b"back on disk").await;
    assert_eq!(storage_files(&srv).len(), 2);
    assert!(!s3.object(&format!("{col}/{id3}/{name3}")).exists());
    let resp = get_raw(&srv, &file_url("media", &id3, &name3), &[]).await;
    assert_eq!(resp.status(), 200);
    // The file stored on disk before the switch is served from disk again.
    let resp = get_raw(&srv, &file_url("media", &local_id, &local), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"on disk");
}

#[tokio::test]
async fn config_s3_is_the_default_until_the_settings_disable_it() {
    let Some(s3) = S3rver::start() else { return };
    let srv = s3.ferrobase().await;
    media(&srv).await;
    let col = collection_id(&srv, "media").await;
    let (id, name) = upload_doc(&srv, b"config bucket").await;
    assert!(s3.object(&format!("{col}/{id}/{name}")).exists());
    assert!(storage_files(&srv).is_empty());
    let r = srv
        .su()
        .patch("/api/settings", json!({"s3": {"enabled": false}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (id, name) = upload_doc(&srv, b"local now").await;
    assert!(!s3.object(&format!("{col}/{id}/{name}")).exists());
    assert_eq!(storage_files(&srv).len(), 1);
}
