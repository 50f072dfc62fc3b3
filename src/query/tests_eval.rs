//! The §4 semantics table of the PocketBase reference, evaluated against a real store.

use super::tests_fixture::Fixture;
use super::{Forbidden, Mode, QueryError, RequestInfo};
use crate::store::Store;
use serde_json::json;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn fixture() -> Fixture {
    rt().block_on(Fixture::new())
}

#[track_caller]
fn check(fx: &Fixture, cases: &[(&str, &[&str])]) {
    for (src, want) in cases {
        assert_eq!(fx.posts(src), *want, "filter {src}");
    }
}

#[test]
fn operators_literals_and_precedence() {
    let fx = fixture();
    check(
        &fx,
        &[
            ("views >= 10", &["p1"]),
            ("views>5&&published=true", &["p1"]),
            ("title = 'Hello World'", &["p1"]),
            ("views = -3.5", &["p4"]),
            ("views != 10 && views <= 3 && views > 0", &["p2"]),
            ("views > 5 || views < 0 && published = false", &["p1"]),
            (
                "(views > 5 || views < 0) && published = true",
                &["p1", "p4"],
            ),
            ("1 = 1", &["p1", "p2", "p3", "p4"]),
            ("views > 5 // a comment", &["p1"]),
            ("// first line\nviews > 5", &["p1"]),
            ("published = true", &["p1", "p4"]),
            ("published = 1", &["p1", "p4"]),
            ("published = \"true\"", &[]),
            ("views = \"10\"", &["p1"]),
            ("title = 'it\\'s \"q\" 50%'", &["p3"]),
            ("title = \"it's \\\"q\\\" 50%\"", &["p3"]),
            ("views ?= 3", &["p2"]),
            ("views ?> 3", &["p1"]),
        ],
    );
}

#[test]
fn like_semantics() {
    let fx = fixture();
    check(
        &fx,
        &[
            ("title ~ \"rust\"", &["p2"]),
            ("title !~ \"rust\"", &["p1", "p3", "p4"]),
            ("title ~ \"Hel%\"", &["p1"]),
            ("title ~ \"%sure\"", &[]),
            ("title ~ \"50%\"", &[]),
            ("title ~ \"50\\%\"", &["p3"]),
            ("title ~ \"%50\\%\"", &["p3"]),
            ("title ~ \"H_llo\"", &[]),
            ("title ~ \"sure_\"", &["p4"]),
            ("title ?~ \"WORLD\"", &["p1"]),
            // The lexer keeps unknown escapes, LIKE keeps a backslash before other characters.
            ("title ~ \"\\h\"", &[]),
            ("title ~ \"W\\orld\"", &[]),
            ("title ~ \"H_llo%\"", &["p1"]),
        ],
    );
}

#[test]
fn empty_and_null_table() {
    let fx = fixture();
    check(
        &fx,
        &[
            ("views = null", &[]),
            ("views = \"\"", &[]),
            ("views = 0", &["p3"]),
            ("pubdate = \"\"", &["p2", "p4"]),
            ("pubdate = null", &["p2", "p4"]),
            ("pubdate != \"\"", &["p1", "p3"]),
            ("pubdate < @now", &["p1", "p2", "p4"]),
            ("author = \"\"", &["p3"]),
            ("author = null", &["p3"]),
            ("meta = null", &["p3"]),
            ("meta = \"\"", &[]),
            ("meta.missing = null", &["p1", "p2", "p3", "p4"]),
            ("tags = \"\"", &[]),
            ("tags = \"go\"", &[]),
            ("tags ?= \"go\"", &[]),
            ("cats ?= \"catnews00000000\"", &[]),
            ("tags = \"[\\\"rust\\\"]\"", &["p1"]),
            ("tags = \"[]\"", &["p3"]),
            ("tags ~ \"go\"", &["p2"]),
            ("tags:each ?= \"go\"", &["p2"]),
            ("tags:each = \"rust\"", &["p1"]),
            ("cats.id ?= \"catnews00000000\"", &["p1", "p4"]),
            ("cats:each ?= \"catnews00000000\"", &["p1", "p4"]),
            ("tags:length = 2", &["p2"]),
            ("cats:length = 0", &["p3"]),
        ],
    );
}

