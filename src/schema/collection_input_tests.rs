use super::*;
use crate::schema::field::FieldKind;
use crate::schema::system::{superusers_collection, SUPERUSERS_ID};

fn create(v: Value, existing: &[Arc<Collection>]) -> Collection {
    Collection::from_create_input(&v, existing).unwrap_or_else(|e| panic!("{}", e.body()))
}

/// The `data` object of a failed create.
fn create_err(v: Value, existing: &[Arc<Collection>]) -> Value {
    let e = Collection::from_create_input(&v, existing).unwrap_err();
    assert_eq!(e.body()["message"], json!("Failed to create collection."));
    e.body()["data"].clone()
}

fn update_err(c: &Collection, v: Value, existing: &[Arc<Collection>]) -> Value {
    let e = c.apply_update(&v, existing).unwrap_err();
    assert_eq!(e.body()["message"], json!("Failed to update collection."));
    e.body()["data"].clone()
}

fn code(data: &Value, path: &str) -> Value {
    path.split('.').fold(data, |v, k| &v[k])["code"].clone()
}

fn names(c: &Collection) -> Vec<&str> {
    c.fields.iter().map(|f| f.name.as_str()).collect()
}

#[test]
fn creates_minimal_base_collection() {
    let c = create(json!({"name": "allf"}), &[]);
    assert_eq!(c.id.as_str(), "pbc_2844260936");
    assert_eq!(c.kind, CollectionType::Base);
    assert!(!c.system && c.auth.is_none());
    assert_eq!(names(&c), ["id"]);
    assert_eq!(c.fields[0], crate::schema::system::id_field());
    assert!(c.indexes.is_empty());
    assert_eq!(c.created.len(), 24);
    assert_eq!(c.created, c.updated);
    let v = c.to_api_json();
    assert_eq!(v["listRule"], Value::Null);
    assert_eq!(v.as_object().unwrap().len(), 13);
}

#[test]
fn create_checks_name() {
    let posts = Arc::new(create(json!({"name": "posts"}), &[]));
    let existing = [posts];
    assert_eq!(
        code(&create_err(json!({}), &[]), "name"),
        "validation_required"
    );
    assert_eq!(
        code(&create_err(json!({"name": 5}), &[]), "name"),
        "validation_invalid_value"
    );
    assert_eq!(
        code(&create_err(json!({"name": "bad name!"}), &[]), "name"),
        "validation_match_invalid"
    );
    assert_eq!(
        code(&create_err(json!({"name": "a".repeat(256)}), &[]), "name"),
        "validation_length_out_of_range"
    );
    assert_eq!(
        code(&create_err(json!({"name": "POSTS"}), &existing), "name"),
        "validation_collection_name_exists"
    );
    let e = Collection::from_create_input(&json!("posts"), &[]).unwrap_err();
    assert!(matches!(e, ApiError::BadRequest { .. }));
}

#[test]
fn create_checks_type_and_id() {
    assert_eq!(
        code(
            &create_err(json!({"name": "v", "type": "weird"}), &[]),
            "type"
        ),
        "validation_in_invalid"
    );
    let data = create_err(json!({"name": "v", "type": "view"}), &[]);
    assert_eq!(
        code(&data, "type"),
        "validation_unsupported_collection_type"
    );
    assert_eq!(
        data["type"]["message"],
        json!("View collections are not supported yet.")
    );

    let custom = create(json!({"name": "x", "id": "pbc_custom123"}), &[]);
    assert_eq!(custom.id.as_str(), "pbc_custom123");
    let existing = [Arc::new(custom)];
    assert_eq!(
        code(
            &create_err(json!({"name": "y", "id": "PBC_custom123"}), &existing),
            "id"
        ),
        "validation_collection_id_exists"
    );
    assert_eq!(
        code(&create_err(json!({"name": "y", "id": "a/b"}), &[]), "id"),
        "validation_match_invalid"
    );
    assert_eq!(
        code(
            &create_err(json!({"name": "y", "id": "a".repeat(101)}), &[]),
            "id"
        ),
        "validation_match_invalid"
    );

    // A renamed collection keeps its id, so re-creating the old name derives a fresh one.
    let mut renamed = create(json!({"name": "allf"}), &[]);
    renamed.name = "other".into();
    let again = create(json!({"name": "allf"}), &[Arc::new(renamed)]);
    assert_ne!(again.id.as_str(), "pbc_2844260936");
    assert!(again.id.as_str().starts_with("pbc_"));
}

