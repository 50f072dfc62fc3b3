//! File fields end to end against the real binary: multipart uploads with PocketBase's names,
//! checks (size, sniffed MIME type, count, unknown names), modifiers, downloads with thumbs,
//! ranges and ETags, protected files behind file tokens, removal after commits, and the
//! start-up sweep of orphans.

use crate::harness::*;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};
use std::io::Cursor;

pub(crate) fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::DynamicImage::new_rgb8(w, h);
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

pub(crate) fn file(name: &str, bytes: Vec<u8>) -> Part {
    Part::bytes(bytes).file_name(name.to_string())
}

pub(crate) async fn send_form(api: &Api, method: Method, path: &str, form: Form) -> Resp {
    Api::send(api.request(method, path).multipart(form)).await
}

/// `docs` (up to 3 files of ≤ 100 bytes), `avatar` (one PNG/JPEG, thumbs 50x50 and 0x20).
pub(crate) async fn media(srv: &TestServer) {
    srv.create_collection(public_collection(
        "media",
        json!([
            {"name": "title", "type": "text"},
            {"name": "docs", "type": "file", "maxSelect": 3, "maxSize": 100},
            {"name": "avatar", "type": "file", "maxSelect": 1,
             "mimeTypes": ["image/png", "image/jpeg"], "thumbs": ["50x50", "0x20"]},
        ]),
    ))
    .await;
}

fn has_pb_shape(name: &str, base: &str, ext: &str) -> bool {
    let Some(rest) = name.strip_prefix(&format!("{base}_")) else {
        return false;
    };
    let Some(random) = rest.strip_suffix(ext) else {
        return false;
    };
    random.len() == 10
        && random
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

pub(crate) async fn get_raw(
    srv: &TestServer,
    path: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut rb = reqwest::Client::new().get(srv.url(path));
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    rb.send().await.expect("download")
}

pub(crate) fn file_url(col: &str, id: &str, name: &str) -> String {
    format!("/api/files/{col}/{id}/{name}")
}

#[tokio::test]
async fn files_upload_download_thumbs_and_ranges() {
    let srv = TestServer::start().await;
    media(&srv).await;
    let api = srv.guest();
    let form = Form::new()
        .text("title", "hello")
        .part("docs", file("Read Me.TXT", b"hello files".to_vec()))
        .part("docs", file("b.md", b"# two".to_vec()))
        .part("avatar", file("face.png", png(200, 100)));
    let r = send_form(&api, Method::POST, &records("media"), form).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rec = r.body;
    let id = id_of(&rec);
    let docs: Vec<String> = serde_json::from_value(rec["docs"].clone()).unwrap();
    assert_eq!(docs.len(), 2, "{rec}");
    assert!(has_pb_shape(&docs[0], "read_me", ".TXT"), "{}", docs[0]);
    assert!(
        docs[1].starts_with("b") && docs[1].ends_with(".md"),
        "{}",
        docs[1]
    );
    let avatar = rec["avatar"].as_str().unwrap().to_string();
    assert!(has_pb_shape(&avatar, "face", ".png"), "{avatar}");

    // File fields filter like other list fields.
    for (filter, n) in [
        ("docs:length = 2", 1),
        ("docs:length = 1", 0),
        ("avatar != ''", 1),
    ] {
        let q = format!("filter={}", enc(filter));
        assert_eq!(api.list("media", &q).await["totalItems"], n, "{filter}");
    }

    // The text file: its bytes, as an attachment; by collection name or id.
    let col_id = srv.su().get("/api/collections/media").await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    for col in ["media", col_id.as_str()] {
        let resp = get_raw(&srv, &file_url(col, &id, &docs[0]), &[]).await;
        assert_eq!(resp.status(), 200);
        let disposition = resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(disposition.starts_with("attachment"), "{disposition}");
        assert!(resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox"));
        assert_eq!(resp.bytes().await.unwrap().as_ref(), b"hello files");
    }

    // The image: inline unless ?download=1; ETag revalidation and ranges.
    let url = file_url("media", &id, &avatar);
    let resp = get_raw(&srv, &url, &[]).await;
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("inline"));
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let full = resp.bytes().await.unwrap();
    assert_eq!(full.as_ref(), png(200, 100).as_slice());
    let again = get_raw(&srv, &url, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), 304);
    let part = get_raw(&srv, &url, &[("range", "bytes=0-7")]).await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().as_ref(), &full[..8]);
    let dl = get_raw(&srv, &format!("{url}?download=1"), &[]).await;
    assert!(dl.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));

    // Thumbs: listed sizes and 100x100; anything else is the original.
    for (spec, dims) in [
        ("100x100", (100, 100)),
        ("50x50", (50, 50)),
        ("0x20", (40, 20)),
        ("70x70", (200, 100)),
    ] {
        let bytes = get_raw(&srv, &format!("{url}?thumb={spec}"), &[])
            .await
            .bytes()
            .await
            .unwrap();
        let img = image::load_from_memory(&bytes).expect("an image");
        assert_eq!((img.width(), img.height()), dims, "thumb {spec}");
    }
    // Cached on disk beside the file.
    let thumbs = srv
        .data_dir()
        .join("storage")
        .join(&col_id)
        .join(&id)
        .join(format!("thumbs_{avatar}"));
    assert!(thumbs.join(format!("50x50_{avatar}")).exists());

    // Unknown files, records and collections are 404s in the envelope.
    for path in [
        file_url("media", &id, "nope.txt"),
        file_url("media", "nope", &avatar),
        file_url("nope", &id, &avatar),
        file_url("media", &id, "..%2F..%2Fdata.db"),
    ] {
        let r = srv.guest().get(&path).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text);
    }
}

