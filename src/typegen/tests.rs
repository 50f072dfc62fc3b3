use super::*;
use crate::schema::users_collection;
use serde_json::{json, Value};

/// A collection from PocketBase's JSON (fields take their defaults).
fn col(v: Value) -> Collection {
    Collection::from_storage(v.to_string().as_bytes()).expect("collection")
}

fn posts() -> Collection {
    col(json!({
        "id": "pbc_posts", "name": "posts", "type": "base",
        "fields": [
            {"name": "id", "type": "text", "primaryKey": true, "required": true,
             "autogeneratePattern": "[a-z0-9]{15}", "min": 15, "max": 15, "pattern": "^[a-z0-9]+$"},
            {"name": "title", "type": "text", "required": true},
            {"name": "body", "type": "editor"},
            {"name": "views", "type": "number"},
            {"name": "published", "type": "bool"},
            {"name": "status", "type": "select", "required": true, "maxSelect": 1,
             "values": ["draft", "it's \\ done"]},
            {"name": "mood", "type": "select", "maxSelect": 1, "values": ["happy"]},
            {"name": "tags", "type": "select", "maxSelect": 2, "values": ["a", "b"]},
            {"name": "author", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
            {"name": "related", "type": "relation", "collectionId": "pbc_posts", "maxSelect": 9},
            {"name": "cover", "type": "file", "maxSelect": 1},
            {"name": "docs", "type": "file", "maxSelect": 4},
            {"name": "meta", "type": "json"},
            {"name": "at", "type": "geoPoint"},
            {"name": "site", "type": "url"},
            {"name": "mail", "type": "email"},
            {"name": "due", "type": "date"},
            {"name": "secret", "type": "text", "hidden": true},
            {"name": "pin", "type": "password"},
            {"name": "1st", "type": "text"},
            {"name": "created", "type": "autodate", "onCreate": true},
            {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true}
        ]
    }))
}

fn comments(unique_post: bool) -> Collection {
    let indexes = if unique_post {
        json!(["CREATE UNIQUE INDEX `idx_post` ON `comments` (`post`)"])
    } else {
        json!([])
    };
    col(json!({
        "id": "pbc_comments", "name": "comments", "type": "base", "indexes": indexes,
        "fields": [
            {"name": "post", "type": "relation", "collectionId": "pbc_posts", "maxSelect": 1,
             "required": true},
            {"name": "text", "type": "text"}
        ]
    }))
}

/// The body of the declaration `export <kind> <name> …` up to its closing brace.
fn decl<'a>(text: &'a str, head: &str) -> &'a str {
    let start = text
        .find(head)
        .unwrap_or_else(|| panic!("{head} not in:\n{text}"));
    let rest = &text[start..];
    let end = rest
        .find("\n}")
        .and_then(|e| rest[e + 1..].find('\n').map(|n| e + 1 + n))
        .unwrap_or(rest.len());
    &rest[..end]
}

fn lines(block: &str) -> Vec<&str> {
    block.lines().skip(1).map(str::trim).collect()
}

#[test]
fn records_have_system_fields_every_kind_and_no_hidden_or_password() {
    let g = generate([&posts(), &users_collection()]);
    let rec = lines(decl(&g.text, "export interface PostsRecord {"));
    assert_eq!(
        rec,
        [
            "id: string;",
            "collectionId: string;",
            "collectionName: 'posts';",
            "title: string;",
            "body: string;",
            "views: number;",
            "published: boolean;",
            "status: PostsStatusOptions;",
            "mood: PostsMoodOptions | '';",
            "tags: PostsTagsOptions[];",
            "author: string;",
            "related: string[];",
            "cover: string;",
            "docs: string[];",
            "meta: JsonValue;",
            "at: GeoPoint;",
            "site: string;",
            "mail: string;",
            "due: string;",
            "'1st': string;",
            "created: string;",
            "updated: string;",
            "expand?: PostsExpand;",
            "}",
        ]
    );
    let users = decl(&g.text, "export interface UsersRecord {");
    for present in [
        "email: string;",
        "emailVisibility: boolean;",
        "verified: boolean;",
    ] {
        assert!(users.contains(present), "{present} in {users}");
    }
    for absent in ["password", "tokenKey"] {
        assert!(!users.contains(absent), "{absent} in {users}");
    }
}

#[test]
fn select_options_are_escaped_unions() {
    let g = generate([&posts()]);
    assert!(g
        .text
        .contains("export type PostsStatusOptions = 'draft' | 'it\\'s \\\\ done';\n"));
    assert!(g
        .text
        .contains("export type PostsTagsOptions = 'a' | 'b';\n"));
}