#[test]
fn create_checks_rules() {
    let c = create(
        json!({"name": "p", "listRule": "", "viewRule": "a = 1", "createRule": null}),
        &[],
    );
    assert_eq!(c.list_rule.as_deref(), Some(""));
    assert_eq!(c.view_rule.as_deref(), Some("a = 1"));
    assert_eq!(c.create_rule, None);
    let data = create_err(
        json!({"name": "p", "listRule": 1, "deleteRule": "x".repeat(4001)}),
        &[],
    );
    assert_eq!(code(&data, "listRule"), "validation_invalid_rule");
    assert_eq!(code(&data, "deleteRule"), "validation_length_too_long");
}

#[test]
fn creates_auth_collection_with_system_fields_and_indexes() {
    let c = create(
        json!({"name": "users", "type": "auth", "fields": [{"name": "name", "type": "text", "max": 255}]}),
        &[],
    );
    assert_eq!(
        names(&c),
        [
            "id",
            "name",
            "password",
            "tokenKey",
            "email",
            "emailVisibility",
            "verified"
        ]
    );
    assert_eq!(
        c.indexes,
        [
            format!(
                "CREATE UNIQUE INDEX `idx_tokenKey_{}` ON `users` (`tokenKey`)",
                c.id
            ),
            format!(
                "CREATE UNIQUE INDEX `idx_email_{}` ON `users` (`email`) WHERE `email` != ''",
                c.id
            ),
        ]
    );
    let pw = c.field("password").unwrap();
    assert!(pw.system && pw.hidden && pw.required);
    assert_eq!(c.field("tokenKey").map(|f| f.hidden), Some(true));
    let v = c.to_api_json();
    assert_eq!(v["authToken"], json!({"duration": 432000}));
    assert!(!v.to_string().contains("secret"));
    assert_eq!(Collection::from_storage(&c.to_storage()), Ok(c));
}

#[test]
fn auth_system_fields_keep_their_type() {
    let data = create_err(
        json!({"name": "u", "type": "auth", "fields": [{"name": "email", "type": "text"}]}),
        &[],
    );
    assert_eq!(code(&data, "fields.1.type"), "validation_in_invalid");
    // A client-provided system field keeps its options but becomes system.
    let c = create(
        json!({"name": "u", "type": "auth", "fields": [{"name": "password", "type": "password", "min": 12}]}),
        &[],
    );
    let pw = c.field("password").unwrap();
    assert!(pw.system && pw.hidden);
    assert!(matches!(pw.kind, FieldKind::Password { min: 12, .. }));
}

#[test]
fn create_reports_field_errors_by_final_index() {
    let data = create_err(
        json!({"name": "p", "fields": [
            {"name": "s", "type": "select"},
            {"name": "r", "type": "relation"},
            {"name": "expand", "type": "text"},
            {"name": "t", "type": "text", "min": 5, "max": 2},
            {"name": "re", "type": "text", "pattern": "("},
            {"name": "f", "type": "file", "mimeTypes": ["png"]},
            {"name": "r2", "type": "relation", "collectionId": "nope"},
            {"name": "R2", "type": "bool"},
            {"name": "bad name", "type": "bool"},
        ]}),
        &[],
    );
    assert_eq!(code(&data, "fields.1.values"), "validation_required");
    assert_eq!(code(&data, "fields.2.collectionId"), "validation_required");
    assert_eq!(code(&data, "fields.3.name"), "validation_not_in_invalid");
    assert_eq!(
        code(&data, "fields.4.max"),
        "validation_min_greater_equal_than_required"
    );
    assert_eq!(code(&data, "fields.5.pattern"), "validation_invalid_regex");
    assert_eq!(
        code(&data, "fields.6.mimeTypes"),
        "validation_invalid_value"
    );
    assert_eq!(
        code(&data, "fields.7.collectionId"),
        "validation_invalid_collection"
    );
    assert_eq!(
        code(&data, "fields.8.name"),
        "validation_duplicated_field_name"
    );
    assert_eq!(code(&data, "fields.9.name"), "validation_match_invalid");
    assert_eq!(
        code(
            &create_err(json!({"name": "p", "fields": {}}), &[]),
            "fields"
        ),
        "validation_invalid_value"
    );
}

