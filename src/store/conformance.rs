//! The [`Store`] contract as executable checks, for every backend: atomicity, uniqueness under
//! concurrency, gapless change log, persistence, ordering, counts, reverse relations, trimming.
//!
//! Each check is an `async fn(dir, open)` taking a fresh directory and the backend's opener (an
//! opener called twice on one directory must see the same data: that is persistence).
//! `store_conformance!(open)` expands to one `#[tokio::test]` per check; a new backend adds one
//! module invoking it, as `sled` does at the bottom of this file.

use super::*;
use crate::ids::{CollectionId, RecordData, RecordId, Seq};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Opens (or reopens) a backend over `dir`.
pub(crate) type Open = fn(&Path, StoreOptions) -> Arc<dyn Store>;

/// One `#[tokio::test]` per conformance check, run against the backend `$open` opens.
macro_rules! store_conformance {
    ($open:expr) => {
        store_conformance!(@checks $open;
            commit_is_atomic_and_logged,
            concurrent_unique_creates_exactly_one_wins,
            partial_index_skips_empty_values,
            update_moves_index_entries_and_checks_version,
            data_and_seq_survive_restart,
            migrate_renames_drops_fills_and_rebuilds_indexes,
            subscribers_see_committed_events_in_order,
            migrate_swaps_renamed_fields,
            insertion_order_follows_creates_not_ids,
            counts_follow_creates_deletes_and_drops,
            range_scans_respect_bounds_and_types,
            reverse_relation_entries_follow_writes_and_block_deleting_a_referenced_record,
            trim_keeps_retention_and_never_moves_head,
            trim_drops_old_entries_but_never_past_a_consumer_cursor,
            bulk_writes_keep_the_log_near_its_count_retention,
            a_consumer_registered_with_a_bulk_write_keeps_its_entries,
            extreme_tuning_stays_correct,
            records_read_back_carry_the_id_of_their_key,
            metadata_pages_follow_key_order_within_the_prefix,
        );
    };
    (@checks $open:expr; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let dir = tempfile::tempdir().expect("tempdir");
                $crate::store::conformance::$check(dir.path(), $open).await;
            }
        )+
    };
}

/// `scan_meta_page` pages forward and backward within its prefix only, from an exclusive key.
pub(crate) async fn metadata_pages_follow_key_order_within_the_prefix(dir: &Path, open: Open) {
    let store = open(dir, StoreOptions::default());
    let mut ops: Vec<WriteOp> = (0..7)
        .map(|i| WriteOp::PutMeta {
            key: format!("p/{i:02}"),
            value: vec![i],
        })
        .collect();
    for key in ["o/zz", "p", "q/00", "p0"] {
        ops.push(WriteOp::PutMeta {
            key: key.into(),
            value: vec![99],
        });
    }
    store.commit(ops).await.expect("commit");
    let names = |page: Vec<(String, Vec<u8>)>| page.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    let page = |from: Option<&str>, reverse, limit| {
        names(
            store
                .scan_meta_page("p/", from, reverse, limit)
                .expect("scan"),
        )
    };
    assert_eq!(page(None, false, 3), ["p/00", "p/01", "p/02"]);
    assert_eq!(page(Some("p/02"), false, 3), ["p/03", "p/04", "p/05"]);
    assert_eq!(page(Some("p/05"), false, 9), ["p/06"]);
    assert_eq!(page(None, true, 2), ["p/06", "p/05"]);
    assert_eq!(
        page(Some("p/05"), true, 9),
        ["p/04", "p/03", "p/02", "p/01", "p/00"]
    );
    assert!(page(Some("p/00"), true, 9).is_empty());
    let (_, v) = &store.scan_meta_page("p/", None, false, 1).expect("scan")[0];
    assert_eq!(v, &vec![0]);
    store.shutdown().await;
}

fn coll() -> CollectionId {
    CollectionId::from("pbc_1")
}

