//! Architecture: the top-level modules of `src/` depend on each other in one direction
//! (`store ← schema ← query ← records ← {accounts, realtime, collections, webhooks} ← api ← serve`, with `auth` as a
//! leaf records may use), and the services composed by `App` behave as before: compiled rules
//! follow schema changes at once, and a token resolves to its caller on every path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::json;

use crate::accounts::{user, PASSWORD};
use crate::harness::{records, TestServer};

/// `crate::<module>` uses between top-level modules of `src/`, read like `modgraph`: non-test
/// files, up to the first `#[cfg(test)]`, comment lines skipped.
fn module_uses() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut mods = BTreeSet::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name != "main.rs" && name != "lib.rs" {
            mods.insert(name.trim_end_matches(".rs").to_string());
        }
    }
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if !rel.ends_with(".rs") || rel.contains("test") {
                continue;
            }
            let top = rel
                .split('/')
                .next()
                .unwrap()
                .trim_end_matches(".rs")
                .to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines().map(str::trim) {
                if line.starts_with("#[cfg(test)]") {
                    break;
                }
                if line.starts_with("//") {
                    continue;
                }
                for (i, _) in line.match_indices("crate::") {
                    let rest = &line[i + "crate::".len()..];
                    let end = rest
                        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .unwrap_or(rest.len());
                    let used = &rest[..end];
                    if mods.contains(used) && used != top {
                        uses.entry(top.clone())
                            .or_default()
                            .insert(used.to_string());
                    }
                }
            }
        }
    }
    uses
}

/// Modules `from` reaches through any chain of uses.
fn reachable(uses: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(m) = todo.pop() {
        for next in uses.get(&m).into_iter().flatten() {
            if seen.insert(next.clone()) {
                todo.push(next.clone());
            }
        }
    }
    seen
}

#[test]
fn top_level_modules_have_no_cycles_and_point_one_way() {
    let uses = module_uses();
    let cycles: Vec<&String> = uses
        .keys()
        .filter(|m| reachable(&uses, m).contains(*m))
        .collect();
    assert!(
        cycles.is_empty(),
        "modules on a cycle: {cycles:?}; uses: {uses:#?}"
    );

    // Lower layers never reach the ones above them.
    let above = |m: &str| -> &[&str] {
        match m {
            "store" => &[
                "schema",
                "query",
                "records",
                "auth",
                "accounts",
                "realtime",
                "collections",
                "webhooks",
                "app",
            ],
            "schema" => &[
                "query",
                "records",
                "auth",
                "accounts",
                "realtime",
                "collections",
                "webhooks",
                "app",
            ],
            "auth" => &[
                "records",
                "accounts",
                "realtime",
                "collections",
                "webhooks",
                "api",
                "app",
            ],
            "query" => &[
                "records",
                "accounts",
                "realtime",
                "collections",
                "webhooks",
                "app",
            ],
            "records" => &[
                "accounts",
                "realtime",
                "collections",
                "webhooks",
                "api",
                "app",
                "serve",
            ],
            "accounts" | "realtime" | "collections" | "webhooks" | "logs" => {
                &["api", "app", "serve"]
            }
            // Operations leaves: settings sit beside auth (mail, batch, logs and health read
            // them); metrics is recorded into from the store up.
            "settings" => &[
                "query",
                "records",
                "accounts",
                "realtime",
                "collections",
                "webhooks",
                "logs",
                "api",
                "app",
                "serve",
            ],
            "metrics" => &[
                "store", "schema", "query", "records", "auth", "settings", "logs", "api", "app",
            ],
            _ => &[],
        }
    };
    for m in [
        "store",
        "schema",
        "auth",
        "query",
        "records",
        "accounts",
        "realtime",
        "collections",
        "webhooks",
        "settings",
        "logs",
        "metrics",
    ] {
        let reached = reachable(&uses, m);
        let wrong: Vec<&&str> = above(m).iter().filter(|a| reached.contains(**a)).collect();
        assert!(wrong.is_empty(), "{m} reaches {wrong:?}: {:?}", uses.get(m));
    }
}

/// The compiled-rules cache lives in `query` now, keyed by schema version: every rule change is
/// seen by the very next request, on lists, views and the account flows' authRule.
#[tokio::test]
async fn rule_changes_apply_to_the_next_request() {
    let srv = TestServer::start().await;
    let su = srv.su();
    srv.create_collection(json!({
        "name": "notes", "listRule": "", "viewRule": "",
        "fields": [{"name": "title", "type": "text"}],
    }))
    .await;
    for t in ["a", "b"] {
        su.create("notes", json!({"title": t})).await;
    }
    let guest = srv.guest();
    assert_eq!(guest.list("notes", "").await["totalItems"], json!(2));

    su.patch("/api/collections/notes", json!({"listRule": "title = 'a'"}))
        .await
        .ok();
    assert_eq!(guest.list("notes", "").await["totalItems"], json!(1));

    su.patch("/api/collections/notes", json!({"listRule": null}))
        .await
        .ok();
    let r = guest.get(&records("notes")).await;
    assert_eq!(r.status, 403, "{:?}", r.body);

    // authRule: a failing rule refuses the login (403), a passing one lets it through.
    let (_, _) = user(&srv, "ann@example.com", "Ann").await;
    su.patch(
        "/api/collections/users",
        json!({"authRule": "name = 'Bob'"}),
    )
    .await
    .ok();
    let login = json!({"identity": "ann@example.com", "password": PASSWORD});
    let r = guest
        .post("/api/collections/users/auth-with-password", login.clone())
        .await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    su.patch(
        "/api/collections/users",
        json!({"authRule": "name = 'Ann'"}),
    )
    .await
    .ok();
    let r = guest
        .post("/api/collections/users/auth-with-password", login)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["token"].as_str().is_some_and(|t| !t.is_empty()));
}