#[tokio::test]
async fn files_are_checked_like_pocketbase() {
    let srv = TestServer::start().await;
    media(&srv).await;
    let api = srv.guest();
    let msg = "Failed to create record.";

    // Larger than maxSize: refused while streaming, nothing kept.
    let form = Form::new().part("docs", file("big.txt", vec![b'x'; 101]));
    let r = send_form(&api, Method::POST, &records("media"), form).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.code("docs"), "validation_file_size_limit", "{}", r.text);

    // The MIME type is sniffed: a text file called .png is not an image.
    let form = Form::new().part(
        "avatar",
        file("fake.png", b"not really a png".to_vec())
            .mime_str("image/png")
            .unwrap(),
    );
    let r = send_form(&api, Method::POST, &records("media"), form).await;
    r.assert_field_error(msg, "avatar", "validation_invalid_mime_type");

    // More files than maxSelect.
    let mut form = Form::new();
    for i in 0..4 {
        form = form.part("docs", file(&format!("f{i}.txt"), b"x".to_vec()));
    }
    let r = send_form(&api, Method::POST, &records("media"), form).await;
    r.assert_field_error(msg, "docs", "validation_too_many_files");

    // A name is not a file: JSON can only keep files the record holds.
    let r = api
        .post(
            &records("media"),
            json!({"docs": ["passwd_0123456789.txt"]}),
        )
        .await;
    r.assert_field_error(msg, "docs", "validation_invalid_file");

    // A file part for a field that is not a file field.
    let form = Form::new().part("title", file("t.txt", b"x".to_vec()));
    let r = send_form(&api, Method::POST, &records("media"), form).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.code("title"), "validation_not_a_file_field", "{}", r.text);

    // None of the refused uploads is left anywhere in storage.
    let leftovers = storage_files(&srv);
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

async fn exists(srv: &TestServer, id: &str, name: &str) -> bool {
    match srv.guest().get(&file_url("media", id, name)).await.status {
        200 => true,
        404 => false,
        other => panic!("unexpected status {other}"),
    }
}

