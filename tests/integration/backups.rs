//! Backups end to end: `/api/backups` create/list/download/upload/delete/restore with
//! PocketBase's statuses and codes, a restore under write load that keeps every acknowledged
//! record, files included, a backup moved to another server, and the `backup`/`restore` CLI.

use crate::files::{file, send_form};
use crate::harness::*;
use reqwest::multipart::Form;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MSG_VALIDATE: &str = "An error occurred while validating the submitted data.";

/// `items`: a unique `title`, an indexed `n`, and a `doc` file.
async fn items(srv: &TestServer) {
    let mut c = public_collection(
        "items",
        json!([
            {"name": "title", "type": "text", "required": true},
            {"name": "n", "type": "number"},
            {"name": "doc", "type": "file", "maxSelect": 1, "maxSize": 1000},
        ]),
    );
    c["indexes"] = json!([
        "CREATE UNIQUE INDEX idx_items_title ON items (title)",
        "CREATE INDEX idx_items_n ON items (n)",
    ]);
    srv.create_collection(c).await;
}

async fn file_token(srv: &TestServer) -> String {
    let r = srv.su().post("/api/files/token", json!({})).await.ok();
    r["token"].as_str().expect("token").to_string()
}

async fn download(srv: &TestServer, key: &str, token: Option<&str>) -> reqwest::Response {
    let url = match token {
        Some(t) => srv.url(&format!("/api/backups/{key}?token={t}")),
        None => srv.url(&format!("/api/backups/{key}")),
    };
    reqwest::Client::new()
        .get(url)
        .send()
        .await
        .expect("download")
}

async fn upload(srv: &TestServer, name: &str, bytes: Vec<u8>) -> Resp {
    let form = Form::new().part("file", file(name, bytes));
    send_form(&srv.su(), Method::POST, "/api/backups/upload", form).await
}

fn keys(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|b| b["key"].as_str().expect("key").to_string())
        .collect()
}

/// Restores `key` and waits for the server to come back with the restored data.
async fn restore(srv: &mut TestServer, key: &str) {
    let before = srv.starts();
    let r = srv
        .su()
        .post(&format!("/api/backups/{key}/restore"), json!({}))
        .await;
    assert_eq!(r.status, 204, "restore: {}", r.text);
    srv.wait_restarted(before).await;
}