#[test]
fn create_requires_what_the_server_requires() {
    let g = generate([&posts(), &users_collection()]);
    let create = lines(decl(&g.text, "export type PostsCreate = {"));
    assert_eq!(
        create,
        [
            "id?: string;",
            "title: string;",
            "body?: string;",
            "views?: number;",
            "published?: boolean;",
            "status: PostsStatusOptions;",
            "mood?: PostsMoodOptions | '';",
            "tags?: PostsTagsOptions[];",
            "author?: string;",
            "related?: string[];",
            "cover?: FileInput;",
            "docs?: FileInput[];",
            "meta?: unknown;",
            "at?: GeoPoint;",
            "site?: string;",
            "mail?: string;",
            "due?: string;",
            "secret?: string;",
            "pin?: string;",
            "'1st'?: string;",
            "};",
        ]
    );
    let users = decl(&g.text, "export type UsersCreate = {");
    for want in [
        "password: string;",
        "passwordConfirm: string;",
        "email: string;",
        "emailVisibility?: boolean;",
        "avatar?: FileInput;",
    ] {
        assert!(users.contains(want), "{want} in {users}");
    }
    assert!(!users.contains("tokenKey") && !users.contains("created"));
    // A text primary key without an autogenerate pattern must be given.
    let manual = col(
        json!({"id": "c1", "name": "codes", "type": "base", "fields": [
            {"name": "id", "type": "text", "primaryKey": true, "required": true, "pattern": "^[a-z]+$"}
        ]}),
    );
    let text = generate([&manual]).text;
    let create = decl(&text, "export type CodesCreate = {");
    assert!(
        create.contains("  id?: string;"),
        "the id key is always optional: {create}"
    );
}

#[test]
fn updates_are_optional_with_modifiers() {
    let g = generate([&posts(), &users_collection()]);
    let update = lines(decl(&g.text, "export type PostsUpdate = {"));
    assert!(
        update.iter().all(|l| l.contains("?:") || *l == "};"),
        "{update:?}"
    );
    for want in [
        "'views+'?: number;",
        "'views-'?: number;",
        "'+tags'?: PostsTagsOptions | PostsTagsOptions[];",
        "'tags+'?: PostsTagsOptions | PostsTagsOptions[];",
        "'tags-'?: PostsTagsOptions | PostsTagsOptions[];",
        "'+related'?: string | string[];",
        "'related-'?: string | string[];",
        "'docs+'?: FileInput | FileInput[];",
        "'docs-'?: string | string[];",
        "cover?: FileInput | string | null;",
        "docs?: (FileInput | string)[] | null;",
    ] {
        assert!(update.contains(&want), "{want} not in {update:?}");
    }
    // Single selects, relations and files, text and dates take no modifiers.
    for absent in [
        "'status+'",
        "'author+'",
        "'cover+'",
        "'title+'",
        "'due+'",
        "id?:",
    ] {
        assert!(!update.iter().any(|l| l.starts_with(absent)), "{absent}");
    }
    let users = decl(&g.text, "export type UsersUpdate = {");
    for want in [
        "password?: string;",
        "passwordConfirm?: string;",
        "oldPassword?: string;",
    ] {
        assert!(users.contains(want), "{want} in {users}");
    }
}

#[test]
fn expand_has_relations_and_back_relations() {
    let g = generate([&posts(), &comments(false), &users_collection()]);
    assert_eq!(
        lines(decl(&g.text, "export interface PostsExpand {")),
        [
            "author?: UsersRecord;",
            "related?: PostsRecord[];",
            "comments_via_post?: CommentsRecord[];",
            "posts_via_related?: PostsRecord[];",
            "}"
        ]
    );
    assert!(g
        .text
        .contains("export interface UsersExpand {\n  posts_via_author?: PostsRecord[];\n}"));
    assert!(g
        .text
        .contains("export interface CommentsExpand {\n  post?: PostsRecord;\n}"));
    // A one-column unique index allows one referrer: the back-relation is one record.
    let g = generate([&posts(), &comments(true), &users_collection()]);
    assert!(g.text.contains("  comments_via_post?: CommentsRecord;\n"));
    // A relation to a collection that is gone is left out, not typed `any`.
    let g = generate([&posts()]);
    assert!(!decl(&g.text, "export interface PostsExpand {").contains("author"));
    // No relations at all: an empty interface.
    let lone = col(json!({"id": "c1", "name": "lone", "type": "base", "fields": []}));
    assert!(generate([&lone])
        .text
        .contains("export interface LoneExpand {}\n"));
}