fn specs() -> Arc<[IndexSpec]> {
    Arc::from(vec![
        IndexSpec {
            name: "idx_email".into(),
            unique: true,
            fields: vec!["email".into()],
            skip_empty: vec!["email".into()],
        },
        IndexSpec {
            name: "idx_cat".into(),
            unique: false,
            fields: vec!["cat".into()],
            skip_empty: vec![],
        },
    ])
}

fn data(id: &str, email: &str, cat: &str) -> RecordData {
    match json!({"id": id, "email": email, "cat": cat}) {
        serde_json::Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn put(id: &str, email: &str, cat: &str) -> WriteOp {
    WriteOp::PutRecord {
        collection: coll(),
        id: RecordId::from(id),
        data: data(id, email, cat),
        expect: Expect::Absent,
        indexes: specs(),
        relations: std::sync::Arc::from(Vec::new()),
    }
}

fn open_sled(dir: &Path, options: StoreOptions) -> Arc<dyn Store> {
    SledStore::open(dir, options).expect("open store")
}

mod sled {
    store_conformance!(super::open_sled);
}

pub(crate) async fn commit_is_atomic_and_logged(dir: &Path, open: Open) {
    let store = open(dir, StoreOptions::default());
    store
        .commit(vec![put("a", "a@x.io", "c1"), put("b", "b@x.io", "c1")])
        .await
        .expect("commit");
    // Second txn fails on its second op: nothing of it may land.
    let err = store
        .commit(vec![put("c", "c@x.io", "c2"), put("d", "a@x.io", "c2")])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unique { .. }));
    assert!(store
        .get_record(&coll(), &RecordId::from("c"))
        .expect("get")
        .is_none());
    assert_eq!(store.count_records(&coll()).expect("count"), 2);
    assert_eq!(store.head(), Seq(2));
    let log = store.changes_since(Seq(0), 10).expect("log");
    assert_eq!(log.iter().map(|e| e.seq.0).collect::<Vec<_>>(), vec![1, 2]);
    let ids: Vec<_> = store
        .scan_index(&coll(), "idx_cat", &[json!("c1")], false)
        .collect::<Result<Vec<_>, _>>()
        .expect("scan");
    assert_eq!(ids, vec![RecordId::from("a"), RecordId::from("b")]);
    store.shutdown().await;
}

pub(crate) async fn concurrent_unique_creates_exactly_one_wins(dir: &Path, open: Open) {
    let store = open(dir, StoreOptions::default());
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.commit(vec![put(&format!("r{i}"), "same@x.io", "c")])
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("join") {
            Ok(_) => ok += 1,
            Err(StoreError::Unique { index, .. }) => assert_eq!(index, "idx_email"),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 1);
    // Seqs stay gapless even though 49 transactions were rolled back.
    assert_eq!(store.head(), Seq(1));
    store.shutdown().await;
}

pub(crate) async fn partial_index_skips_empty_values(dir: &Path, open: Open) {
    let store = open(dir, StoreOptions::default());
    store
        .commit(vec![put("a", "", "c"), put("b", "", "c")])
        .await
        .expect("empty emails do not collide");
    store.shutdown().await;
}

