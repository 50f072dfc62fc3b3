//! `GET /api/typegen.ts` (superusers only, ETag = schema version) and `ferrobase typegen`:
//! `--url` (a running server, superuser login) and `--dir` (a stopped one) write the same text.

use std::process::{Command, Output};

use serde_json::json;

use crate::harness::{public_collection, Api, TestServer, SU_EMAIL, SU_PASSWORD};

/// `ferrobase typegen <args>` without the harness's `--dir` (for `--url`).
fn typegen(srv: &TestServer, args: &[&str]) -> Output {
    let cwd = srv.data_dir().parent().expect("data dir has a parent");
    Command::new(env!("CARGO_BIN_EXE_ferrobase"))
        .arg("typegen")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run ferrobase typegen")
}

fn stdout_of(out: &Output) -> String {
    assert!(
        out.status.success(),
        "typegen failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn with_posts(srv: &TestServer) {
    srv.create_collection(public_collection(
        "posts",
        json!([
            {"name": "title", "type": "text", "required": true},
            {"name": "status", "type": "select", "maxSelect": 1, "values": ["draft", "live"]},
            {"name": "views", "type": "number"},
            {"name": "author", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1}
        ]),
    ))
    .await;
}

#[tokio::test]
async fn endpoint_is_for_superusers_with_an_etag_by_schema_version() {
    let srv = TestServer::start().await;
    with_posts(&srv).await;

    srv.guest().get("/api/typegen.ts").await.assert_error(
        401,
        "The request requires valid record authorization token.",
    );
    let user = json!({"email": "u@example.com", "password": "user-password-1", "passwordConfirm": "user-password-1"});
    srv.guest().create("users", user).await;
    let login = srv
        .guest()
        .post(
            "/api/collections/users/auth-with-password",
            json!({"identity": "u@example.com", "password": "user-password-1"}),
        )
        .await
        .ok();
    let user_token = login["token"].as_str().unwrap().to_string();
    srv.client(Some(user_token))
        .get("/api/typegen.ts")
        .await
        .assert_error(
            403,
            "The authorized record is not allowed to perform this action.",
        );
    srv.client(Some("not-a-token".into()))
        .get("/api/typegen.ts")
        .await
        .assert_error(
            401,
            "The request requires valid record authorization token.",
        );

    let resp = srv
        .su()
        .request(reqwest::Method::GET, "/api/typegen.ts")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let header = |r: &reqwest::Response, h: &str| {
        r.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        header(&resp, "content-type"),
        "application/typescript; charset=utf-8"
    );
    let etag = header(&resp, "etag");
    let text = resp.text().await.unwrap();
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("// Schema version: "))
        .unwrap();
    assert_eq!(etag, format!("\"{version}\""));
    for want in [
        "export type PostsStatusOptions = 'draft' | 'live';",
        "  status: PostsStatusOptions | '';",
        "  'views+'?: number;",
        "  author?: UsersRecord;",
        "  posts_via_author?: PostsRecord[];",
        "  collection(idOrName: 'posts'): RecordService<PostsRecord>;",
    ] {
        assert!(text.contains(want), "{want} not in:\n{text}");
    }

    // Unchanged schema: 304 without a body.
    let again = Api::send(
        srv.su()
            .request(reqwest::Method::GET, "/api/typegen.ts")
            .header("if-none-match", &etag),
    )
    .await;
    assert_eq!(again.status, 304);
    assert!(again.text.is_empty());

    // A schema change is a new version, and the new collection is in it.
    srv.create_collection(public_collection(
        "tags",
        json!([{"name": "label", "type": "text"}]),
    ))
    .await;
    let changed = Api::send(
        srv.su()
            .request(reqwest::Method::GET, "/api/typegen.ts")
            .header("if-none-match", &etag),
    )
    .await;
    assert_eq!(changed.status, 200);
    assert!(changed.text.contains("export interface TagsRecord {"));
    assert!(!changed
        .text
        .contains(&format!("// Schema version: {version}\n")));
}

#[tokio::test]
async fn cli_url_and_dir_write_the_endpoints_text() {
    let mut srv = TestServer::start().await;
    with_posts(&srv).await;
    let served = srv.su().get("/api/typegen.ts").await;
    assert_eq!(served.status, 200);

    let url = srv.url("");
    let from_url = stdout_of(&typegen(
        &srv,
        &[
            "--url",
            &url,
            "--email",
            SU_EMAIL,
            "--password",
            SU_PASSWORD,
            "--out",
            "-",
        ],
    ));
    assert_eq!(from_url, served.text);

    // A wrong password is the server's refusal, not a file.
    let out = typegen(
        &srv,
        &[
            "--url",
            &url,
            "--email",
            SU_EMAIL,
            "--password",
            "wrong-password",
            "--out",
            "-",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("superuser login failed: 400"), "{err}");
    assert!(out.stdout.is_empty());

    // The data dir of a running server is refused, pointing at --url.
    let out = srv.cli_while_running(&["typegen", "--out", "-"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use") && err.contains("--url"), "{err}");

    // --url and --dir together are ambiguous.
    let out = srv.cli_while_running(&[
        "typegen",
        "--url",
        &url,
        "--email",
        SU_EMAIL,
        "--password",
        SU_PASSWORD,
    ]);
    assert_eq!(out.status.code(), Some(2));

    srv.stop().await;
    let from_dir = stdout_of(&srv.cli(&["typegen", "--out", "-"]));
    assert_eq!(from_dir, served.text);

    // --out writes the file and names the version on stderr.
    let file = srv.data_dir().with_file_name("types.ts");
    let file_arg = file.to_str().unwrap();
    let out = srv.cli(&["typegen", "--out", file_arg]);
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), served.text);
    let version = served
        .text
        .lines()
        .find_map(|l| l.strip_prefix("// Schema version: "))
        .unwrap();
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        note.starts_with("Wrote ") && note.contains(version),
        "{note}"
    );
    // The same schema again leaves the file alone (watchers do not rebuild).
    let out = srv.cli(&["typegen", "--out", file_arg]);
    assert!(out.status.success());
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(note.starts_with("Unchanged: "), "{note}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), served.text);
    // A file that cannot be written is an error, not a partial file.
    let out = srv.cli(&["typegen", "--out", "/nonexistent-dir/types.ts"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write"));
}

#[test]
fn generator_uses_nothing_but_the_schema() {
    // Pure: a list of `schema::Collection` in, TypeScript out (no store, HTTP or App), so the
    // CLI's two sources and the endpoint cannot drift apart.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/typegen");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        files += 1;
        for (i, used) in text.match_indices("crate::") {
            let module: String = text[i + used.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert_eq!(module, "schema", "{} uses crate::{module}", path.display());
        }
    }
    assert!(files >= 2, "read {}", dir.display());
}
