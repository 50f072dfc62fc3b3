//! Collection rules compiled with the filter engine: the five CRUD rules plus `authRule` and
//! `manageRule` of auth collections. Compiled once per schema snapshot (cached by
//! `schema::Snapshot::rules`), validated when a collection is saved.

use super::compile::{compile, CompileCtx, Compiled, Mode, Node};
use super::{parse_with, Limits, QueryError};
use crate::schema::{Collection, Snapshot};
use std::sync::Arc;

/// One rule, ready to evaluate.
#[derive(Debug, Clone)]
pub enum Rule {
    /// `null`: superusers only.
    Superusers,
    /// `""`: everyone.
    Everyone,
    /// An expression over the record and `@request.*`.
    Expr(Arc<Compiled>),
}

/// Every rule of one collection.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub list: Rule,
    pub view: Rule,
    pub create: Rule,
    pub update: Rule,
    pub delete: Rule,
    /// `manageRule` (auth collections; `Superusers` otherwise).
    pub manage: Rule,
    /// `authRule` (auth collections; `Everyone` otherwise).
    pub auth: Rule,
}

/// The rule keys of a collection with their sources (auth rules only for auth collections).
fn sources(col: &Collection) -> Vec<(&'static str, Option<&str>)> {
    let mut out = vec![
        ("listRule", col.list_rule.as_deref()),
        ("viewRule", col.view_rule.as_deref()),
        ("createRule", col.create_rule.as_deref()),
        ("updateRule", col.update_rule.as_deref()),
        ("deleteRule", col.delete_rule.as_deref()),
    ];
    if let Some(a) = &col.auth {
        out.push(("authRule", a.auth_rule.as_deref()));
        out.push(("manageRule", a.manage_rule.as_deref()));
    }
    out
}

/// Compiles one rule expression of `col` (rules may use `@request.*`, `@collection.*` and
/// hidden fields: they are written by superusers).
pub fn compile_rule(
    src: &str,
    col: &Arc<Collection>,
    schema: &Snapshot,
) -> Result<Compiled, QueryError> {
    let limits = Limits::default();
    let expr = parse_with(src, &limits)?;
    let ctx = CompileCtx {
        collection: col,
        schema,
        superuser: true,
        mode: Mode::Rule,
        limits,
    };
    compile(&expr, &ctx)
}

fn one(src: Option<&str>, col: &Arc<Collection>, schema: &Snapshot, key: &str) -> Rule {
    match src {
        None => Rule::Superusers,
        Some(s) if s.trim().is_empty() => Rule::Everyone,
        Some(s) => match compile_rule(s, col, schema) {
            Ok(c) => Rule::Expr(Arc::new(c)),
            Err(e) => {
                // Saved rules are validated; one can still break when another collection changes.
                // Fail closed: superusers only.
                tracing::warn!(collection = %col.name, rule = key, error = %e, "rule does not compile; treating it as superusers-only");
                Rule::Superusers
            }
        },
    }
}

impl RuleSet {
    /// Compiles every rule of `col` against `schema`; broken rules become superusers-only.
    pub fn compile(col: &Arc<Collection>, schema: &Snapshot) -> Self {
        let get = |key: &str| {
            let src = sources(col)
                .into_iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, s)| s);
            one(src, col, schema, key)
        };
        let is_auth = col.auth.is_some();
        Self {
            list: get("listRule"),
            view: get("viewRule"),
            create: get("createRule"),
            update: get("updateRule"),
            delete: get("deleteRule"),
            manage: if is_auth {
                get("manageRule")
            } else {
                Rule::Superusers
            },
            auth: if is_auth {
                get("authRule")
            } else {
                Rule::Everyone
            },
        }
    }

    /// All rules superusers-only (unknown collection).
    pub fn locked() -> Self {
        Self {
            list: Rule::Superusers,
            view: Rule::Superusers,
            create: Rule::Superusers,
            update: Rule::Superusers,
            delete: Rule::Superusers,
            manage: Rule::Superusers,
            auth: Rule::Superusers,
        }
    }
}

/// The rule keys of `col` whose expression does not compile, with the positioned reason.
pub fn invalid_rules(col: &Arc<Collection>, schema: &Snapshot) -> Vec<(&'static str, String)> {
    sources(col)
        .into_iter()
        .filter_map(|(key, src)| {
            let src = src.filter(|s| !s.trim().is_empty())?;
            compile_rule(src, col, schema)
                .err()
                .map(|e| (key, e.to_string()))
        })
        .collect()
}

impl Compiled {
    /// `self && other` as one filter (both compiled for the same collection): a list rule
    /// combined with the client's filter, planned and evaluated in one pass. Joins with the same
    /// path are shared, as in PocketBase's single query.
    pub fn and(&self, other: &Compiled) -> Compiled {
        let mut groups = self.groups.clone();
        let map = super::compile::merge_groups(&mut groups, &other.groups);
        let mut right = other.root.clone();
        super::compile::remap_groups(&mut right, &map);
        let mut items = Vec::new();
        for n in [self.root.clone(), right] {
            match n {
                Node::And(v) => items.extend(v),
                n => items.push(n),
            }
        }
        let root = Node::And(items);
        Compiled {
            shares: super::compile::shares(&root),
            root,
            groups,
            source: format!("({}) && ({})", self.source, other.source),
        }
    }
}