pub(crate) async fn update_moves_index_entries_and_checks_version(dir: &Path, open: Open) {
    let store = open(dir, StoreOptions::default());
    store
        .commit(vec![put("a", "a@x.io", "c1")])
        .await
        .expect("create");
    let cur = store
        .get_record(&coll(), &RecordId::from("a"))
        .expect("get")
        .expect("exists");
    let update = |expect| WriteOp::PutRecord {
        collection: coll(),
        id: RecordId::from("a"),
        data: data("a", "new@x.io", "c2"),
        expect,
        indexes: specs(),
        relations: std::sync::Arc::from(Vec::new()),
    };
    store
        .commit(vec![update(Expect::Unchanged(cur.version.clone()))])
        .await
        .expect("update");
    let stale = store
        .commit(vec![update(Expect::Unchanged(cur.version))])
        .await
        .unwrap_err();
    assert!(matches!(stale, StoreError::Conflict { .. }));
    let c1: Vec<_> = store
        .scan_index(&coll(), "idx_cat", &[json!("c1")], false)
        .collect();
    let c2: Vec<_> = store
        .scan_index(&coll(), "idx_cat", &[json!("c2")], false)
        .collect();
    assert_eq!((c1.len(), c2.len()), (0, 1));
    assert_eq!(
        store
            .count_index(&coll(), "idx_cat", &[json!("c1")], true)
            .expect("count"),
        0
    );
    assert_eq!(
        store
            .count_index(&coll(), "idx_cat", &[json!("c2")], true)
            .expect("count"),
        1
    );
    // The old unique value is free again.
    store
        .commit(vec![put("b", "a@x.io", "c1")])
        .await
        .expect("old email reusable");
    let ev = store.changes_since(Seq(1), 1).expect("log").remove(0);
    assert_eq!(ev.action, Action::Update);
    assert_eq!(ev.before.expect("before")["email"], "a@x.io");
    store.shutdown().await;
}

pub(crate) async fn data_and_seq_survive_restart(dir: &Path, open: Open) {
    {
        let store = open(dir, StoreOptions::default());
        store
            .commit(vec![put("a", "a@x.io", "c")])
            .await
            .expect("create");
        store
            .commit(vec![WriteOp::PutMeta {
                key: "k".into(),
                value: b"v".to_vec(),
            }])
            .await
            .expect("meta");
        store.shutdown().await;
    }
    let store = open(dir, StoreOptions::default());
    assert_eq!(store.head(), Seq(1));
    assert!(store
        .get_record(&coll(), &RecordId::from("a"))
        .expect("get")
        .is_some());
    assert_eq!(store.get_meta("k").expect("meta"), Some(b"v".to_vec()));
    let ev = store
        .commit(vec![put("b", "b@x.io", "c")])
        .await
        .expect("create");
    assert_eq!(ev.events[0].seq, Seq(2));
    store.shutdown().await;
}

pub(crate) async fn migrate_renames_drops_fills_and_rebuilds_indexes(dir: &Path, open: Open) {
    let store = open(dir, StoreOptions::default());
    store
        .commit(vec![put("a", "a@x.io", "c1"), put("b", "b@x.io", "c1")])
        .await
        .expect("create");
    let new_specs: Arc<[IndexSpec]> = Arc::from(vec![IndexSpec {
        name: "idx_kind".into(),
        unique: false,
        fields: vec!["kind".into()],
        skip_empty: vec![],
    }]);
    store
        .commit(vec![WriteOp::Migrate {
            collection: coll(),
            renames: vec![("cat".into(), "kind".into()), ("id".into(), "id".into())],
            drops: vec!["email".into()],
            fills: vec![("n".into(), json!(0))],
            indexes: new_specs.clone(),
            relations: std::sync::Arc::from(Vec::new()),
        }])
        .await
        .expect("migrate");
    let a = store
        .get_record(&coll(), &RecordId::from("a"))
        .expect("get")
        .expect("a");
    assert_eq!(
        serde_json::Value::Object(a.record.into_fields()),
        json!({"id":"a","kind":"c1","n":0})
    );
    assert_eq!(
        store
            .scan_index(&coll(), "idx_kind", &[json!("c1")], false)
            .count(),
        2
    );
    assert_eq!(store.scan_index(&coll(), "idx_cat", &[], false).count(), 0);
    assert_eq!(
        store
            .count_index(&coll(), "idx_kind", &[json!("c1")], true)
            .expect("count"),
        2
    );
    assert_eq!(
        store
            .count_index(&coll(), "idx_cat", &[json!("c1")], true)
            .expect("count"),
        0
    );
    // A unique index that existing data violates is refused and nothing changes.
    let uniq: Arc<[IndexSpec]> = Arc::from(vec![IndexSpec {
        name: "u".into(),
        unique: true,
        fields: vec!["kind".into()],
        skip_empty: vec![],
    }]);
    let err = store
        .commit(vec![WriteOp::Migrate {
            collection: coll(),
            renames: vec![],
            drops: vec![],
            fills: vec![],
            indexes: uniq,
            relations: std::sync::Arc::from(Vec::new()),
        }])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unique { .. }));
    assert_eq!(
        store
            .scan_index(&coll(), "idx_kind", &[json!("c1")], false)
            .count(),
        2
    );
    store
        .commit(vec![WriteOp::DropData { collection: coll() }])
        .await
        .expect("drop");
    assert_eq!(store.count_records(&coll()).expect("count"), 0);
    assert_eq!(store.scan_index(&coll(), "idx_kind", &[], false).count(), 0);
    store.shutdown().await;
}