#[test]
fn paths_json_relations_back_relations() {
    let fx = fixture();
    check(
        &fx,
        &[
            ("meta.lang = \"en\"", &["p1"]),
            ("meta.score > 6", &["p1"]),
            ("meta.arr.0 = 1", &["p1"]),
            ("meta.arr:length = 2", &[]),
            ("meta.lang:lower = \"en\"", &[]),
            ("title:lower = \"hello world\"", &["p1"]),
            ("cats.name = \"news\"", &["p4"]),
            ("cats.name != \"news\"", &["p2", "p3"]),
            ("cats.name ?= \"news\"", &["p1", "p4"]),
            ("author.name = \"Alice\"", &["p1", "p4"]),
            ("author.email ~ \"b@\"", &["p2"]),
            ("comments_via_post.text ?= \"nice\"", &["p1", "p2"]),
            ("comments_via_post.text = \"nice\"", &["p2"]),
            ("comments_via_post.author.name ?= \"Bob\"", &["p1"]),
            ("author.posts_via_author.title ?= \"Rust is fast\"", &["p2"]),
            ("strftime(\"%Y\", pubdate) = \"2024\"", &["p1"]),
            (
                "strftime('%Y-%m', pubdate) = strftime('%Y-%m', '2030-05-01')",
                &["p3"],
            ),
            ("@collection.comments.post ?= id", &["p1", "p2"]),
            (
                "@collection.comments:c.post ?= id && @collection.comments:c.text ?= \"agree\"",
                &["p1"],
            ),
            // Without `?` an aliased join must hold for EVERY comment (PocketBase), and the
            // comments belong to two posts. (These two cases used to expect p1 / p1+p2.)
            (
                "@collection.comments:c.post = id && @collection.comments:c.author = author",
                &[],
            ),
            (
                "@collection.comments:c.post = id && @collection.comments:c.text = \"nice\"",
                &[],
            ),
        ],
    );
    let err = fx.compile_as(
        "posts",
        "comments_via_post:length = 1",
        true,
        Mode::ClientFilter,
    );
    assert!(
        matches!(err, Err(QueryError::Invalid(e)) if e.message == "unknown field \"comments_via_post\" at 0")
    );
}

#[test]
fn both_sides_of_an_any_comparison_share_the_joined_row() {
    let fx = fixture();
    // PocketBase compares `cats.name` with itself within one joined category row.
    assert_eq!(fx.posts("cats.name ?!~ cats.name"), Vec::<String>::new());
    assert_eq!(fx.posts("cats.name ?!= cats.name"), Vec::<String>::new());
    // Every row equals itself (a post without categories: its NULL row, coalesced to '').
    assert_eq!(fx.posts("cats.name ?= cats.name"), fx.posts("id != ''"));
}

#[test]
fn hidden_emails_never_match_client_filters() {
    let fx = fixture();
    let none = Vec::<String>::new();
    let guest = |src: &str| fx.ids_as("users", src, false, RequestInfo::default());
    for src in [
        "email = \"a@x.io\"",
        "email != \"zz\"",
        "email:lower ~ \"x.io\"",
        "email = \"\" || email = null",
    ] {
        assert_eq!(guest(src), none, "{src}");
    }
    assert_eq!(
        fx.ids_as("users", "email = \"a@x.io\"", true, RequestInfo::default()),
        ["alice0000000000"]
    );
    // Alice sees her own email only; through a relation hop too.
    let users = fx.schema.get("users").unwrap().clone();
    let alice = fx
        .store
        .get_record(&users.id, &"alice0000000000".into())
        .unwrap()
        .unwrap()
        .record;
    let as_alice = RequestInfo {
        auth: Some(alice),
        auth_collection: Some(users),
        ..RequestInfo::default()
    };
    assert_eq!(
        fx.ids_as("users", "email ~ \"x.io\"", false, as_alice.clone()),
        ["alice0000000000"]
    );
    assert_eq!(
        fx.ids_as("posts", "author.email ~ \"x.io\"", false, as_alice),
        ["p1", "p4"]
    );
    assert_eq!(guest("email ~ \"x.io\""), none);
}

