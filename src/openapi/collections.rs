//! The per-collection part of the document, generated from the live schema: record, create and
//! update schemas, the list envelope, the CRUD paths the audience may call (a null rule means
//! superuser only) and the auth endpoints of auth collections.

use super::fields;
use super::{error_responses, json_body, Audience, Doc};
use crate::schema::{names, Collection, FieldKind};
use serde_json::{json, Map, Value};

/// Adds `col`'s schemas and paths to `doc` for `audience`.
pub fn add(doc: &mut Doc, col: &Collection, audience: Audience) {
    let su = audience == Audience::Superuser;
    let allowed = |rule: &Option<String>| su || rule.is_some();
    let crud = [
        &col.list_rule,
        &col.view_rule,
        &col.create_rule,
        &col.update_rule,
        &col.delete_rule,
    ];
    let any_crud = crud.iter().any(|r| allowed(r));
    if !any_crud && !col.is_auth() {
        return;
    }
    let n = &col.name;
    doc.schemas.insert(record_name(n), record_schema(col, su));
    let tag = n.clone();
    doc.tags.push(json!({
        "name": tag,
        "description": format!("Records of the {} collection `{n}`.", col.kind.as_str()),
    }));
    let base = format!("/api/collections/{n}");
    let record_ref = schema_ref(&record_name(n));

    let mut records = Map::new();
    if allowed(&col.list_rule) {
        let list_name = format!("{n}List");
        doc.schemas
            .insert(list_name.clone(), list_schema(&record_ref));
        let mut params = list_params();
        params.extend(view_params());
        records.insert(
            "get".into(),
            op(
                &tag,
                &format!("list_{n}"),
                &format!("List {n} records"),
                rule_note(&col.list_rule),
                params,
                None,
                ok(200, "A page of records.", &schema_ref(&list_name)),
                &[400, 403],
            ),
        );
    }
    if allowed(&col.create_rule) {
        let create = format!("{n}Create");
        doc.schemas
            .insert(create.clone(), body_schema(col, su, false));
        let mut created = op(
            &tag,
            &format!("create_{n}"),
            &format!("Create a {n} record"),
            rule_note(&col.create_rule),
            view_params(),
            Some(request_body(col, &create, true)),
            ok(200, "The created record.", &record_ref),
            &[400, 403, 404, 413],
        );
        // What to do with the new record next (clients and stateful fuzzers follow these).
        let links: Map<String, Value> = [
            ("view", &col.view_rule, "View the created record."),
            ("update", &col.update_rule, "Update the created record."),
            ("delete", &col.delete_rule, "Delete the created record."),
        ]
        .into_iter()
        .filter(|(_, rule, _)| allowed(rule))
        .map(|(verb, _, description)| {
            let link = json!({
                "operationId": format!("{verb}_{n}"),
                "parameters": {"id": "$response.body#/id"},
                "description": description,
            });
            (format!("{verb}_{n}"), link)
        })
        .collect();
        if !links.is_empty() {
            created["responses"]["200"]["links"] = Value::Object(links);
        }
        records.insert("post".into(), created);
    }
    if !records.is_empty() {
        doc.paths
            .insert(format!("{base}/records"), Value::Object(records));
    }

    let mut one = Map::new();
    if allowed(&col.view_rule) {
        one.insert(
            "get".into(),
            op(
                &tag,
                &format!("view_{n}"),
                &format!("View a {n} record"),
                rule_note(&col.view_rule),
                view_params(),
                None,
                ok(200, "The record.", &record_ref),
                &[400, 403, 404],
            ),
        );
    }
    if allowed(&col.update_rule) {
        let update = format!("{n}Update");
        doc.schemas
            .insert(update.clone(), body_schema(col, su, true));
        one.insert(
            "patch".into(),
            op(
                &tag,
                &format!("update_{n}"),
                &format!("Update a {n} record"),
                rule_note(&col.update_rule),
                view_params(),
                Some(request_body(col, &update, false)),
                ok(200, "The updated record.", &record_ref),
                &[400, 403, 404, 413],
            ),
        );
    }
    if allowed(&col.delete_rule) {
        one.insert(
            "delete".into(),
            op(
                &tag,
                &format!("delete_{n}"),
                &format!("Delete a {n} record"),
                rule_note(&col.delete_rule),
                Vec::new(),
                None,
                no_content("Deleted."),
                &[400, 403, 404],
            ),
        );
    }
    if !one.is_empty() {
        let mut item = Map::new();
        item.insert("parameters".into(), json!([id_param()]));
        item.extend(one);
        doc.paths
            .insert(format!("{base}/records/{{id}}"), Value::Object(item));
    }

    if col.is_auth() {
        auth_paths(doc, col, &tag, &record_ref, su);
    }
}