#[test]
fn create_accepts_custom_id_field_and_relations() {
    let other = Arc::new(create(json!({"name": "tags"}), &[]));
    let c = create(
        json!({"name": "posts", "id": "posts_id", "fields": [
            {"name": "id", "type": "text", "min": 10, "max": 20, "autogeneratePattern": "[a-z]{12}", "system": false},
            {"name": "parent", "type": "relation", "collectionId": "posts_id"},
            {"name": "tags", "type": "relation", "collectionId": other.id.as_str(), "maxSelect": 5},
            {"name": "t", "type": "text", "system": true, "id": "my_text"},
        ]}),
        std::slice::from_ref(&other),
    );
    assert_eq!(names(&c), ["id", "parent", "tags", "t"]);
    let FieldKind::Text(t) = &c.fields[0].kind else {
        panic!("id is text")
    };
    assert!(t.primary_key && c.fields[0].system && c.fields[0].required);
    assert_eq!((t.min, t.max, t.pattern.as_str()), (10, 20, "^[a-z0-9]+$"));
    assert!(!c.field("t").unwrap().system);
    assert_eq!(c.field("t").unwrap().id, "my_text");
    assert_eq!(c.relation_fields().count(), 2);

    let data = create_err(
        json!({"name": "p", "fields": [{"name": "id", "type": "number"}]}),
        &[],
    );
    assert_eq!(code(&data, "fields.0.type"), "validation_in_invalid");
    let data = create_err(
        json!({"name": "p", "fields": [{"name": "id", "type": "text"}]}),
        &[],
    );
    assert_eq!(
        code(&data, "fields.0.max"),
        "validation_max_less_equal_than_required"
    );
    let data = create_err(
        json!({"name": "p", "fields": [{"name": "a", "type": "text", "id": "x"}, {"name": "b", "type": "bool", "id": "x"}]}),
        &[],
    );
    assert_eq!(code(&data, "fields.2.id"), "validation_duplicated_field_id");
}

#[test]
fn create_validates_indexes() {
    let c = create(
        json!({"name": "v", "fields": [{"name": "uq", "type": "text"}, {"name": "n", "type": "number"}],
               "indexes": ["CREATE UNIQUE INDEX idx_v_uq ON v (uq)", "create index ix on V (N desc, UQ)"]}),
        &[],
    );
    assert_eq!(c.indexes[0], "CREATE UNIQUE INDEX idx_v_uq ON v (uq)");
    let specs = c.index_specs();
    assert_eq!(specs[1].fields, ["n", "uq"]);
    let data = create_err(
        json!({"name": "v", "fields": [{"name": "uq", "type": "text"}],
               "indexes": ["CREATE INDEX x ON v (zzz)", 5, "nonsense", "CREATE INDEX y ON other (uq)",
                           "CREATE INDEX z ON v (uq)", "CREATE INDEX Z ON v (id)",
                           "CREATE INDEX w ON v (uq) WHERE missing != ''"]}),
        &[],
    );
    assert_eq!(
        code(&data, "indexes.0"),
        "validation_invalid_index_expression"
    );
    assert!(data["indexes"]["0"]["message"]
        .as_str()
        .unwrap()
        .contains("no such field: zzz"));
    assert_eq!(code(&data, "indexes.1"), "validation_invalid_value");
    assert_eq!(
        code(&data, "indexes.2"),
        "validation_invalid_index_expression"
    );
    assert_eq!(
        code(&data, "indexes.3"),
        "validation_invalid_index_expression"
    );
    assert!(data["indexes"].get("4").is_none());
    assert!(data["indexes"]["5"]["message"]
        .as_str()
        .unwrap()
        .contains("duplicated index name"));
    assert_eq!(
        code(&data, "indexes.6"),
        "validation_invalid_index_expression"
    );
}