pub(crate) async fn subscribers_see_committed_events_in_order(dir: &Path, open: Open) {
    let store = open(dir, StoreOptions::default());
    let mut rx = store.subscribe();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.commit(vec![put(&format!("r{i}"), &format!("{i}@x.io"), "c")])
                .await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("commit");
    }
    let mut last = 0;
    for _ in 0..20 {
        let ev = rx.recv().await.expect("event");
        assert_eq!(ev.seq.0, last + 1);
        last = ev.seq.0;
    }
    store.shutdown().await;
}

pub(crate) async fn migrate_swaps_renamed_fields(dir: &Path, open: Open) {
    let store = open(dir, StoreOptions::default());
    store
        .commit(vec![put("a", "a@x.io", "c1")])
        .await
        .expect("create");
    store
        .commit(vec![WriteOp::Migrate {
            collection: coll(),
            renames: vec![
                ("email".into(), "cat".into()),
                ("cat".into(), "email".into()),
            ],
            drops: vec![],
            fills: vec![],
            indexes: Arc::from(Vec::new()),
            relations: std::sync::Arc::from(Vec::new()),
        }])
        .await
        .expect("migrate");
    let a = store
        .get_record(&coll(), &RecordId::from("a"))
        .expect("get")
        .expect("a");
    assert_eq!(
        serde_json::Value::Object(a.record.into_fields()),
        json!({"id":"a","cat":"a@x.io","email":"c1"})
    );
    store.shutdown().await;
}

pub(crate) async fn insertion_order_follows_creates_not_ids(dir: &Path, open: Open) {
    let store = open(dir, StoreOptions::default());
    for id in ["zz", "aa", "mm"] {
        store
            .commit(vec![put(id, &format!("{id}@x.io"), "c")])
            .await
            .expect("create");
    }
    let order: Vec<_> = store
        .scan_insertion_order(&coll(), false)
        .map(|r| r.expect("id").0)
        .collect();
    assert_eq!(order, vec!["zz", "aa", "mm"]);
    // Equal values in a non-unique index also list in insertion order.
    let by_cat: Vec<_> = store
        .scan_index(&coll(), "idx_cat", &[json!("c")], false)
        .map(|r| r.expect("id").0)
        .collect();
    assert_eq!(by_cat, vec!["zz", "aa", "mm"]);
    assert_eq!(
        store
            .count_index(&coll(), "idx_cat", &[json!("c")], false)
            .expect("count"),
        3
    );
    assert_eq!(
        store
            .count_index(&coll(), "idx_cat", &[json!("d")], true)
            .expect("count"),
        0
    );
    store
        .commit(vec![WriteOp::DeleteRecord {
            collection: coll(),
            id: RecordId::from("aa"),
            expect: Expect::Any,
            indexes: specs(),
            relations: std::sync::Arc::from(Vec::new()),
        }])
        .await
        .expect("delete");
    let order: Vec<_> = store
        .scan_insertion_order(&coll(), true)
        .map(|r| r.expect("id").0)
        .collect();
    assert_eq!(order, vec!["mm", "zz"]);
    assert_eq!(
        store.rowid(&coll(), &RecordId::from("zz")).expect("rowid"),
        Some(1)
    );
    store
        .commit(vec![WriteOp::DropData { collection: coll() }])
        .await
        .expect("drop");
    assert_eq!(store.scan_insertion_order(&coll(), false).count(), 0);
    store.shutdown().await;
}

