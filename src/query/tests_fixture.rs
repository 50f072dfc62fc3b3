//! Test fixture: a real sled store in a temp dir with the `posts` schema of the reference (§4):
//! users (auth), cats, posts (views, tags, cats, author, meta, pubdate, secret), comments.

use super::{compile, parse, CompileCtx, Compiled, EvalEnv, Mode, QueryError, RequestInfo};
use crate::ids::{RecordData, RecordId};
use crate::schema::{parse_datetime, Registry, Snapshot};
use crate::store::{Expect, SledStore, Store, StoreOptions, WriteOp};
use serde_json::{json, Value};
use std::sync::Arc;

pub struct Fixture {
    _dir: tempfile::TempDir,
    pub store: Arc<SledStore>,
    pub schema: Arc<Snapshot>,
    pub rules: super::RuleCache,
}

fn obj(v: Value) -> RecordData {
    v.as_object().cloned().unwrap_or_default()
}

impl Fixture {
    pub async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), StoreOptions::default()).unwrap();
        let reg = Registry::load(store.as_ref(), crate::query::invalid_rules)
            .await
            .unwrap();
        // Replace the default `users` with the fixture's own.
        reg.delete(store.as_ref(), "users").await.unwrap();
        let users = reg
            .create(
                store.as_ref(),
                &json!({"name": "users", "type": "auth", "listRule": "",
                "fields": [{"name": "name", "type": "text"}]}),
            )
            .await
            .unwrap();
        let cats = reg
            .create(
                store.as_ref(),
                &json!({"name": "cats", "type": "base", "listRule": null,
                "fields": [{"name": "name", "type": "text"}]}),
            )
            .await
            .unwrap();
        let posts = reg
            .create(store.as_ref(), &json!({"name": "posts", "type": "base", "listRule": "",
                "fields": [
                    {"name": "title", "type": "text"},
                    {"name": "views", "type": "number"},
                    {"name": "published", "type": "bool"},
                    {"name": "tags", "type": "select", "values": ["go", "rust", "web"], "maxSelect": 3},
                    {"name": "cats", "type": "relation", "collectionId": cats.id.as_str(), "maxSelect": 5},
                    {"name": "author", "type": "relation", "collectionId": users.id.as_str(), "maxSelect": 1},
                    {"name": "meta", "type": "json"},
                    {"name": "pubdate", "type": "date"},
                    {"name": "secret", "type": "text", "hidden": true}],
                "indexes": ["CREATE INDEX idx_views ON posts (views)",
                            "CREATE INDEX idx_title_views ON posts (title, views)",
                            "CREATE UNIQUE INDEX idx_secret ON posts (secret) WHERE secret != ''"]}))
            .await
            .unwrap();
        reg.create(store.as_ref(), &json!({"name": "comments", "type": "base", "listRule": "",
                "fields": [
                    {"name": "text", "type": "text"},
                    {"name": "post", "type": "relation", "collectionId": posts.id.as_str(), "maxSelect": 1},
                    {"name": "author", "type": "relation", "collectionId": users.id.as_str(), "maxSelect": 1}]}))
            .await
            .unwrap();
        let schema = reg.snapshot();
        let rows: Vec<(&str, Value)> = vec![
            (
                "users",
                json!({"id": "alice0000000000", "name": "Alice", "email": "a@x.io", "tokenKey": "k1", "password": "h", "verified": false, "emailVisibility": false}),
            ),
            (
                "users",
                json!({"id": "bob000000000000", "name": "Bob", "email": "b@x.io", "tokenKey": "k2", "password": "h", "verified": false, "emailVisibility": false}),
            ),
            ("cats", json!({"id": "catnews00000000", "name": "news"})),
            ("cats", json!({"id": "cattech00000000", "name": "tech"})),
            (
                "posts",
                json!({"id": "p1", "title": "Hello World", "views": 10, "published": true, "tags": ["rust"], "cats": ["catnews00000000", "cattech00000000"], "author": "alice0000000000", "meta": {"lang": "en", "score": 7, "arr": [1, 2]}, "pubdate": "2024-01-02 03:04:05.000Z", "secret": "s1"}),
            ),
            (
                "posts",
                json!({"id": "p2", "title": "Rust is fast", "views": 3, "published": false, "tags": ["go", "rust"], "cats": ["cattech00000000"], "author": "bob000000000000", "meta": {"lang": "de"}, "pubdate": "", "secret": ""}),
            ),
            (
                "posts",
                json!({"id": "p3", "title": "it's \"q\" 50%", "views": 0, "published": false, "tags": [], "cats": [], "author": "", "meta": null, "pubdate": "2030-05-06 00:00:00.000Z", "secret": ""}),
            ),
            (
                "posts",
                json!({"id": "p4", "title": "make sure_ it", "views": -3.5, "published": true, "tags": ["web"], "cats": ["catnews00000000"], "author": "alice0000000000", "meta": "x", "pubdate": "", "secret": "s4"}),
            ),
            (
                "comments",
                json!({"id": "c1", "text": "nice", "post": "p1", "author": "bob000000000000"}),
            ),
            (
                "comments",
                json!({"id": "c2", "text": "agree", "post": "p1", "author": "alice0000000000"}),
            ),
            (
                "comments",
                json!({"id": "c3", "text": "nice", "post": "p2", "author": "alice0000000000"}),
            ),
        ];
        let mut txn = Vec::new();
        for (coll, data) in rows {
            let col = schema.get(coll).unwrap();
            let data = obj(data);
            txn.push(WriteOp::PutRecord {
                collection: col.id.clone(),
                id: RecordId::from(data["id"].as_str().unwrap()),
                data,
                expect: Expect::Absent,
                indexes: schema.indexes(&col.id),
                relations: schema.relations(&col.id),
            });
        }
        store.commit(txn).await.unwrap();
        Fixture {
            _dir: dir,
            store,
            schema,
            rules: super::RuleCache::default(),
        }
    }

    pub fn compile_as(
        &self,
        coll: &str,
        src: &str,
        superuser: bool,
        mode: Mode,
    ) -> Result<Compiled, QueryError> {
        let col = self.schema.get(coll).unwrap().clone();
        let expr = parse(src)?;
        let mut ctx = CompileCtx::filter(&col, &self.schema, superuser);
        ctx.mode = mode;
        compile(&expr, &ctx)
    }

    pub fn env(&self, request: RequestInfo) -> EvalEnv<'_> {
        let now = parse_datetime("2026-11-24 12:00:00.000Z").unwrap();
        EvalEnv::new(self.store.as_ref(), &self.schema, &self.rules, request, now)
    }

    /// Ids of `coll` records matching `src` as `superuser` (or a guest), in id order.
    pub fn ids_as(
        &self,
        coll: &str,
        src: &str,
        superuser: bool,
        request: RequestInfo,
    ) -> Vec<String> {
        let compiled = self
            .compile_as(coll, src, superuser, Mode::ClientFilter)
            .unwrap_or_else(|e| panic!("{src}: {e}"));
        let env = self.env(request);
        let col = self.schema.get(coll).unwrap();
        self.store
            .scan_records(&col.id)
            .map(|r| r.unwrap().record)
            .filter(|r| compiled.matches(r.fields(), &env).unwrap())
            .map(|r| r.id().0.clone())
            .collect()
    }

    /// Ids of matching posts as a superuser.
    pub fn posts(&self, src: &str) -> Vec<String> {
        self.ids_as("posts", src, true, RequestInfo::default())
    }
}