#[tokio::test]
async fn backups_are_created_listed_downloaded_uploaded_and_deleted() {
    let srv = TestServer::builder()
        .env("FERROBASE_METRICS_ENABLED", "true")
        .start()
        .await;
    items(&srv).await;
    srv.su()
        .create("items", json!({"title": "one", "n": 1}))
        .await;

    // Superusers only.
    let r = srv.guest().get("/api/backups").await;
    assert_eq!(r.status, 401, "{}", r.text);
    let r = srv.guest().post("/api/backups", json!({})).await;
    assert_eq!(r.status, 401, "{}", r.text);
    let (user, _) = crate::accounts::user(&srv, "ann@example.com", "Ann").await;
    let r = user.get("/api/backups").await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = user.delete("/api/backups/x.zip").await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = user.post("/api/backups/x.zip/restore", json!({})).await;
    assert_eq!(r.status, 403, "{}", r.text);

    let h = srv.su().get("/api/health").await.ok();
    assert_eq!(h["data"]["canBackup"], true, "{h}");
    assert_eq!(srv.su().get("/api/backups").await.ok(), json!([]));

    // Names as PocketBase: ^[a-z0-9_-]+\.zip$, unique.
    for bad in ["Bad Name.zip", "a.tar", "../x.zip"] {
        let r = srv.su().post("/api/backups", json!({"name": bad})).await;
        r.assert_field_error(MSG_VALIDATE, "name", "validation_match_invalid");
    }
    let r = srv
        .su()
        .post("/api/backups", json!({"name": "first.zip"}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = srv
        .su()
        .post("/api/backups", json!({"name": "first.zip"}))
        .await;
    r.assert_field_error(MSG_VALIDATE, "name", "validation_backup_name_exists");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let r = srv.su().post("/api/backups", json!({})).await;
    assert_eq!(r.status, 204, "{}", r.text);

    let list = srv.su().get("/api/backups").await.ok();
    let names = keys(&list);
    assert_eq!(names.len(), 2, "{list}");
    assert!(
        names[0].starts_with("ferrobase_backup_"),
        "newest first: {list}"
    );
    assert_eq!(names[1], "first.zip");
    for b in list.as_array().expect("array") {
        assert!(b["size"].as_u64().expect("size") > 100, "{b}");
        assert!(is_pb_date(b["modified"].as_str().expect("modified")), "{b}");
    }

    // Downloads take a superuser's file token, no auth header.
    let r = download(&srv, "first.zip", None).await;
    assert_eq!(r.status(), 403);
    let r = download(&srv, "first.zip", Some("bogus")).await;
    assert_eq!(r.status(), 403);
    let user_file_token = user.post("/api/files/token", json!({})).await.ok()["token"]
        .as_str()
        .expect("token")
        .to_string();
    let r = download(&srv, "first.zip", Some(&user_file_token)).await;
    assert_eq!(r.status(), 403, "a user's file token is not enough");
    let token = file_token(&srv).await;
    let r = download(&srv, "missing.zip", Some(&token)).await;
    assert_eq!(r.status(), 404);
    let r = download(&srv, "first.zip", Some(&token)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    let zip = r.bytes().await.expect("zip").to_vec();
    assert!(zip.starts_with(b"PK"), "a zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.clone())).expect("zip");
    let manifest: Value = {
        let entry = archive.by_name("manifest.json").expect("manifest");
        serde_json::from_reader(entry).expect("manifest json")
    };
    assert!(manifest["head"].as_u64().expect("head") >= 1, "{manifest}");
    assert_eq!(manifest["filesIncluded"], true, "{manifest}");
    assert!(archive.by_name("data.dump").is_ok());

    // Uploads: zips only, unique names.
    let r = upload(&srv, "garbage.zip", b"not a zip at all".to_vec()).await;
    r.assert_field_error(MSG_VALIDATE, "file", "validation_invalid_mime_type");
    let r = upload(&srv, "copy.zip", zip.clone()).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = upload(&srv, "copy.zip", zip.clone()).await;
    r.assert_field_error(MSG_VALIDATE, "name", "validation_backup_name_exists");
    let r = upload(&srv, "Bad Name.zip", zip).await;
    r.assert_field_error(MSG_VALIDATE, "name", "validation_match_invalid");
    let r = send_form(
        &srv.su(),
        Method::POST,
        "/api/backups/upload",
        Form::new().text("other", "x"),
    )
    .await;
    r.assert_field_error(MSG_VALIDATE, "file", "validation_required");
    let r = send_form(
        &srv.guest(),
        Method::POST,
        "/api/backups/upload",
        Form::new().part("file", file("g.zip", b"PK".to_vec())),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(keys(&srv.su().get("/api/backups").await.ok()).len(), 3);

    // Delete; a missing key is 400 as PocketBase.
    let r = srv.su().delete("/api/backups/first.zip").await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = srv.su().delete("/api/backups/first.zip").await;
    r.assert_field_error("Missing or invalid backup file.", "key", "backup_not_found");
    let r = srv
        .su()
        .post("/api/backups/first.zip/restore", json!({}))
        .await;
    r.assert_field_error("Missing or invalid backup file.", "key", "backup_not_found");
    assert!(!keys(&srv.su().get("/api/backups").await.ok()).contains(&"first.zip".into()));

    // A zip that is not a Ferrobase backup is refused at restore, and the server keeps going.
    let mut other = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    other
        .start_file("hello.txt", zip::write::SimpleFileOptions::default())
        .expect("entry");
    std::io::Write::write_all(&mut other, b"hi").expect("write");
    let other = other.finish().expect("finish").into_inner();
    let r = upload(&srv, "other.zip", other).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = srv
        .su()
        .post("/api/backups/other.zip/restore", json!({}))
        .await;
    r.assert_field_error("Failed to restore the backup.", "key", "backup_invalid");
    let h = srv.su().get("/api/health").await.ok();
    assert_eq!(
        h["data"]["canBackup"], true,
        "a failed restore frees the slot: {h}"
    );
    assert_eq!(srv.su().list("items", "").await["totalItems"], 1);

    // Made backups are counted (uploads are not), with the last one's duration.
    let metrics = reqwest::get(srv.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("ferrobase_backups_total{outcome=\"made\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ferrobase_backup_last_duration_seconds "),
        "{metrics}"
    );
}

/// Writers create records continuously; a backup is taken mid-load and restored: every record
/// acknowledged before the backup request started is back with its data, its file, and
/// consistent indexes; records acknowledged after the backup finished are gone.
#[tokio::test]
async fn restore_under_write_load_keeps_every_acknowledged_record() {
    let mut srv = TestServer::start().await;
    items(&srv).await;
    // Records with files, before the load.
    let mut with_files = Vec::new();
    for i in 0..5 {
        let form = Form::new()
            .text("title", format!("file{i}"))
            .text("n", "-1")
            .part(
                "doc",
                file(&format!("d{i}.txt"), format!("doc {i}").into_bytes()),
            );
        let r = send_form(&srv.su(), Method::POST, &records("items"), form).await;
        let rec = r.ok();
        with_files.push((
            id_of(&rec),
            rec["doc"].as_str().expect("doc").to_string(),
            i,
        ));
    }

    #[derive(Clone)]
    struct Acked {
        id: String,
        title: String,
        n: i64,
        at: Instant,
    }
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4i64 {
        let (api, acked, stop) = (srv.su(), acked.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let title = format!("w{w}_{i}");
                let n = w * 1_000_000 + i;
                let r = api
                    .post(&records("items"), json!({"title": title, "n": n}))
                    .await;
                assert_eq!(r.status, 200, "{}", r.text);
                acked.lock().unwrap().push(Acked {
                    id: id_of(&r.body),
                    title,
                    n,
                    at: Instant::now(),
                });
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let backup_started = Instant::now();
    let r = srv
        .su()
        .post("/api/backups", json!({"name": "load.zip"}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let backup_done = Instant::now();
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }
    let acked = acked.lock().unwrap().clone();
    let before: Vec<&Acked> = acked.iter().filter(|a| a.at < backup_started).collect();
    let after: Vec<&Acked> = acked.iter().filter(|a| a.at > backup_done).collect();
    assert!(
        before.len() > 10 && !after.is_empty(),
        "{} / {}",
        before.len(),
        after.len()
    );

    restore(&mut srv, "load.zip").await;
    let su = srv.su();
    for a in &before {
        let rec = su.get(&record("items", &a.id)).await.ok();
        assert_eq!(rec["title"], a.title.as_str());
        assert_eq!(rec["n"], a.n);
    }
    for a in &after {
        let r = su.get(&record("items", &a.id)).await;
        assert_eq!(r.status, 404, "{} was written after the backup", a.title);
    }
    // Counts and indexes agree with the records.
    let total = su.list("items", "perPage=1").await["totalItems"]
        .as_u64()
        .expect("total");
    assert!(total as usize >= before.len() + with_files.len());
    assert!((total as usize) <= acked.len() - after.len() + with_files.len());
    let all = su
        .list("items", "perPage=1&skipTotal=0&filter=n%3E%3D0")
        .await;
    assert_eq!(
        all["totalItems"].as_u64(),
        Some(total - with_files.len() as u64)
    );
    for a in before.iter().step_by(7) {
        let l = su
            .list("items", &format!("filter={}", enc(&format!("n = {}", a.n))))
            .await;
        assert_eq!(
            item_ids(&l),
            vec![a.id.clone()],
            "indexed lookup of {}",
            a.title
        );
        let dup = su
            .post(&records("items"), json!({"title": a.title, "n": 0}))
            .await;
        assert_eq!(
            dup.status, 400,
            "the unique index still holds: {}",
            dup.text
        );
    }
    // Files of records made before the backup download with their content.
    for (id, name, i) in &with_files {
        let r = reqwest::get(srv.url(&format!("/api/files/items/{id}/{name}")))
            .await
            .expect("file");
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.expect("text"), format!("doc {i}"));
    }
    // The restored server takes writes and new backups.
    su.create("items", json!({"title": "after restore", "n": 1}))
        .await;
    let h = su.get("/api/health").await.ok();
    assert_eq!(h["data"]["canBackup"], true, "{h}");
    assert!(keys(&su.get("/api/backups").await.ok()).contains(&"load.zip".into()));
}

/// A backup downloaded from one server is uploaded to another and restored there.
#[tokio::test]
async fn a_backup_moves_to_another_server() {
    let a = TestServer::start().await;
    items(&a).await;
    let rec = a
        .su()
        .create("items", json!({"title": "from a", "n": 7}))
        .await;
    let r = a.su().post("/api/backups", json!({"name": "a.zip"})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let token = file_token(&a).await;
    let zip = download(&a, "a.zip", Some(&token))
        .await
        .bytes()
        .await
        .expect("zip")
        .to_vec();

    let mut b = TestServer::builder()
        .env("FERROBASE_BACKUPS_MAX_UPLOAD_MB", "1")
        .start()
        .await;
    // Uploads are bounded by `[backups] max_upload_mb`.
    // The server answers 413 before reading the rest, so the client may see the connection
    // closed under its feet instead; either way nothing is kept.
    let form = Form::new().part("file", file("big.zip", vec![b'x'; 2 * 1024 * 1024]));
    let sent = Api::try_send(
        b.su()
            .request(Method::POST, "/api/backups/upload")
            .multipart(form),
    )
    .await;
    if let Ok(r) = sent {
        assert_eq!(r.status, 413, "{}", r.text);
    }
    assert_eq!(b.su().get("/api/backups").await.ok(), json!([]));
    let r = upload(&b, "from_a.zip", zip).await;
    assert_eq!(r.status, 204, "{}", r.text);
    restore(&mut b, "from_a.zip").await;
    let got = b.su().get(&record("items", &id_of(&rec))).await.ok();
    assert_eq!(got["title"], "from a");
    // The backup itself is B's (backups are not part of a backup).
    assert!(
        b.su()
            .get("/api/backups")
            .await
            .ok()
            .as_array()
            .expect("list")
            .len()
            <= 1
    );
}

#[tokio::test]
async fn cli_backup_and_restore_on_a_stopped_dir() {
    let mut srv = TestServer::start().await;
    items(&srv).await;
    let form = Form::new()
        .text("title", "kept")
        .text("n", "1")
        .part("doc", file("k.txt", b"kept file".to_vec()));
    let kept = send_form(&srv.su(), Method::POST, &records("items"), form)
        .await
        .ok();
    let out = srv.data_dir().parent().expect("root").join("cli.zip");
    let out_s = out.to_str().expect("utf-8 path");

    // A running server's dir is refused (its lock), pointing at the API.
    let o = srv.cli_while_running(&["backup", "--out", out_s]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("in use by another process") && err.contains("/api/backups"),
        "{err}"
    );

    srv.stop().await;
    let o = srv.cli(&["backup", "--out", out_s]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("backup written"));
    assert!(out.exists());

    srv.start_again().await;
    let r = srv.su().delete(&record("items", &id_of(&kept))).await;
    assert_eq!(r.status, 204);
    srv.su()
        .create("items", json!({"title": "later", "n": 2}))
        .await;
    srv.stop().await;

    let o = srv.cli(&["restore", out_s]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = srv.cli(&["restore", "/nonexistent/x.zip"]);
    assert!(!o.status.success());
    srv.start_again().await;
    let got = srv.su().get(&record("items", &id_of(&kept))).await.ok();
    assert_eq!(got["title"], "kept");
    let l = srv.su().list("items", "").await;
    assert_eq!(l["totalItems"], 1, "{l}");
    let name = got["doc"].as_str().expect("doc");
    let r = reqwest::get(srv.url(&format!("/api/files/items/{}/{name}", id_of(&kept))))
        .await
        .expect("file");
    assert_eq!(r.text().await.expect("text"), "kept file");
}

/// With the settings' `backups.s3` enabled, backups are made into, listed from, downloaded
/// from, restored from and deleted from the bucket (a real local S3 server).
#[tokio::test]
async fn backups_round_trip_through_an_s3_bucket() {
    let Some(s3) = crate::files_s3::S3rver::start() else {
        return;
    };
    let mut srv = TestServer::start().await;
    items(&srv).await;
    let kept = srv
        .su()
        .create("items", json!({"title": "kept", "n": 1}))
        .await;
    let r = srv
        .su()
        .patch(
            "/api/settings",
            json!({"backups": {"s3": {
                "enabled": true, "bucket": crate::files_s3::BUCKET, "region": "us-east-1",
                "endpoint": s3.endpoint, "accessKey": "S3RVER", "secret": "S3RVER",
                "forcePathStyle": true,
            }}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let r = srv
        .su()
        .post("/api/backups", json!({"name": "s3.zip"}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(s3.keys().contains(&"s3.zip".to_string()), "{:?}", s3.keys());
    assert!(
        !srv.data_dir().join("backups/s3.zip").exists(),
        "not kept locally"
    );
    let list = srv.su().get("/api/backups").await.ok();
    assert_eq!(keys(&list), vec!["s3.zip"], "{list}");
    assert!(list[0]["size"].as_u64().expect("size") > 100);
    let r = srv
        .su()
        .post("/api/backups", json!({"name": "s3.zip"}))
        .await;
    r.assert_field_error(MSG_VALIDATE, "name", "validation_backup_name_exists");

    let token = file_token(&srv).await;
    let r = download(&srv, "s3.zip", Some(&token)).await;
    assert_eq!(r.status(), 200);
    let zip = r.bytes().await.expect("zip").to_vec();
    assert!(zip.starts_with(b"PK"));
    assert_eq!(zip.len() as u64, list[0]["size"].as_u64().expect("size"));
    let r = download(&srv, "nope.zip", Some(&token)).await;
    assert_eq!(r.status(), 404);

    let later = srv
        .su()
        .create("items", json!({"title": "later", "n": 2}))
        .await;
    restore(&mut srv, "s3.zip").await;
    let got = srv.su().get(&record("items", &id_of(&kept))).await.ok();
    assert_eq!(got["title"], "kept");
    let r = srv.su().get(&record("items", &id_of(&later))).await;
    assert_eq!(r.status, 404);

    let r = srv.su().delete("/api/backups/s3.zip").await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(!s3.keys().contains(&"s3.zip".to_string()));
    let r = srv.su().delete("/api/backups/s3.zip").await;
    r.assert_field_error("Missing or invalid backup file.", "key", "backup_not_found");
}

/// The settings' `backups.cron` makes auto backups without a restart (`* * * * *` fires within
/// a minute); the fire time, pruning beyond `cronMaxKeep` and macros are unit-tested
/// (`backups::schedule`).
#[tokio::test]
async fn the_cron_schedule_makes_auto_backups() {
    let srv = TestServer::start().await;
    let r = srv
        .su()
        .post("/api/backups", json!({"name": "manual.zip"}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = srv
        .su()
        .patch(
            "/api/settings",
            json!({"backups": {"cron": "* * * * *", "cronMaxKeep": 1}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let deadline = Instant::now() + Duration::from_secs(75);
    let auto = loop {
        let list = keys(&srv.su().get("/api/backups").await.ok());
        if let Some(k) = list
            .iter()
            .find(|k| k.starts_with("@auto_ferrobase_backup_"))
        {
            break k.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no auto backup within a minute: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(auto.ends_with(".zip"), "{auto}");
    let list = keys(&srv.su().get("/api/backups").await.ok());
    assert!(
        list.contains(&"manual.zip".to_string()),
        "manual backups are never pruned: {list:?}"
    );
    // A download works for the auto backup's key too.
    let token = file_token(&srv).await;
    let r = download(&srv, &enc(&auto), Some(&token)).await;
    assert_eq!(r.status(), 200);
}