pub(crate) async fn counts_follow_creates_deletes_and_drops(dir: &Path, open: Open) {
    let store = open(dir, StoreOptions::default());
    store
        .commit(vec![put("a", "a@x.io", "c"), put("b", "b@x.io", "c")])
        .await
        .expect("create");
    // A refused transaction changes nothing.
    store
        .commit(vec![put("c", "c@x.io", "c"), put("a", "dup@x.io", "c")])
        .await
        .unwrap_err();
    assert_eq!(store.count_records(&coll()).expect("count"), 2);
    store
        .commit(vec![WriteOp::DeleteRecord {
            collection: coll(),
            id: RecordId::from("a"),
            expect: Expect::Any,
            indexes: specs(),
            relations: std::sync::Arc::from(Vec::new()),
        }])
        .await
        .expect("delete");
    assert_eq!(store.count_records(&coll()).expect("count"), 1);
    store
        .commit(vec![WriteOp::DropData { collection: coll() }])
        .await
        .expect("drop");
    assert_eq!(store.count_records(&coll()).expect("count"), 0);
    store.shutdown().await;
}

pub(crate) async fn range_scans_respect_bounds_and_types(dir: &Path, open: Open) {
    use std::ops::Bound::{Excluded, Included, Unbounded};
    let store = open(dir, StoreOptions::default());
    let spec: Arc<[IndexSpec]> = Arc::from(vec![IndexSpec {
        name: "idx_n".into(),
        unique: false,
        fields: vec!["n".into()],
        skip_empty: vec![],
    }]);
    let rows = [
        ("a", json!(1)),
        ("b", json!(5)),
        ("c", json!(5)),
        ("d", json!(9)),
        ("e", json!(null)),
        ("f", json!("x")),
    ];
    for (id, n) in rows {
        let mut data = RecordData::new();
        data.insert("id".into(), json!(id));
        data.insert("n".into(), n);
        store
            .commit(vec![WriteOp::PutRecord {
                collection: coll(),
                id: RecordId::from(id),
                data,
                expect: Expect::Absent,
                indexes: spec.clone(),
                relations: std::sync::Arc::from(Vec::new()),
            }])
            .await
            .expect("create");
    }
    let scan = |lower, upper, reverse| -> Vec<String> {
        store
            .scan_index_range(&coll(), "idx_n", &[], &ValueRange { lower, upper }, reverse)
            .map(|r| r.expect("id").0)
            .collect()
    };
    assert_eq!(
        scan(Excluded(json!(1)), Unbounded, false),
        vec!["b", "c", "d"],
        "numbers only, no text"
    );
    assert_eq!(
        scan(Included(json!(1)), Excluded(json!(9)), false),
        vec!["a", "b", "c"]
    );
    assert_eq!(
        scan(Unbounded, Included(json!(5)), true),
        vec!["c", "b", "a"],
        "no nulls"
    );
    assert_eq!(
        scan(Excluded(json!(5)), Excluded(json!(5)), false),
        Vec::<String>::new()
    );
    assert_eq!(scan(Included(json!("a")), Unbounded, false), vec!["f"]);
    store.shutdown().await;
}

