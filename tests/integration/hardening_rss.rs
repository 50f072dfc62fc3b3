//! Memory under load returns to a bound: resident memory after bursts of work stays within a
//! fixed budget above the idle baseline instead of growing with the number of threads that did
//! the work.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::TestServer;

/// A process's resident set (VmRSS) in kB.
fn rss_kb(srv: &TestServer) -> u64 {
    let pid = srv.pid().expect("server runs");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

/// Failed logins hash (argon2id, 19 MiB of working memory each) on blocking threads. Before,
/// every thread's malloc arena kept its freed 19 MiB block (glibc raises its mmap threshold to
/// the size of a freed mapping), so 16 concurrent login attempts grew RSS by ~40 MB per arena
/// touched, hundreds of MB in all, and never gave it back.
#[tokio::test]
async fn failed_logins_do_not_pin_memory_per_thread() {
    let srv = TestServer::builder()
        .env("FERROBASE_AUTH_MAX_FAILED_LOGINS_PER_IP", "100000")
        .start()
        .await;
    let guest = srv.guest();
    // One login first, so lazily built state (the decoy hash, the pool) is in the baseline.
    let r = guest
        .post(
            "/api/collections/users/auth-with-password",
            json!({"identity": "warm@example.com", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let baseline = rss_kb(&srv);

    let started = Instant::now();
    for round in 0..6 {
        let attempts = (0..16).map(|i| {
            let guest = srv.guest();
            async move {
                guest
                    .post(
                        "/api/collections/users/auth-with-password",
                        json!({"identity": format!("nobody{round}-{i}@example.com"),
                               "password": "wrong-password"}),
                    )
                    .await
            }
        });
        for r in futures_util::future::join_all(attempts).await {
            assert_eq!(r.status, 400, "{}", r.body);
            assert_eq!(r.message(), "Failed to authenticate.");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "took too long"
        );
    }
    let after = rss_kb(&srv);
    let grown_mb = after.saturating_sub(baseline) / 1024;
    println!("rss: baseline {baseline} kB, after 96 failed logins {after} kB (+{grown_mb} MB)");
    // Budget: the hasher's reused working memory (at most 4 × 19 MiB) plus slack.
    assert!(
        grown_mb < 112,
        "RSS grew by {grown_mb} MB over {baseline} kB after 96 failed logins"
    );
}