#[test]
fn guests_are_restricted() {
    let fx = fixture();
    let guest = |src: &str| fx.ids_as("posts", src, false, RequestInfo::default());
    // cats.listRule is null: the joined records are invisible, users.listRule is "": visible.
    assert_eq!(guest("cats.name ?= \"news\""), Vec::<String>::new());
    assert_eq!(guest("author.name = \"Alice\""), ["p1", "p4"]);
    for (src, msg) in [
        (
            "secret = \"s1\"",
            "the field \"secret\" cannot be used in a filter (at 0)",
        ),
        (
            "author.tokenKey = \"\"",
            "the field \"tokenKey\" cannot be used in a filter (at 0)",
        ),
        ("nope = 1", "unknown field \"nope\" at 0"),
        ("title = Hello", "unknown field \"Hello\" at 8"),
    ] {
        match fx.compile_as("posts", src, false, Mode::ClientFilter) {
            Err(QueryError::Invalid(e)) => assert_eq!(e.message, msg, "{src}"),
            other => panic!("{src}: {other:?}"),
        }
    }
    // `email` compiles; hidden emails are withheld per record at evaluation.
    assert!(fx
        .compile_as("posts", "author.email ~ \"x\"", false, Mode::ClientFilter)
        .is_ok());
    let forbidden = |src: &str| fx.compile_as("posts", src, false, Mode::ClientFilter).err();
    assert_eq!(
        forbidden("@collection.comments.post ?= id"),
        Some(QueryError::Forbidden(Forbidden::Collection))
    );
    assert_eq!(
        forbidden("@request.auth.id != \"\""),
        Some(QueryError::Forbidden(Forbidden::Request))
    );
    // Rules may use both, and the superuser may filter on hidden fields.
    assert!(fx
        .compile_as(
            "posts",
            "@request.auth.id != \"\" && @collection.cats.id ?= cats.id",
            false,
            Mode::Rule
        )
        .is_ok());
    assert_eq!(fx.posts("secret = \"s1\""), ["p1"]);
}

#[test]
fn request_values() {
    let fx = fixture();
    let users = fx.schema.get("users").unwrap().clone();
    let alice = crate::ids::Record::new(
        "alice0000000000".into(),
        json!({"name": "Alice"}).as_object().cloned().unwrap(),
    );
    let rule = |src: &str, req: RequestInfo| {
        let c = fx.compile_as("posts", src, false, Mode::Rule).unwrap();
        let env = fx.env(req);
        let col = fx.schema.get("posts").unwrap();
        use crate::store::Store;
        fx.store
            .scan_records(&col.id)
            .map(|r| r.unwrap().record)
            .filter(|r| c.matches(r.fields(), &env).unwrap())
            .map(|r| r.id().0.clone())
            .collect::<Vec<_>>()
    };
    // The documented footgun: a guest's @request.auth.id is "" and equals an empty author.
    assert_eq!(
        rule("author = @request.auth.id", RequestInfo::default()),
        ["p3"]
    );
    let authed = RequestInfo {
        auth: Some(alice),
        auth_collection: Some(users),
        method: "GET".into(),
        ..Default::default()
    };
    assert_eq!(
        rule("author = @request.auth.id", authed.clone()),
        ["p1", "p4"]
    );
    assert_eq!(
        rule(
            "@request.auth.collectionName = \"users\" && views > 5",
            authed.clone()
        ),
        ["p1"]
    );
    assert_eq!(
        rule(
            "@request.auth.name:lower = \"alice\" && @request.method = \"GET\" && views < 1",
            authed
        ),
        ["p3", "p4"]
    );
    let mut req = RequestInfo::default();
    req.body.insert("tags".into(), json!(["go", "bad"]));
    req.query.insert("ok".into(), "1".into());
    req.headers.insert("x_del".into(), "yes".into());
    assert_eq!(
        rule(
            "@request.body.tags:length <= 2 && @request.body.status:isset = false && views = 3",
            req.clone()
        ),
        ["p2"]
    );
    assert_eq!(
        rule("@request.body.tags:each != \"bad\"", req.clone()),
        Vec::<String>::new()
    );
    assert_eq!(
        rule(
            "@request.query.ok = \"1\" && @request.headers.x_del = \"yes\" && views = 3",
            req
        ),
        ["p2"]
    );
}

#[test]
fn modifiers_on_single_value_fields() {
    let fx = fixture();
    check(
        &fx,
        &[
            // A single relation: `:length` counts its zero or one id, `:each` sees that id.
            ("author:length = 1", &["p1", "p2", "p4"]),
            ("author:length = 0", &["p3"]),
            ("author:each = ''", &["p3"]),
            ("author:each ?= 'bob000000000000'", &["p2"]),
            // Any other single-value field ignores the modifier.
            ("views:length = 10", &["p1"]),
            ("title:each = 'Hello World'", &["p1"]),
            ("author.name:length = 'Bob'", &["p2"]),
            ("author.name:each != 0", &["p1", "p2", "p3", "p4"]),
            // A whole json field: `:each`/`:length` ignored, `:lower` lower-cases its text.
            ("meta:each = 'x'", &["p4"]),
            ("meta:length = 'x'", &["p4"]),
            ("meta:lower = 'x'", &["p4"]),
            ("views:lower = '10'", &["p1"]),
        ],
    );
}

