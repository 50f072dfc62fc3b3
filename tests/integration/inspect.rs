//! `ferrobase inspect` measures the data dir a stopped server left, and refuses one in use.

use serde_json::{json, Value};

use crate::harness::{public_collection, TestServer};

fn stdout_of(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "inspect failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn kind<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == name)
        .unwrap_or_else(|| panic!("kind {name} missing: {report}"))
}

#[tokio::test]
async fn inspect_reports_kinds_collections_and_disk_of_a_stopped_server() {
    let mut srv = TestServer::start().await;
    let mut notes = public_collection(
        "notes",
        json!([{"name": "cat", "type": "text"}, {"name": "body", "type": "text"}]),
    );
    notes["indexes"] = json!(["CREATE INDEX idx_cat ON notes (cat)"]);
    let notes_id = srv.create_collection(notes).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let api = srv.su();
    for i in 0..25 {
        api.create(
            "notes",
            json!({"cat": format!("c{}", i % 3), "body": "b".repeat(200)}),
        )
        .await;
    }
    srv.stop().await;

    let report: Value = serde_json::from_str(&stdout_of(&srv.cli(&["inspect", "--json"]))).unwrap();
    let cols = report["collections"].as_array().unwrap();
    let col = |name: &str| {
        cols.iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("collection {name} missing: {report}"))
    };
    let notes = col("notes");
    assert_eq!(notes["collection"], notes_id.as_str());
    assert_eq!(notes["entries"], 25);
    // 200-byte bodies: every stored note is bigger than its body.
    assert!(notes["value_bytes"].as_u64().unwrap() > 25 * 200, "{notes}");
    assert_eq!(col("_superusers")["entries"], 1);

    let records = kind(&report, "records");
    assert_eq!(records["prefix"], "r/");
    assert_eq!(records["entries"], 26, "25 notes + the superuser");
    assert_eq!(
        records["bytes"],
        cols.iter()
            .map(|c| c["bytes"].as_u64().unwrap())
            .sum::<u64>()
    );
    assert!(kind(&report, "indexes")["entries"].as_u64().unwrap() >= 25);
    assert!(kind(&report, "metadata")["entries"].as_u64().unwrap() >= 3);
    let kinds = report["kinds"].as_array().unwrap();
    let sum = |f: &str| kinds.iter().map(|k| k[f].as_u64().unwrap()).sum::<u64>();
    assert_eq!(
        sum("entries"),
        report["logical"]["entries"].as_u64().unwrap()
    );
    assert_eq!(sum("bytes"), report["logical"]["bytes"].as_u64().unwrap());

    let disk = &report["disk"];
    assert!(disk["sled_bytes"].as_u64().unwrap() > 0, "{disk}");
    assert!(disk["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["name"] == "data.sled"));
    assert!(report["sled_overhead"].as_f64().unwrap() > 0.0);

    let text = stdout_of(&srv.cli(&["inspect"]));
    assert!(text.contains(&format!("notes ({notes_id})")), "{text}");
    assert!(
        text.contains("change log") && text.contains("sled overhead:"),
        "{text}"
    );

    // Inspecting changed nothing the server sees.
    srv.start_again().await;
    assert_eq!(srv.su().list("notes", "perPage=1").await["totalItems"], 25);
}

#[tokio::test]
async fn inspect_refuses_a_data_dir_a_running_server_holds() {
    let srv = TestServer::start().await;
    let out = srv.cli_while_running(&["inspect"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use"), "{err}");
    assert!(out.stdout.is_empty());
    // The server is unaffected.
    assert_eq!(srv.su().get("/api/health").await.status, 200);
}
