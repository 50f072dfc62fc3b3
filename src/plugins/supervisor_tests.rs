use super::*;

#[test]
fn backoff_doubles_up_to_the_cap_and_resets() {
    let mut b = Backoff::new(Duration::from_millis(200), Duration::from_secs(1));
    let delays: Vec<u128> = (0..5).map(|_| b.next_delay().as_millis()).collect();
    assert_eq!(delays, [200, 400, 800, 1000, 1000]);
    b.reset();
    assert_eq!(b.next_delay(), Duration::from_millis(200));
    let mut defaults = Backoff::new(BACKOFF_INITIAL, BACKOFF_MAX);
    let last = (0..20).map(|_| defaults.next_delay()).last();
    assert_eq!(last, Some(BACKOFF_MAX));
}

fn launch(dir: &std::path::Path, script: &str) -> Launch {
    Launch {
        plugin: "t".into(),
        dir: dir.to_path_buf(),
        command: vec!["sh".into(), "-c".into(), script.into()],
        env: BTreeMap::from([("GREETING".into(), "hi".into())]),
        grace: Duration::from_secs(5),
        shim: None,
    }
}

/// Polls `f` until it holds (the supervisor works in the background); panics after 20 s.
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

/// Whether `pid` is a live process (a zombie waiting for its reaper is not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

#[tokio::test]
async fn a_crashing_sidecar_is_restarted_and_reports_its_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Runs in the plugin folder with its env; crashes on the first run only.
    let script = "echo $GREETING >> runs; [ $(wc -l < runs) -ge 2 ] && exec sleep 1000; exit 3";
    let sidecar = Sidecar::spawn(launch(dir.path(), script));
    // `Running` is reported at spawn, before the shell has written its line: wait for both.
    let runs_file = dir.path().join("runs");
    eventually("restarted once and running", || {
        let s = sidecar.state();
        let lines = std::fs::read_to_string(&runs_file).map_or(0, |r| r.lines().count());
        s.restarts == 1 && s.status == Status::Running && lines >= 2
    })
    .await;
    let s = sidecar.state();
    assert_eq!(s.last_error.as_deref(), Some("exited with exit status: 3"));
    assert!(s.pid.is_some());
    let runs = std::fs::read_to_string(dir.path().join("runs")).expect("runs file");
    assert_eq!(runs, "hi\nhi\n");
    sidecar.stop().await;
    let s = sidecar.state();
    assert_eq!((s.status, s.pid), (Status::Stopped, None));
}

#[tokio::test]
async fn stop_ends_the_whole_process_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A grandchild that would outlive its parent if only the parent were signalled.
    let script = "sleep 1000 & echo $! > grandchild; wait";
    let sidecar = Sidecar::spawn(launch(dir.path(), script));
    let file = dir.path().join("grandchild");
    eventually("grandchild started", || {
        std::fs::read_to_string(&file).is_ok_and(|s| s.ends_with('\n'))
    })
    .await;
    let pid: i32 = std::fs::read_to_string(&file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    assert!(alive(pid));
    let parent = sidecar.state().pid.expect("running");
    sidecar.stop().await;
    assert_eq!(sidecar.state().status, Status::Stopped);
    // Reaped by init once killed; poll until the kernel forgets it.
    eventually("grandchild gone", || !alive(pid)).await;
    assert!(!alive(i32::try_from(parent).expect("pid")));
}

#[tokio::test]
async fn a_program_that_cannot_start_is_crashed_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut l = launch(dir.path(), "");
    l.command = vec!["/nonexistent/ferrobase-sidecar".into()];
    let sidecar = Sidecar::spawn(l);
    eventually("spawn failure recorded", || {
        sidecar.state().last_error.is_some()
    })
    .await;
    let s = sidecar.state();
    assert_eq!(s.status, Status::Crashed);
    assert!(
        s.last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("cannot start \"/nonexistent/ferrobase-sidecar\"")),
        "{s:?}"
    );
    sidecar.stop().await;
    assert_eq!(sidecar.state().status, Status::Stopped);
}