#[test]
fn identity_fields_need_unique_indexes() {
    let body = |indexes: Value| {
        json!({"name": "u", "type": "auth", "fields": [{"name": "username", "type": "text"}],
               "passwordAuth": {"identityFields": ["email", "username"]}, "indexes": indexes})
    };
    let data = create_err(body(json!([])), &[]);
    assert_eq!(
        code(&data, "passwordAuth.identityFields"),
        "validation_missing_unique_constraint"
    );
    assert_eq!(
        data["passwordAuth"]["identityFields"]["message"],
        json!("The field username doesn't have a UNIQUE constraint.")
    );
    let c = create(
        body(json!(["CREATE UNIQUE INDEX idx_un ON u (username)"])),
        &[],
    );
    assert_eq!(c.indexes.len(), 3);
    let data = create_err(
        json!({"name": "u", "type": "auth", "passwordAuth": {"identityFields": []}}),
        &[],
    );
    assert_eq!(
        code(&data, "passwordAuth.identityFields"),
        "validation_required"
    );
}

fn posts() -> Collection {
    create(
        json!({"name": "posts", "fields": [
            {"name": "title", "type": "text"},
            {"name": "body", "type": "editor"},
            {"name": "author", "type": "relation", "collectionId": "pbc_1"},
        ], "indexes": ["CREATE INDEX idx_title ON posts (title)"]}),
        &[users()],
    )
}

fn users() -> Arc<Collection> {
    Arc::new(create(
        json!({"name": "users", "id": "pbc_1", "type": "auth"}),
        &[],
    ))
}

fn field_json(c: &Collection, name: &str) -> Value {
    c.field(name).unwrap().to_json()
}

#[test]
fn update_renames_drops_and_readds_id() {
    let old = posts();
    let mut title = field_json(&old, "title");
    title["name"] = json!("headline");
    let (c, change) = old
        .apply_update(&json!({"fields": [title, field_json(&old, "author"), {"name": "n", "type": "number"}]}), &[users()])
        .unwrap();
    assert_eq!(names(&c), ["id", "headline", "author", "n"]);
    assert_eq!(c.id, old.id);
    assert_eq!(
        change.renamed,
        [("title".to_string(), "headline".to_string())]
    );
    assert_eq!(change.dropped, ["body"]);
    assert!(change.needs_migration());
    // The index followed the rename.
    assert_eq!(
        c.indexes,
        ["CREATE INDEX `idx_title` ON `posts` (`headline`)"]
    );
    assert_eq!(c.index_specs()[0].fields, ["headline"]);
    assert!(change.indexes_changed);
}

#[test]
fn update_without_fields_keeps_schema() {
    let old = posts();
    let (c, change) = old
        .apply_update(&json!({"listRule": "", "viewRule": null}), &[users()])
        .unwrap();
    assert_eq!(c.fields, old.fields);
    assert_eq!(c.list_rule.as_deref(), Some(""));
    assert_eq!(change, SchemaChange::default());
    assert!(!change.needs_migration());
}

#[test]
fn update_renames_collection_and_its_indexes() {
    let old = posts();
    let others = [users(), Arc::new(create(json!({"name": "taken"}), &[]))];
    let (c, change) = old
        .apply_update(&json!({"name": "articles", "id": old.id.as_str()}), &others)
        .unwrap();
    assert_eq!((c.name.as_str(), &c.id), ("articles", &old.id));
    assert_eq!(
        c.indexes,
        ["CREATE INDEX `idx_title` ON `articles` (`title`)"]
    );
    assert!(!change.indexes_changed);
    assert_eq!(
        code(&update_err(&old, json!({"name": "TAKEN"}), &others), "name"),
        "validation_collection_name_exists"
    );
    // Its own name in another case is fine.
    assert!(old
        .apply_update(&json!({"name": "Posts"}), &[Arc::new(old.clone())])
        .is_ok());
}