#[test]
fn strftime_with_one_argument_formats_the_evaluation_instant() {
    // The fixture evaluates at 2026-11-24 12:00:00.000Z; `'now'` is that instant, not the clock.
    let fx = fixture();
    check(
        &fx,
        &[
            ("strftime('%Y') > '2025'", &["p1", "p2", "p3", "p4"]),
            (
                "strftime('%Y-%m-%d %H') = '2026-11-24 12'",
                &["p1", "p2", "p3", "p4"],
            ),
            ("strftime('%Y', 'now') = '2026'", &["p1", "p2", "p3", "p4"]),
            ("strftime('%Y') = ''", &[]),
        ],
    );
}

#[test]
fn every_hop_without_related_records_yields_a_null_row() {
    let fx = fixture();
    let users = |src: &str| fx.ids_as("users", src, true, RequestInfo::default());
    // alice: p1 (comments c1, c2) and p4 (no comments: a NULL row); bob: p2 (comment c3).
    assert_eq!(
        users("posts_via_author.comments_via_post.text ?= null"),
        ["alice0000000000"]
    );
    assert_eq!(
        users("posts_via_author.comments_via_post.text ?= ''"),
        ["alice0000000000"]
    );
    assert_eq!(
        users("posts_via_author.comments_via_post.text ?= 'nice'"),
        ["alice0000000000", "bob000000000000"]
    );
    assert_eq!(
        users("posts_via_author.comments_via_post.text != 'agree'"),
        ["bob000000000000"]
    );
    // p3 has no author: its single hop is a NULL row too.
    assert_eq!(fx.posts("author.name = null"), ["p3"]);
}