#[tokio::test]
async fn file_modifiers_replace_and_delete_remove_files_after_commit() {
    let srv = TestServer::start().await;
    media(&srv).await;
    let api = srv.guest();
    let names = |v: &Value| -> Vec<String> { serde_json::from_value(v["docs"].clone()).unwrap() };
    let form = Form::new().part("docs", file("a.txt", b"aaa".to_vec()));
    let rec = send_form(&api, Method::POST, &records("media"), form)
        .await
        .ok();
    let id = id_of(&rec);
    let a = names(&rec)[0].clone();

    // docs+ appends, +docs prepends: [z, a, c].
    let form = Form::new()
        .part("docs+", file("c.txt", b"ccc".to_vec()))
        .part("+docs", file("z.txt", b"zzz".to_vec()));
    let rec = send_form(&api, Method::PATCH, &record("media", &id), form)
        .await
        .ok();
    let now = names(&rec);
    assert_eq!(now.len(), 3, "{rec}");
    assert_eq!(now[1], a);
    assert!(
        now[0].starts_with("z") && now[2].starts_with("c"),
        "{now:?}"
    );
    let (z, c) = (now[0].clone(), now[2].clone());

    // One more would exceed maxSelect: refused, and the record keeps its files.
    let form = Form::new().part("docs+", file("d.txt", b"ddd".to_vec()));
    let r = send_form(&api, Method::PATCH, &record("media", &id), form).await;
    r.assert_field_error(
        "Failed to update record.",
        "docs",
        "validation_too_many_files",
    );
    assert!(exists(&srv, &id, &a).await);

    // docs- removes by name: gone from the record and from storage.
    let rec = api
        .patch(&record("media", &id), json!({"docs-": a}))
        .await
        .ok();
    assert_eq!(names(&rec), [z.clone(), c.clone()]);
    assert!(!exists(&srv, &id, &a).await);

    // A JSON list keeps only the names listed.
    let rec = api
        .patch(&record("media", &id), json!({"docs": [c.clone()]}))
        .await
        .ok();
    assert_eq!(names(&rec), std::slice::from_ref(&c));
    assert!(!exists(&srv, &id, &z).await);
    assert!(exists(&srv, &id, &c).await);

    // Plain uploads replace the list.
    let form = Form::new().part("docs", file("new.txt", b"new".to_vec()));
    let rec = send_form(&api, Method::PATCH, &record("media", &id), form)
        .await
        .ok();
    let fresh = names(&rec);
    assert_eq!(fresh.len(), 1);
    assert!(fresh[0].starts_with("new_"), "{fresh:?}");
    assert!(!exists(&srv, &id, &c).await);

    // A single file field: a new upload replaces (and removes) the old one.
    let form = Form::new().part("avatar", file("one.png", png(10, 10)));
    let rec = send_form(&api, Method::PATCH, &record("media", &id), form)
        .await
        .ok();
    let one = rec["avatar"].as_str().unwrap().to_string();
    let form = Form::new().part("avatar", file("two.png", png(10, 10)));
    let rec = send_form(&api, Method::PATCH, &record("media", &id), form)
        .await
        .ok();
    let two = rec["avatar"].as_str().unwrap().to_string();
    assert!(two.starts_with("two_"));
    assert!(!exists(&srv, &id, &one).await);

    // [] / null clear the fields and remove the files.
    let rec = api
        .patch(&record("media", &id), json!({"docs": [], "avatar": null}))
        .await
        .ok();
    assert_eq!(rec["docs"], json!([]));
    assert_eq!(rec["avatar"], json!(""));
    assert!(!exists(&srv, &id, &fresh[0]).await);
    assert!(!exists(&srv, &id, &two).await);

    // Deleting the record removes its folder.
    let form = Form::new().part("docs", file("last.txt", b"x".to_vec()));
    send_form(&api, Method::PATCH, &record("media", &id), form)
        .await
        .ok();
    let col_id = srv.su().get("/api/collections/media").await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = srv.data_dir().join("storage").join(&col_id).join(&id);
    assert!(dir.exists());
    assert_eq!(api.delete(&record("media", &id)).await.status, 204);
    assert!(!dir.exists(), "the record's files are removed with it");
}