#[test]
fn type_names_are_unique_identifiers() {
    let a = col(json!({"id": "c1", "name": "blog_posts", "type": "base",
        "fields": [{"name": "kind_x", "type": "select", "maxSelect": 1, "values": ["a"]}]}));
    let b = col(json!({"id": "c2", "name": "blogPosts", "type": "base",
        "fields": [{"name": "kindX", "type": "select", "maxSelect": 1, "values": ["b"]}]}));
    let c = col(json!({"id": "c3", "name": "2fa", "type": "base", "fields": []}));
    let d = col(json!({"id": "c4", "name": "collection", "type": "base", "fields": []}));
    let e = col(json!({"id": "c5", "name": "___", "type": "base", "fields": []}));
    let g = generate([&a, &b, &c, &d, &e]);
    for want in [
        "export interface BlogPostsRecord {\n  id: string;\n  collectionId: string;\n  collectionName: 'blogPosts';",
        "export interface BlogPosts2Record {\n  id: string;\n  collectionId: string;\n  collectionName: 'blog_posts';",
        "export type BlogPostsKindXOptions = 'b';",
        "export type BlogPosts2KindXOptions = 'a';",
        "export interface T2faRecord {",
        "export interface CollectionRecord {",
        "export interface TRecord {",
        "  '2fa': T2faRecord;",
        "  ___: TRecord;",
        "  collection(idOrName: '2fa'): RecordService<T2faRecord>;",
    ] {
        assert!(g.text.contains(want), "{want} not in:\n{}", g.text);
    }
    // Every declared name once.
    let mut declared: Vec<&str> = g
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    let n = declared.len();
    declared.sort_unstable();
    declared.dedup();
    assert_eq!(declared.len(), n, "{declared:?}");
}

#[test]
fn output_is_deterministic_and_versioned() {
    let (p, c, u) = (posts(), comments(false), users_collection());
    let one = generate([&p, &c, &u]);
    let two = generate([&u, &p, &c]);
    assert_eq!(one, two, "input order does not matter");
    assert_eq!(one.version.len(), 16);
    assert!(one.text.starts_with(&format!(
        "// Generated by `ferrobase typegen` from the Ferrobase schema. Do not edit.\n// Schema version: {}\n",
        one.version
    )));
    let mut changed = p.clone();
    changed.fields.retain(|f| f.name != "views");
    assert_ne!(generate([&changed, &c, &u]).version, one.version);
    // Timestamps and rules do not change the types, so not the version either.
    let mut touched = p.clone();
    touched.updated = "2030-01-01 00:00:00.000Z".into();
    touched.list_rule = Some("id != ''".into());
    assert_eq!(generate([&touched, &c, &u]).version, one.version);
    // Collections in name order, then the maps and the typed client.
    let order: Vec<usize> = [
        "// ---- comments",
        "// ---- posts",
        "// ---- users",
        "export interface Collections",
    ]
    .iter()
    .map(|s| one.text.find(s).expect(s))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(one.text.contains(
        "export type TypedPocketBase = PocketBase & {\n  collection(idOrName: 'comments'): RecordService<CommentsRecord>;\n  collection(idOrName: 'posts'): RecordService<PostsRecord>;\n  collection(idOrName: 'users'): RecordService<UsersRecord>;\n};\n"
    ));
}

#[test]
fn names_spell_typescript() {
    assert_eq!(names::key("title"), "title");
    assert_eq!(names::key("$x_1"), "$x_1");
    assert_eq!(names::key("1st"), "'1st'");
    assert_eq!(names::key("a-b"), "'a-b'");
    assert_eq!(
        names::string_literal("a'b\\c\nd\u{2028}"),
        "'a\\'b\\\\c\\nd\\u{2028}'"
    );
    assert_eq!(names::pascal("blog_posts"), "BlogPosts");
    assert_eq!(names::pascal("_superusers"), "Superusers");
    assert_eq!(names::pascal("a__b9c"), "AB9c");
    assert_eq!(names::pascal("___"), "");
    let mut taken = names::TypeNames::default();
    taken.reserve("XRecord");
    assert_eq!(taken.take_prefix("X", &["Record", "Create"]), "X2");
    assert_eq!(taken.take_prefix("X", &["Create"]), "X");
    assert_eq!(taken.take_prefix("X", &["Record"]), "X3");
    assert_eq!(taken.take_prefix("9", &["Options"]), "T9");
}

#[test]
fn auth_extras_never_duplicate_a_field() {
    let mut users = users_collection();
    users.fields.push(crate::schema::Field::new(
        "oldPassword",
        FieldKind::Text(Default::default()),
    ));
    users.fields.push(crate::schema::Field::new(
        "passwordConfirm",
        FieldKind::Bool,
    ));
    let g = generate([&users]);
    for head in ["export type UsersCreate = {", "export type UsersUpdate = {"] {
        let block = decl(&g.text, head);
        for name in ["oldPassword", "passwordConfirm"] {
            assert!(
                block.matches(&format!("  {name}")).count() <= 1,
                "{name} twice in {block}"
            );
        }
    }
    assert!(decl(&g.text, "export type UsersCreate = {").contains("  passwordConfirm?: boolean;"));
}