/// The name of a collection's record schema.
pub fn record_name(collection: &str) -> String {
    format!("{collection}Record")
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn rule_note(rule: &Option<String>) -> String {
    match rule {
        None => "Superusers only (the rule is null).".into(),
        Some(r) if r.is_empty() => "Anyone may call this (the rule is empty).".into(),
        Some(r) => format!("Allowed when the rule holds: `{r}` (superusers always)."),
    }
}

/// The record as `su` (or anyone else) receives it. No key is required: `fields` picks keys.
fn record_schema(col: &Collection, su: bool) -> Value {
    let mut props = Map::new();
    props.insert(names::COLLECTION_ID.into(), json!({"type": "string"}));
    props.insert(names::COLLECTION_NAME.into(), json!({"type": "string"}));
    for f in &col.fields {
        if col.is_auth() && f.name == names::TOKEN_KEY {
            continue;
        }
        let hidden_password = matches!(f.kind, FieldKind::Password { .. }) && f.hidden;
        if hidden_password || (f.hidden && !su) {
            continue;
        }
        props.insert(f.name.clone(), fields::output(f));
    }
    props.insert(
        names::EXPAND.into(),
        json!({"type": "object", "description": "Related records asked for with `expand`."}),
    );
    let mut s = json!({"type": "object", "properties": props});
    if col.is_auth() {
        s["description"] = json!(
            "`email` is left out unless `emailVisibility` is true, the caller owns or manages the record, or is a superuser."
        );
    }
    s
}

fn list_schema(record: &Value) -> Value {
    json!({
        "type": "object",
        "properties": {
            "page": {"type": "integer"},
            "perPage": {"type": "integer"},
            "totalItems": {"type": "integer", "description": "-1 with skipTotal."},
            "totalPages": {"type": "integer", "description": "-1 with skipTotal."},
            "items": {"type": "array", "items": record},
        },
        "required": ["page", "perPage", "totalItems", "totalPages", "items"],
    })
}

/// A create (`update` false) or update body: every settable field, the update modifiers, and for
/// auth collections `passwordConfirm` (and `oldPassword` on updates).
fn body_schema(col: &Collection, su: bool, update: bool) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for f in &col.fields {
        if col.is_auth() && f.name == names::TOKEN_KEY {
            continue;
        }
        if f.hidden && !su && !matches!(f.kind, FieldKind::Password { .. }) {
            continue;
        }
        let Some(schema) = fields::input(f) else {
            continue;
        };
        let primary = matches!(&f.kind, FieldKind::Text(o) if o.primary_key);
        if primary && update {
            continue;
        }
        if !update && f.required && !primary {
            required.push(json!(f.name));
        }
        props.insert(f.name.clone(), schema);
        if update {
            props.extend(fields::modifiers(f));
        }
    }
    if col.is_auth() {
        props.insert("passwordConfirm".into(), json!({"type": "string"}));
        if !update {
            required.push(json!("passwordConfirm"));
        }
        if update {
            props.insert(
                "oldPassword".into(),
                json!({"type": "string", "description": "Needed to change the password (except for superusers)."}),
            );
        }
    }
    let mut s = json!({"type": "object", "properties": props});
    if !required.is_empty() {
        s["required"] = Value::Array(required);
    }
    s
}

fn request_body(col: &Collection, schema: &str, create: bool) -> Value {
    let mut content = Map::new();
    content.insert(
        "application/json".into(),
        json!({"schema": schema_ref(schema)}),
    );
    if col
        .fields
        .iter()
        .any(|f| matches!(f.kind, FieldKind::File(_)))
    {
        let mut props = Map::new();
        for f in &col.fields {
            let primary = matches!(&f.kind, FieldKind::Text(o) if o.primary_key);
            if (primary && !create) || (col.is_auth() && f.name == names::TOKEN_KEY) {
                continue;
            }
            if let Some(s) = fields::form(f) {
                props.insert(f.name.clone(), s);
            }
        }
        content.insert(
            "multipart/form-data".into(),
            json!({"schema": {"type": "object", "properties": props}}),
        );
    }
    json!({"required": true, "content": content})
}

fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn list_params() -> Vec<Value> {
    vec![
        query(
            "page",
            json!({"type": "integer", "minimum": 1}),
            "The page (from 1).",
        ),
        query(
            "perPage",
            json!({"type": "integer", "minimum": 1, "maximum": 1000}),
            "Records per page (default 30).",
        ),
        query("sort", json!({"type": "string"}), "E.g. `-created,id`."),
        query(
            "filter",
            json!({"type": "string"}),
            "E.g. `(title~'abc' && n>1)`.",
        ),
        query(
            "skipTotal",
            json!({"type": "boolean"}),
            "Skip counting: totalItems and totalPages are -1.",
        ),
    ]
}

fn view_params() -> Vec<Value> {
    vec![
        query(
            "expand",
            json!({"type": "string"}),
            "Relations to expand, e.g. `author,tags.owner`.",
        ),
        query(
            "fields",
            json!({"type": "string"}),
            "Keys to return, e.g. `*,expand.author.name`.",
        ),
    ]
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}})
}

fn ok(status: u16, description: &str, schema: &Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(status.to_string(), json_body(description, schema.clone()));
    m
}

fn no_content(description: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("204".into(), json!({"description": description}));
    m
}