#[test]
fn and_groups_share_one_joined_row() {
    let fx = fixture();
    check(
        &fx,
        &[
            // p1 has a "news" and a "tech" category, but no category named both.
            ("cats.name ?= 'news' && cats.name ?= 'tech'", &[]),
            (
                "cats.name ?= 'news' || cats.name ?= 'tech'",
                &["p1", "p2", "p4"],
            ),
            ("cats.name ?= 'news' && cats.name ?= 'news'", &["p1", "p4"]),
            (
                "cats.id ?= 'catnews00000000' && cats.name ?= 'news'",
                &["p1", "p4"],
            ),
            // `cats:each` joins the same rows as `cats.<field>`.
            ("cats:each ?= 'cattech00000000' && cats.name ?= 'news'", &[]),
            (
                "cats:each ?= 'cattech00000000' && cats.name ?= 'tech'",
                &["p1", "p2"],
            ),
            ("tags:each ?= 'go' && tags:each ?= 'rust'", &[]),
            ("tags:each ?= 'go' && tags:each ?= 'go'", &["p2"]),
            // The bound row reaches into nested OR / AND operands.
            (
                "cats.name ?= 'news' && (cats.name ?= 'tech' || views > 5)",
                &["p1"],
            ),
            (
                "(cats.name ?= 'tech' || views < 0) && cats.name ?= 'news'",
                &["p4"],
            ),
            (
                "cats.name ?= 'news' && (views > 5 && cats.name ?= 'tech')",
                &[],
            ),
            // Different joins stay independent.
            ("cats.name ?= 'news' && tags:each ?= 'rust'", &["p1"]),
            // Back-relations: one comment must be "nice" AND written by Alice.
            (
                "comments_via_post.text ?= 'nice' && comments_via_post.author.name ?= 'Alice'",
                &["p2"],
            ),
            (
                "comments_via_post.text ?= 'agree' && comments_via_post.author.name ?= 'Alice'",
                &["p1"],
            ),
        ],
    );
    let users = |src: &str| fx.ids_as("users", src, true, RequestInfo::default());
    // Nested joins: the comment must belong to the bound post.
    assert_eq!(
        users("posts_via_author.title ?= 'Hello World' && posts_via_author.comments_via_post.text ?= 'agree'"),
        ["alice0000000000"]
    );
    assert_eq!(
        users("posts_via_author.views ?< 0 && posts_via_author.comments_via_post.text ?= 'agree'"),
        Vec::<String>::new()
    );
    assert_eq!(
        users(
            "posts_via_author.title ?= 'Hello World' && posts_via_author.title ?= 'make sure_ it'"
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        users(
            "posts_via_author.title ?= 'Hello World' || posts_via_author.title ?= 'Rust is fast'"
        ),
        ["alice0000000000", "bob000000000000"]
    );
    // A joined post sharing its row while its own back-relation stays free.
    assert_eq!(
        users("posts_via_author.meta.lang ?= 'en' && posts_via_author.views ?> 5"),
        ["alice0000000000"]
    );
    assert_eq!(
        users("posts_via_author.meta.lang ?= 'de' && posts_via_author.views ?> 5"),
        Vec::<String>::new()
    );
}

#[test]
fn non_any_comparisons_hold_for_every_joined_row() {
    let fx = fixture();
    check(
        &fx,
        &[
            // A `?` comparison binds the row; one without `?` still needs every row.
            ("cats.name ?= 'news' && cats.name != 'tech'", &["p4"]),
            ("cats.name ?= 'tech' && cats.name = 'tech'", &["p2"]),
            ("cats.name ?!= 'tech' && cats.name ?= 'tech'", &[]),
            // `@collection` without alias: one shared join.
            (
                "@collection.comments.post ?= id && @collection.comments.text ?= 'agree'",
                &["p1"],
            ),
            (
                "@collection.comments.post ?= id && @collection.comments.author ?= author",
                &["p1"],
            ),
            // Two aliases are two joins.
            (
                "@collection.comments:a.post ?= id && @collection.comments:b.text ?= 'agree'",
                &["p1", "p2"],
            ),
            // Aliased without `?`: every comment.
            ("@collection.comments:c.post = id", &[]),
            (
                "@collection.comments:c.text != 'x' && views > 0",
                &["p1", "p2"],
            ),
            (
                "@collection.comments:c.post ?= id && @collection.comments:c.text != 'x'",
                &["p1", "p2"],
            ),
            (
                "@collection.comments:c.post ?= id && @collection.comments:c.text = 'nice'",
                &[],
            ),
            (
                "@collection.comments:c.post ?= id && @collection.comments:c.text ?= 'nice'",
                &["p1", "p2"],
            ),
        ],
    );
}

#[test]
fn a_list_rule_and_the_filter_share_joins() {
    let fx = fixture();
    let rule = fx
        .compile_as("posts", "cats.name ?= 'news'", true, Mode::Rule)
        .unwrap();
    let filter = |src: &str| {
        let f = fx.compile_as("posts", src, true, Mode::Rule).unwrap();
        let both = rule.and(&f);
        let env = fx.env(RequestInfo::default());
        let col = fx.schema.get("posts").unwrap();
        use crate::store::Store;
        fx.store
            .scan_records(&col.id)
            .map(|r| r.unwrap().record)
            .filter(|r| both.matches(r.fields(), &env).unwrap())
            .map(|r| r.id().0.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(filter("cats.name ?= 'tech'"), Vec::<String>::new());
    assert_eq!(filter("cats.id ?= 'catnews00000000'"), ["p1", "p4"]);
    assert_eq!(filter("views > 0"), ["p1"]);
}

#[test]
fn too_many_row_combinations_is_an_error() {
    let fx = fixture();
    use crate::ids::RecordId;
    use crate::store::{Expect, Store, WriteOp};
    let col = fx.schema.get("cats").unwrap();
    let txn: Vec<WriteOp> = (0..1001)
        .map(|i| {
            let id = format!("cat{i:012}");
            let data = json!({"id": id, "name": format!("n{i}")})
                .as_object()
                .cloned()
                .unwrap();
            WriteOp::PutRecord {
                collection: col.id.clone(),
                id: RecordId::from(id.as_str()),
                data,
                expect: Expect::Absent,
                indexes: fx.schema.indexes(&col.id),
                relations: fx.schema.relations(&col.id),
            }
        })
        .collect();
    rt().block_on(fx.store.commit(txn)).unwrap();
    // 1003 x 1003 rows of two joins shared by both comparisons.
    let c = fx
        .compile_as(
            "posts",
            "@collection.cats:a.name ?= @collection.cats:b.id && @collection.cats:a.id ?= @collection.cats:b.name",
            true,
            Mode::ClientFilter,
        )
        .unwrap();
    let env = fx.env(RequestInfo::default());
    let post = json!({"id": "p9"}).as_object().cloned().unwrap();
    let err = c.matches(&post, &env).unwrap_err();
    assert!(
        matches!(err, super::EvalError::TooExpensive(1_000_000)),
        "{err}"
    );
    // Separate components are enumerated one after the other: 2 x 1003 rows.
    let c = fx
        .compile_as(
            "posts",
            "@collection.cats:a.id ?= 'cat000000000007' && @collection.cats:a.name ?= 'n7' && @collection.cats:b.id ?= 'cat000000000008' && @collection.cats:b.name ?= 'n8'",
            true,
            Mode::ClientFilter,
        )
        .unwrap();
    assert!(c.matches(&post, &env).unwrap());
}

fn sort_of(fx: &Fixture, raw: &str, superuser: bool) -> Result<super::SortSpec, QueryError> {
    let col = fx.schema.get("posts").unwrap().clone();
    let ctx = super::CompileCtx::filter(&col, &fx.schema, superuser);
    super::compile_sort(raw, &ctx)
}

#[test]
fn sort_errors_follow_pocketbase() {
    let fx = fixture();
    let invalid = |raw: &str| match sort_of(&fx, raw, true) {
        Err(QueryError::Invalid(e)) => e.message,
        other => panic!("{raw}: {other:?}"),
    };
    assert_eq!(invalid(",views"), "empty sort key at 0");
    assert_eq!(invalid("views,,id"), "empty sort key at 6");
    assert_eq!(invalid("views, "), "empty sort key at 7");
    assert_eq!(invalid("- views"), "invalid sort key \" views\" at 0");
    assert!(invalid("@request.auth.id").contains("only record fields"));
    assert!(sort_of(&fx, "views, -id", true).is_ok());
    // Guests get the filter's 403 for superuser-only roots.
    for (raw, want) in [
        ("@request.auth.id", Forbidden::Request),
        ("-@request.method", Forbidden::Request),
        ("@collection.posts.id", Forbidden::Collection),
        ("views,@collection.users:u.name", Forbidden::Collection),
    ] {
        assert_eq!(
            sort_of(&fx, raw, false).err(),
            Some(QueryError::Forbidden(want)),
            "{raw}"
        );
    }
    // A superuser's @collection key cannot change the order: it is dropped.
    assert!(sort_of(&fx, "@collection.posts.id", true)
        .unwrap()
        .is_empty());
}

#[test]
fn sort_keys_on_modifiers_and_multi_relations() {
    let fx = fixture();
    // `views:length` is `views` (and an index can serve it).
    let spec = sort_of(&fx, "views:length", false).unwrap();
    assert_eq!(spec.single_field(), Some(("views", false)));
    // A multi-relation path sorts by the first related record's value, NULL without one.
    let spec = sort_of(&fx, "cats.name", true).unwrap();
    let env = fx.env(RequestInfo::default());
    let col = fx.schema.get("posts").unwrap();
    use crate::store::Store;
    let mut keys: Vec<(String, String)> = fx
        .store
        .scan_records(&col.id)
        .map(|r| r.unwrap().record)
        .map(|r| {
            let v = spec.values(r.fields(), &env).unwrap();
            (r.id().0.clone(), format!("{v:?}"))
        })
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            ("p1".into(), "[Text(\"news\")]".into()),
            ("p2".into(), "[Text(\"tech\")]".into()),
            ("p3".into(), "[Null]".into()),
            ("p4".into(), "[Text(\"news\")]".into()),
        ]
    );
}

/// One fixture for every generated case (building a store per case would dominate the run).
fn shared() -> &'static Fixture {
    static FX: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FX.get_or_init(fixture)
}

proptest::proptest! {
    /// Compiling any filter or sort against a real schema, as a client or as a rule, returns
    /// `Ok` or an error — never a panic. (`bench/fuzz.sh` runs this with many more cases.)
    #[test]
    fn compile_and_sort_never_panics(
        src in "[a-z@._:()'\"\\\\ =!<>~?&|0-9,+-]{0,80}",
        superuser in proptest::bool::ANY,
    ) {
        let fx = shared();
        for mode in [Mode::ClientFilter, Mode::Rule] {
            let _ = fx.compile_as("posts", &src, superuser, mode);
        }
        let col = fx.schema.get("posts").unwrap().clone();
        let ctx = super::CompileCtx::filter(&col, &fx.schema, superuser);
        let _ = super::compile_sort(&src, &ctx);
    }
}