pub(crate) async fn reverse_relation_entries_follow_writes_and_block_deleting_a_referenced_record(
    dir: &Path,
    open: Open,
) {
    use crate::store::{Referrer, RelationSpec};
    let store = open(dir, StoreOptions::default());
    let (t, s) = (CollectionId::from("t"), CollectionId::from("s"));
    let rel: Arc<[RelationSpec]> = Arc::from(vec![RelationSpec {
        field: "f".into(),
        target: t.clone(),
    }]);
    let put = |c: &CollectionId, id: &str, f: Value, expect| WriteOp::PutRecord {
        collection: c.clone(),
        id: RecordId::from(id),
        data: serde_json::from_value(json!({"id": id, "f": f})).expect("data"),
        expect,
        indexes: Arc::from(Vec::new()),
        relations: if *c == s {
            rel.clone()
        } else {
            Arc::from(Vec::new())
        },
    };
    let del = |c: &CollectionId, id: &str| WriteOp::DeleteRecord {
        collection: c.clone(),
        id: RecordId::from(id),
        expect: Expect::Any,
        indexes: Arc::from(Vec::new()),
        relations: if *c == s {
            rel.clone()
        } else {
            Arc::from(Vec::new())
        },
    };
    let refs = |id: &str| -> Vec<Referrer> {
        store
            .scan_referrers(&t, &RecordId::from(id))
            .collect::<Result<_, _>>()
            .expect("scan")
    };
    store
        .commit(vec![
            put(&t, "a", json!(""), Expect::Absent),
            put(&t, "b", json!(""), Expect::Absent),
            put(&s, "x", json!(["a", "b"]), Expect::Absent),
        ])
        .await
        .expect("create");
    assert_eq!(refs("a").len(), 1);
    assert_eq!(refs("b")[0].id, RecordId::from("x"));
    // A delete that did not unlink its live referrer is refused (the cascade must re-plan).
    let err = store
        .commit(vec![del(&t, "a")])
        .await
        .expect_err("referenced");
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    // Unlinking in the same transaction lets it through and drops the entry.
    store
        .commit(vec![put(&s, "x", json!(["b"]), Expect::Any), del(&t, "a")])
        .await
        .expect("unlink + delete");
    assert!(refs("a").is_empty());
    assert_eq!(refs("b").len(), 1);
    store
        .commit(vec![del(&s, "x")])
        .await
        .expect("delete source");
    assert!(refs("b").is_empty());
}

pub(crate) async fn trim_keeps_retention_and_never_moves_head(dir: &Path, open: Open) {
    let keep = |entries, age| StoreOptions {
        retain_entries: entries,
        retain_age: age,
        ..StoreOptions::default()
    };
    {
        // Everything is younger than the default retention age: nothing goes.
        let store = open(dir, StoreOptions::default());
        for i in 0..5 {
            store
                .commit(vec![put(&format!("r{i}"), &format!("{i}@x.io"), "c")])
                .await
                .expect("create");
        }
        assert_eq!(store.trim_changelog().expect("trim"), 0);
        assert_eq!(store.oldest_retained().expect("oldest"), Some(Seq(1)));
        store.shutdown().await;
    }
    // Entries must be strictly older than the cutoff (millisecond timestamps).
    tokio::time::sleep(Duration::from_millis(5)).await;
    {
        let store = open(dir, keep(2, Duration::ZERO));
        assert_eq!(store.trim_changelog().expect("trim"), 3);
        assert_eq!(store.oldest_retained().expect("oldest"), Some(Seq(4)));
        let seqs: Vec<u64> = store
            .changes_since(Seq(0), 10)
            .expect("log")
            .iter()
            .map(|e| e.seq.0)
            .collect();
        assert_eq!(seqs, vec![4, 5], "the retained tail stays gapless");
        assert_eq!(store.trim_changelog().expect("trim again"), 0);
        assert_eq!(store.head(), Seq(5));
        store.shutdown().await;
    }
    {
        let store = open(dir, keep(0, Duration::ZERO));
        assert_eq!(store.trim_changelog().expect("trim all"), 2);
        assert_eq!(store.oldest_retained().expect("oldest"), None);
        assert_eq!(store.head(), Seq(5));
        store.shutdown().await;
    }
    // An empty log after a restart still continues the sequence.
    let store = open(dir, StoreOptions::default());
    assert_eq!(store.head(), Seq(5));
    let c = store
        .commit(vec![put("r5", "5@x.io", "c")])
        .await
        .expect("create");
    assert_eq!(c.events[0].seq, Seq(6));
    assert_eq!(store.count_records(&coll()).expect("count"), 6);
    store.shutdown().await;
}

