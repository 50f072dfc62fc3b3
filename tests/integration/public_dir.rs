//! `[server] public_dir` / `serve --public DIR`: static files at `/` (PocketBase's `pb_public`),
//! index.html for folders and client routes, content types, ETag/304, HEAD, the API and the
//! dashboard untouched, and nothing outside the folder reachable (raw requests, since HTTP
//! clients normalise `..` away).

use crate::harness::TestServer;
use reqwest::StatusCode;
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A public folder inside `root` (beside it: a file that must never be served).
fn site(root: &Path) -> std::path::PathBuf {
    let public = root.join("public");
    std::fs::create_dir_all(public.join("docs")).unwrap();
    std::fs::create_dir_all(public.join("empty")).unwrap();
    std::fs::create_dir_all(public.join(".well-known")).unwrap();
    std::fs::write(public.join("index.html"), "<h1>home</h1>").unwrap();
    std::fs::write(public.join("app.js"), "console.log(1)").unwrap();
    std::fs::write(public.join("style.css"), "h1{}").unwrap();
    std::fs::write(public.join("data.json"), "{}").unwrap();
    std::fs::write(public.join("logo.png"), [0x89, b'P', b'N', b'G']).unwrap();
    std::fs::write(public.join("my file.txt"), "spaced").unwrap();
    std::fs::write(public.join(".env"), "SECRET=1").unwrap();
    std::fs::write(public.join(".well-known/security.txt"), "Contact: x").unwrap();
    std::fs::write(public.join("docs/index.html"), "<h1>docs</h1>").unwrap();
    std::fs::write(root.join("secret.txt"), "outside").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(root.join("secret.txt"), public.join("leak.txt")).unwrap();
        std::os::unix::fs::symlink(public.join("app.js"), public.join("alias.js")).unwrap();
    }
    public
}

/// One raw HTTP/1.1 request (paths exactly as given); returns the status and the body.
async fn raw(addr: &str, method: &str, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |x| x.1).to_string();
    (status, body)
}

#[tokio::test]
async fn public_dir_serves_files_index_and_client_routes() {
    let tmp = tempfile::tempdir().unwrap();
    let public = site(tmp.path());
    let srv = TestServer::builder()
        .env("FERROBASE_SERVER_PUBLIC_DIR", public.to_str().unwrap())
        .start()
        .await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |p: &str| http.get(srv.url(p)).send();

    let home = get("/").await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    assert_eq!(home.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(home.headers()["cache-control"], "no-cache");
    assert_eq!(home.text().await.unwrap(), "<h1>home</h1>");

    for (path, ty, body) in [
        ("/index.html", "text/html; charset=utf-8", "<h1>home</h1>"),
        (
            "/app.js",
            "text/javascript; charset=utf-8",
            "console.log(1)",
        ),
        ("/style.css", "text/css; charset=utf-8", "h1{}"),
        ("/data.json", "application/json; charset=utf-8", "{}"),
        ("/my%20file.txt", "text/plain; charset=utf-8", "spaced"),
        ("/docs/", "text/html; charset=utf-8", "<h1>docs</h1>"),
        (
            "/.well-known/security.txt",
            "text/plain; charset=utf-8",
            "Contact: x",
        ),
        (
            "/alias.js",
            "text/javascript; charset=utf-8",
            "console.log(1)",
        ),
        // A client-side route (no extension) falls back to the top index.html.
        ("/todos/42", "text/html; charset=utf-8", "<h1>home</h1>"),
    ] {
        let r = get(path).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        // mime_guess names JavaScript application/javascript or text/javascript by version.
        let ct = ct.replace("application/javascript", "text/javascript");
        assert_eq!(ct, ty, "{path}");
        assert_eq!(r.text().await.unwrap(), body, "{path}");
    }
    let png = get("/logo.png").await.unwrap();
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(png.headers()["content-length"], "4");

    // A folder without its slash redirects (relative links keep working), query kept.
    let r = get("/docs?x=1").await.unwrap();
    assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(r.headers()["location"], "/docs/?x=1");

    // Missing files are the JSON 404; so is a folder without index.html.
    for path in ["/nope.js", "/docs/nope.css", "/empty/"] {
        let r = get(path).await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["status"], 404, "{path}");
    }

    // HEAD: the headers of a GET without the body.
    let (status, body) = raw(&srv.addr(), "HEAD", "/app.js").await;
    assert_eq!((status, body.as_str()), (200, ""));
    let head = http.head(srv.url("/app.js")).send().await.unwrap();
    assert_eq!(head.headers()["content-length"], "14");

    // ETag revalidation.
    let etag = get("/app.js").await.unwrap().headers()["etag"].clone();
    let again = http
        .get(srv.url("/app.js"))
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"], etag);
    std::fs::write(public.join("app.js"), "console.log(22)").unwrap();
    let changed = http
        .get(srv.url("/app.js"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(changed.text().await.unwrap(), "console.log(22)");

    // Other methods are not served.
    let post = http.post(srv.url("/app.js")).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::NOT_FOUND);

    // The API and the dashboard are unchanged: their own answers and 404s, never index.html.
    assert_eq!(srv.guest().get("/api/health").await.status, 200);
    let r = srv.guest().get("/api/nope").await;
    r.assert_error(404, "The requested resource wasn't found.");
    let r = srv.guest().get("/api/collections/nope/records").await;
    assert_eq!(r.status, 404);
    let dash = get("/_/").await.unwrap();
    assert_eq!(dash.status(), StatusCode::OK);
    assert!(dash.headers().contains_key("content-security-policy"));
}

#[tokio::test]
async fn public_dir_never_serves_outside_the_folder_or_hidden_files() {
    let tmp = tempfile::tempdir().unwrap();
    let public = site(tmp.path());
    let srv = TestServer::builder()
        .env("FERROBASE_SERVER_PUBLIC_DIR", public.to_str().unwrap())
        .start()
        .await;
    let addr = srv.addr();
    for path in [
        "/../secret.txt",
        "/docs/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/%2E%2E/secret.txt",
        "/docs%2f..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/%2fetc%2fpasswd",
        "//etc/hostname.txt",
        "/leak.txt",
        "/.env",
        "/%2eenv",
        "/secret.txt",
        "/app.js%00.html",
    ] {
        let (status, body) = raw(&addr, "GET", path).await;
        assert!(
            !body.contains("outside") && !body.contains("SECRET") && !body.contains("root:"),
            "{path} leaked: {body}"
        );
        assert!(
            status == 404 || status == 400,
            "{path}: status {status} {body}"
        );
    }
    // An absolute-looking path is just a path under the folder (here a client route: index.html).
    let (status, body) = raw(&addr, "GET", "//etc/passwd").await;
    assert_eq!((status, body.as_str()), (200, "<h1>home</h1>"));
    // The server is fine afterwards.
    let (status, body) = raw(&addr, "GET", "/app.js").await;
    assert_eq!((status, body.as_str()), (200, "console.log(1)"));
}

#[tokio::test]
async fn without_public_dir_root_is_a_404() {
    let srv = TestServer::start().await;
    for path in ["/", "/index.html", "/todos/42"] {
        let r = srv.guest().get(path).await;
        r.assert_error(404, "The requested resource wasn't found.");
    }
}