#[test]
fn update_refuses_type_and_id_changes() {
    let old = posts();
    let data = update_err(&old, json!({"type": "auth", "id": "other"}), &[users()]);
    assert_eq!(code(&data, "type"), "validation_collection_type_change");
    assert_eq!(code(&data, "id"), "validation_collection_id_change");
    let mut title = field_json(&old, "title");
    title["type"] = json!("number");
    let data = update_err(
        &old,
        json!({"fields": [field_json(&old, "id"), title]}),
        &[users()],
    );
    assert_eq!(code(&data, "fields.1"), "validation_field_type_change");
    let mut author = field_json(&old, "author");
    author["collectionId"] = json!(old.id.as_str());
    let data = update_err(&old, json!({"fields": [author]}), &[users()]);
    assert_eq!(
        code(&data, "fields.1.collectionId"),
        "validation_field_relation_change"
    );
}

#[test]
fn update_refuses_index_on_dropped_field() {
    let old = posts();
    let data = update_err(
        &old,
        json!({"fields": [field_json(&old, "body")]}),
        &[users()],
    );
    assert_eq!(
        code(&data, "indexes.0"),
        "validation_invalid_index_expression"
    );
    let (c, change) = old
        .apply_update(
            &json!({"fields": [field_json(&old, "body")], "indexes": []}),
            &[users()],
        )
        .unwrap();
    assert_eq!(names(&c), ["id", "body"]);
    assert_eq!(change.dropped, ["title", "author"]);
    assert!(change.indexes_changed);
}

#[test]
fn rename_target_is_not_dropped() {
    let old = create(
        json!({"name": "p", "fields": [{"name": "a", "type": "text"}, {"name": "b", "type": "text"}]}),
        &[],
    );
    let mut a = field_json(&old, "a");
    a["name"] = json!("b");
    let (c, change) = old.apply_update(&json!({"fields": [a]}), &[]).unwrap();
    assert_eq!(names(&c), ["id", "b"]);
    assert_eq!(change.renamed, [("a".to_string(), "b".to_string())]);
    assert!(change.dropped.is_empty());
}

#[test]
fn update_keeps_auth_system_fields() {
    let old = (*users()).clone();
    let mut name = json!({"name": "username", "type": "text"});
    name["id"] = json!("text_username");
    let (c, change) = old
        .apply_update(
            &json!({"fields": [name], "indexes": ["CREATE UNIQUE INDEX u1 ON users (username)"],
                              "passwordAuth": {"identityFields": ["username"]}}),
            &[],
        )
        .unwrap();
    assert_eq!(
        names(&c),
        [
            "id",
            "username",
            "password",
            "tokenKey",
            "email",
            "emailVisibility",
            "verified"
        ]
    );
    assert!(change.dropped.is_empty());
    assert_eq!(
        c.indexes.len(),
        3,
        "default unique indexes are re-added: {:?}",
        c.indexes
    );

    // Identity fields follow a rename.
    let mut renamed = field_json(&c, "username");
    renamed["name"] = json!("login");
    let (c2, _) = c.apply_update(&json!({"fields": [renamed]}), &[]).unwrap();
    assert_eq!(
        c2.auth.as_ref().unwrap().password_auth.identity_fields,
        ["login"]
    );
    assert!(c2
        .indexes
        .contains(&"CREATE UNIQUE INDEX `u1` ON `users` (`login`)".to_string()));

    let mut email = field_json(&old, "email");
    email["name"] = json!("mail");
    let data = update_err(&old, json!({"fields": [email]}), &[]);
    assert_eq!(
        code(&data, "fields.1.name"),
        "validation_system_field_name_change"
    );
}

#[test]
fn superusers_keep_their_shape() {
    let su = superusers_collection();
    let (c, change) = su.apply_update(&json!({"fields": []}), &[]).unwrap();
    assert_eq!(c.fields, su.fields);
    assert!(!change.needs_migration());
    let data = update_err(&su, json!({"name": "admins"}), &[]);
    assert_eq!(
        code(&data, "name"),
        "validation_system_collection_name_change"
    );
    assert_eq!(c.id.as_str(), SUPERUSERS_ID);
    let e = su.apply_update(&json!([]), &[]).unwrap_err();
    assert!(matches!(e, ApiError::BadRequest { .. }));
}