pub(crate) async fn trim_drops_old_entries_but_never_past_a_consumer_cursor(
    dir: &Path,
    open: Open,
) {
    let opts = |entries, age| StoreOptions {
        retain_entries: entries,
        retain_age: age,
        ..StoreOptions::default()
    };
    let seqs = |store: &Arc<dyn Store>| -> Vec<u64> {
        store
            .changes_since(Seq(0), 100)
            .expect("log")
            .iter()
            .map(|e| e.seq.0)
            .collect()
    };
    {
        let store = open(dir, StoreOptions::default());
        for i in 0..6 {
            store
                .commit(vec![put(&format!("r{i}"), &format!("{i}@x.io"), "c")])
                .await
                .expect("create");
        }
        // A consumer has processed up to seq 2; another one up to 4.
        store
            .commit(vec![
                crate::store::cursor_op("hook-a", Seq(2)),
                crate::store::cursor_op("hook-b", Seq(4)),
            ])
            .await
            .expect("cursors");
        assert_eq!(
            crate::store::cursors(store.as_ref()).expect("cursors"),
            vec![
                ("hook-a".to_string(), Seq(2)),
                ("hook-b".to_string(), Seq(4))
            ]
        );
        store.shutdown().await;
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    {
        // The count bound alone would keep 1 entry; the slowest cursor holds 3..=6.
        let store = open(dir, opts(1, Duration::ZERO));
        assert_eq!(store.trim_changelog().expect("trim"), 2);
        assert_eq!(seqs(&store), vec![3, 4, 5, 6]);
        // The slow consumer catches up to 5: now the count bound applies.
        store
            .commit(vec![crate::store::cursor_op("hook-a", Seq(5))])
            .await
            .expect("advance");
        assert_eq!(store.trim_changelog().expect("trim"), 2);
        assert_eq!(
            seqs(&store),
            vec![5, 6],
            "hook-b (at 4) still needs 5 and 6"
        );
        store.shutdown().await;
    }
    {
        // An age bound drops entries however few there are, but not past a cursor either.
        let store = open(dir, opts(1_000, Duration::from_millis(1)));
        store
            .commit(vec![crate::store::cursor_op("hook-b", Seq(5))])
            .await
            .expect("advance");
        assert_eq!(store.trim_changelog().expect("trim"), 1);
        assert_eq!(seqs(&store), vec![6]);
        store
            .commit(vec![WriteOp::DeleteMeta {
                key: format!("{}hook-a", crate::store::META_CURSOR),
            }])
            .await
            .expect("drop consumer a");
        store
            .commit(vec![crate::store::cursor_op("hook-b", Seq(6))])
            .await
            .expect("advance");
        assert_eq!(store.trim_changelog().expect("trim"), 1);
        assert_eq!(store.oldest_retained().expect("oldest"), None);
        assert_eq!(store.head(), Seq(6));
        store.shutdown().await;
    }
}

/// Without waiting for a periodic trim: a bulk load leaves at most the retention plus a bounded
/// slack in the log, and a registered consumer still holds everything it has not processed.
pub(crate) async fn bulk_writes_keep_the_log_near_its_count_retention(dir: &Path, open: Open) {
    let opts = StoreOptions {
        retain_entries: 10,
        ..StoreOptions::default()
    };
    let load = |store: Arc<dyn Store>, from: usize| async move {
        for chunk in 0..30 {
            let txn = (0..100)
                .map(|i| {
                    let n = from + chunk * 100 + i;
                    put(&format!("r{n}"), &format!("{n}@x.io"), "c")
                })
                .collect();
            store.commit(txn).await.expect("bulk create");
        }
    };
    {
        let store = open(dir, opts.clone());
        load(store.clone(), 0).await;
        assert_eq!(store.head(), Seq(3000));
        let kept = store.changes_since(Seq(0), 10_000).expect("log");
        assert!(
            kept.len() <= 10 + 1024 + 100,
            "log holds {} entries after 3,000 writes with retention 10",
            kept.len()
        );
        let first = kept.first().expect("newest entries kept").seq.0;
        assert_eq!(kept.last().map(|e| e.seq), Some(Seq(3000)));
        assert_eq!(kept.len() as u64, 3000 - first + 1, "gapless");
        // A consumer registers at the head: from now on it holds the log.
        store
            .commit(vec![cursor_op("hook", Seq(3000))])
            .await
            .expect("cursor");
        load(store.clone(), 3000).await;
        let kept = store.changes_since(Seq(3000), 10_000).expect("log");
        assert_eq!(kept.len(), 3000, "nothing after the cursor went");
        assert_eq!(kept.first().map(|e| e.seq), Some(Seq(3001)));
        assert_eq!(store.count_records(&coll()).expect("count"), 6000);
        store.shutdown().await;
    }
}

/// A cursor written in the same transaction as writes that make a trim due holds the log.
pub(crate) async fn a_consumer_registered_with_a_bulk_write_keeps_its_entries(
    dir: &Path,
    open: Open,
) {
    let store = open(
        dir,
        StoreOptions {
            retain_entries: 10,
            ..StoreOptions::default()
        },
    );
    let mut txn = vec![cursor_op("early", Seq(0))];
    txn.extend((0..1200).map(|n| put(&format!("r{n}"), &format!("{n}@x.io"), "c")));
    store.commit(txn).await.expect("cursor + bulk create");
    assert_eq!(store.oldest_retained().expect("oldest"), Some(Seq(1)));
    assert_eq!(store.changes_since(Seq(0), 5_000).expect("log").len(), 1200);
    store.shutdown().await;
}

pub(crate) async fn extreme_tuning_stays_correct(dir: &Path, open: Open) {
    // Zero sizes are clamped to one: groups of one, a one-slot queue, one buffered event.
    let store = open(
        dir,
        StoreOptions {
            max_group: 0,
            queue: 0,
            event_buffer: 0,
            ..StoreOptions::default()
        },
    );
    let mut rx = store.subscribe();
    let mut tasks = Vec::new();
    for i in 0..30 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.commit(vec![put(&format!("r{i}"), &format!("{i}@x.io"), "c")])
                .await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("commit");
    }
    assert_eq!(store.head(), Seq(30));
    assert_eq!(store.count_records(&coll()).expect("count"), 30);
    let seqs: Vec<u64> = store
        .changes_since(Seq(0), 100)
        .expect("log")
        .iter()
        .map(|e| e.seq.0)
        .collect();
    assert_eq!(seqs, (1..=30).collect::<Vec<_>>());
    // A subscriber that fell behind is told so (and catches up from the log), never blocked.
    assert!(matches!(
        rx.recv().await,
        Err(tokio::sync::broadcast::error::RecvError::Lagged(_))
    ));
    // What a caller stages as the version of its write is what the store then holds.
    let a = store
        .get_record(&coll(), &RecordId::from("r0"))
        .expect("get")
        .expect("r0");
    assert_eq!(a.version, Version::of(a.record.fields()));
    store.shutdown().await;
}

pub(crate) async fn records_read_back_carry_the_id_of_their_key(dir: &Path, open: Open) {
    let store = open(dir, StoreOptions::default());
    store
        .commit(vec![put("b", "b@x.io", "c1"), put("a", "a@x.io", "c1")])
        .await
        .expect("commit");
    let a = store
        .get_record(&coll(), &RecordId::from("a"))
        .expect("get")
        .expect("a");
    assert_eq!(a.record.id(), &RecordId::from("a"));
    assert_eq!(a.record.fields(), &data("a", "a@x.io", "c1"));
    let scanned: Vec<(String, Value)> = store
        .scan_records(&coll())
        .map(|r| r.expect("scan").record)
        .map(|r| (r.id().0.clone(), r.fields()["id"].clone()))
        .collect();
    assert_eq!(
        scanned,
        vec![("a".into(), json!("a")), ("b".into(), json!("b"))]
    );
    store.shutdown().await;
}