#[tokio::test]
async fn protected_files_need_a_file_token_and_the_view_rule() {
    let srv = TestServer::start().await;
    srv.create_collection(json!({
        "name": "secrets",
        "listRule": "owner = @request.auth.id", "viewRule": "owner = @request.auth.id",
        "createRule": "@request.auth.id != ''", "updateRule": null, "deleteRule": null,
        "fields": [
            {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
            {"name": "doc", "type": "file", "maxSelect": 1, "protected": true},
        ],
    }))
    .await;
    let su = srv.su();
    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    for email in ["alice@example.com", "bob@example.com"] {
        su.create(
            "users",
            json!({"email": email, "password": "password-123", "passwordConfirm": "password-123"}),
        )
        .await;
        let (token, record) = crate::accounts::login_user(&srv, email, "password-123").await;
        tokens.push(token);
        ids.push(id_of(&record));
    }
    let alice = srv.client(Some(tokens[0].clone()));
    let bob = srv.client(Some(tokens[1].clone()));
    let alice_id = ids[0].clone();
    let form = Form::new()
        .text("owner", alice_id)
        .part("doc", file("plan.txt", b"top secret".to_vec()));
    let rec = send_form(&alice, Method::POST, &records("secrets"), form)
        .await
        .ok();
    let url = file_url("secrets", &id_of(&rec), rec["doc"].as_str().unwrap());

    // No token, or only an Authorization header: 404.
    assert_eq!(srv.guest().get(&url).await.status, 404);
    assert_eq!(alice.get(&url).await.status, 404);
    // Guests get no file token.
    let r = srv.guest().post("/api/files/token", json!({})).await;
    assert_eq!(r.status, 401, "{}", r.text);
    // Alice's file token passes the view rule; Bob's does not; forged tokens are guests.
    let token = |api: Api| async move {
        api.post("/api/files/token", json!({})).await.ok()["token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let alice_ft = token(alice.clone()).await;
    let bob_ft = token(bob.clone()).await;
    let su_ft = token(su.clone()).await;
    let resp = get_raw(&srv, &format!("{url}?token={alice_ft}"), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"top secret");
    assert_eq!(
        get_raw(&srv, &format!("{url}?token={su_ft}"), &[])
            .await
            .status(),
        200
    );
    assert_eq!(
        get_raw(&srv, &format!("{url}?token={bob_ft}"), &[])
            .await
            .status(),
        404
    );
    // An auth token is not a file token.
    let auth_token = tokens[0].clone();
    assert_eq!(
        get_raw(&srv, &format!("{url}?token={auth_token}"), &[])
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn users_have_an_avatar_and_orphans_are_swept_on_start() {
    let mut srv = TestServer::start().await;
    let users = srv.su().get("/api/collections/users").await.ok();
    let avatar = users["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "avatar")
        .cloned()
        .expect("users.avatar");
    assert_eq!(avatar["type"], "file");
    assert_eq!(avatar["maxSelect"], 1);

    media(&srv).await;
    let form = Form::new().part("docs", file("keep.txt", b"keep".to_vec()));
    let rec = send_form(&srv.guest(), Method::POST, &records("media"), form)
        .await
        .ok();
    let id = id_of(&rec);
    let kept = rec["docs"][0].as_str().unwrap().to_string();
    let col_id = srv.su().get("/api/collections/media").await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    // What a crash between placing and committing leaves: files no record names.
    let storage = srv.data_dir().join("storage");
    let rec_dir = storage.join(&col_id).join(&id);
    std::fs::write(rec_dir.join("orphan_0123456789.txt"), b"o").unwrap();
    let ghost = storage.join(&col_id).join("ghostrecord1234");
    std::fs::create_dir_all(&ghost).unwrap();
    std::fs::write(ghost.join("x_0123456789.txt"), b"x").unwrap();
    std::fs::write(storage.join(".tmp").join("up_half"), b"partial").unwrap();

    srv.restart().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while rec_dir.join("orphan_0123456789.txt").exists() || ghost.exists() {
        assert!(std::time::Instant::now() < deadline, "orphans not swept");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!storage.join(".tmp").join("up_half").exists());
    assert!(rec_dir.join(&kept).exists());
    assert_eq!(
        srv.guest().get(&file_url("media", &id, &kept)).await.status,
        200
    );
}

pub(crate) fn storage_files(srv: &TestServer) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![srv.data_dir().join("storage")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                found.push(e.path());
            }
        }
    }
    found
}

#[tokio::test]
async fn batch_uploads_as_the_js_sdk_sends_them_all_or_nothing() {
    let srv = TestServer::start().await;
    media(&srv).await;
    let api = srv.guest();
    let payload = json!({"requests": [
        {"method": "POST", "url": "/api/collections/media/records", "body": {"title": "one"}},
        {"method": "POST", "url": "/api/collections/media/records", "body": {"title": "two"}},
    ]});
    let form = Form::new()
        .text("@jsonPayload", payload.to_string())
        .part("requests.0.docs", file("a.txt", b"aaa".to_vec()))
        .part("requests.1.avatar", file("b.png", png(4, 4)));
    let r = send_form(&api, Method::POST, "/api/batch", form).await;
    let results = r.ok();
    let one = &results[0]["body"];
    let two = &results[1]["body"];
    assert_eq!(one["docs"].as_array().unwrap().len(), 1, "{results}");
    assert!(
        two["avatar"].as_str().unwrap().ends_with(".png"),
        "{results}"
    );
    assert!(exists(&srv, &id_of(two), two["avatar"].as_str().unwrap()).await);
    let before = storage_files(&srv).len();

    // The second request fails: nothing of the batch is stored, its uploads included.
    let payload = json!({"requests": [
        {"method": "POST", "url": "/api/collections/media/records", "body": {"title": "three"}},
        {"method": "POST", "url": "/api/collections/media/records", "body": {}},
    ]});
    let form = Form::new()
        .text("@jsonPayload", payload.to_string())
        .part("requests.0.docs", file("c.txt", b"ccc".to_vec()))
        .part("requests.1.avatar", file("fake.png", b"text".to_vec()));
    let r = send_form(&api, Method::POST, "/api/batch", form).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.body["data"]["requests"]["1"]["response"]["data"]["avatar"]["code"],
        "validation_invalid_mime_type",
        "{}",
        r.text
    );
    assert_eq!(storage_files(&srv).len(), before);
    assert_eq!(api.list("media", "").await["totalItems"], 2);
}

#[tokio::test]
async fn truncating_or_deleting_a_collection_removes_its_files() {
    let srv = TestServer::start().await;
    media(&srv).await;
    let col_id = srv.su().get("/api/collections/media").await.ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = srv.data_dir().join("storage").join(&col_id);
    let upload = || async {
        let form = Form::new().part("docs", file("a.txt", b"aaa".to_vec()));
        send_form(&srv.guest(), Method::POST, &records("media"), form)
            .await
            .ok()
    };
    upload().await;
    assert!(dir.exists());
    let r = srv.su().delete("/api/collections/media/truncate").await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(!dir.exists(), "truncate removes the files");
    upload().await;
    assert!(dir.exists());
    assert_eq!(srv.su().delete("/api/collections/media").await.status, 204);
    assert!(!dir.exists(), "deleting the collection removes its files");
}

#[tokio::test]
async fn uploads_to_an_unknown_collection_are_its_404() {
    let srv = TestServer::start().await;
    let form = Form::new().part("docs", file("a.txt", b"aaa".to_vec()));
    let r = send_form(&srv.guest(), Method::POST, &records("nope"), form).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert!(storage_files(&srv).is_empty());
}