#[allow(clippy::too_many_arguments)]
fn op(
    tag: &str,
    id: &str,
    summary: &str,
    description: String,
    params: Vec<Value>,
    body: Option<Value>,
    mut responses: Map<String, Value>,
    errors: &[u16],
) -> Value {
    responses.extend(error_responses(errors));
    let mut o = json!({
        "tags": [tag],
        "operationId": id,
        "summary": summary,
        "description": description,
        "responses": responses,
    });
    if !params.is_empty() {
        o["parameters"] = Value::Array(params);
    }
    if let Some(b) = body {
        o["requestBody"] = b;
    }
    o
}

fn fields_body(props: Value, required: &[&str]) -> Value {
    json!({
        "required": true,
        "content": {"application/json": {"schema": {"type": "object", "properties": props, "required": required}}},
    })
}

/// The auth endpoints of an auth collection (not governed by the CRUD rules; impersonation is
/// superuser only).
fn auth_paths(doc: &mut Doc, col: &Collection, tag: &str, record: &Value, su: bool) {
    let n = &col.name;
    let base = format!("/api/collections/{n}");
    let auth_name = format!("{n}Auth");
    doc.schemas.insert(
        auth_name.clone(),
        json!({
            "type": "object",
            "properties": {"token": {"type": "string"}, "record": record},
            "required": ["token", "record"],
        }),
    );
    let auth = schema_ref(&auth_name);
    let s = json!({"type": "string"});
    let mut add = |path: &str, method: &str, o: Value| {
        let entry = doc
            .paths
            .entry(format!("{base}/{path}"))
            .or_insert_with(|| json!({}));
        entry[method] = o;
    };
    let with_body = |mut o: Value, body: Value| {
        o["requestBody"] = body;
        o
    };
    add(
        "auth-with-password",
        "post",
        with_body(
            op(
                tag,
                &format!("auth_with_password_{n}"),
                "Log in with a password",
                "Returns a token for the `Authorization` header.".into(),
                view_params(),
                None,
                ok(200, "The token and the record.", &auth),
                &[400, 429],
            ),
            fields_body(
                json!({"identity": s, "password": s, "identityField": s}),
                &["identity", "password"],
            ),
        ),
    );
    add(
        "auth-refresh",
        "post",
        op(
            tag,
            &format!("auth_refresh_{n}"),
            "Refresh the caller's token",
            "Needs a token of this collection.".into(),
            view_params(),
            None,
            ok(200, "A new token and the record.", &auth),
            &[400, 401, 403, 404],
        ),
    );
    add(
        "auth-methods",
        "get",
        op(
            tag,
            &format!("auth_methods_{n}"),
            "The enabled auth methods",
            String::new(),
            Vec::new(),
            None,
            ok(200, "The auth methods.", &schema_ref("AuthMethods")),
            &[400],
        ),
    );
    /// `(path, summary, body properties, required keys, error statuses)`.
    type Flow<'a> = (&'a str, &'a str, Value, &'a [&'a str], &'a [u16]);
    let flows: [Flow; 6] = [
        (
            "request-verification",
            "Send a verification mail",
            json!({"email": s}),
            &["email"],
            &[400],
        ),
        (
            "confirm-verification",
            "Confirm a verification",
            json!({"token": s}),
            &["token"],
            &[400],
        ),
        (
            "request-password-reset",
            "Send a password reset mail",
            json!({"email": s}),
            &["email"],
            &[400],
        ),
        (
            "confirm-password-reset",
            "Set a new password with a reset token",
            json!({"token": s, "password": s, "passwordConfirm": s}),
            &["token", "password", "passwordConfirm"],
            &[400, 429],
        ),
        (
            "request-email-change",
            "Send an email change mail (needs a token of this collection)",
            json!({"newEmail": s}),
            &["newEmail"],
            &[400, 401, 403],
        ),
        (
            "confirm-email-change",
            "Confirm an email change",
            json!({"token": s, "password": s}),
            &["token", "password"],
            &[400, 429],
        ),
    ];
    for (path, summary, props, required, errors) in flows {
        let id = format!("{}_{n}", path.replace('-', "_"));
        let o = op(
            tag,
            &id,
            summary,
            String::new(),
            Vec::new(),
            None,
            no_content("Done."),
            errors,
        );
        add(path, "post", with_body(o, fields_body(props, required)));
    }
    if su {
        let mut o = op(
            tag,
            &format!("impersonate_{n}"),
            "Issue a token for a record (superusers only)",
            "A non-refreshable token lasting `duration` seconds (default: the collection's auth token duration).".into(),
            view_params(),
            None,
            ok(200, "The token and the record.", &auth),
            &[400, 401, 403, 404],
        );
        if let Some(p) = o["parameters"].as_array_mut() {
            p.insert(0, id_param());
        }
        o["requestBody"] = json!({
            "content": {"application/json": {"schema": {"type": "object", "properties": {"duration": {"type": "integer", "minimum": 0}}}}},
        });
        add("impersonate/{id}", "post", o);
    }
}
