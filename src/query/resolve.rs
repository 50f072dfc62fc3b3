//! Path resolution for the compiler: fields, relation hops, back-relations (`x_via_y`), json
//! paths and modifiers, plus the visibility checks that apply to non-superuser client filters.

use super::ast::Modifier;
use super::compile::{err, CompileCtx, Compiler, Hop, JoinGroup, Mode, PathSrc, Src, Visibility};
use super::{Limits, QueryError};
use crate::ids::CollectionId;
use crate::schema::{Collection, FieldKind, Snapshot};
use std::sync::Arc;

/// Where a path starts: the filtered record, or the rows of an `@collection` join.
pub(super) struct Base {
    /// The key prefix of the joins along the path.
    key: String,
    /// The `@collection` join (collection, group) the path starts from.
    collection: Option<(CollectionId, usize)>,
}

impl Base {
    pub(super) fn record(key: &str) -> Self {
        Self {
            key: key.to_string(),
            collection: None,
        }
    }

    pub(super) fn collection(key: String, id: &CollectionId, group: usize) -> Self {
        Self {
            key,
            collection: Some((id.clone(), group)),
        }
    }

    fn wrap(&self, path: PathSrc) -> Src {
        match &self.collection {
            Some((collection, group)) => Src::Collection {
                collection: collection.clone(),
                group: *group,
                path,
            },
            None => Src::Path(path),
        }
    }
}

impl PathSrc {
    /// A path reading one NULL per row it reaches: counts the rows of a join.
    pub(super) fn row_marker() -> Self {
        Self {
            hops: Vec::new(),
            nodes: Vec::new(),
            each: None,
            field: String::new(),
            json: Vec::new(),
            modifier: None,
            multi: true,
            is_json: false,
            email_of: None,
        }
    }
}

impl Compiler<'_, '_> {
    fn visibility(&self, target: &Arc<Collection>) -> Visibility {
        if !self.ctx.restricted() {
            return Visibility::All;
        }
        match &target.list_rule {
            None => Visibility::Nobody,
            Some(r) if r.trim().is_empty() => Visibility::All,
            Some(_) => Visibility::Rule(target.clone()),
        }
    }

    /// The join group `key` (registered with `rows` on first use), a child of `parent`.
    fn group(
        &mut self,
        key: String,
        parent: Option<usize>,
        rows: impl FnOnce(usize) -> Src,
    ) -> usize {
        if let Some(g) = self.groups.iter().position(|g| g.key == key) {
            return g;
        }
        let g = self.groups.len();
        let rows = rows(g);
        self.groups.push(JoinGroup { key, parent, rows });
        g
    }

    /// Resolves `segs` (+ modifier) starting at a record of collection `col`.
    pub(super) fn path(
        &mut self,
        col: &Arc<Collection>,
        segs: &[String],
        modifier: Option<Modifier>,
        pos: usize,
    ) -> Result<Src, QueryError> {
        self.path_in(col, segs, modifier, pos, &Base::record(""))
    }

    /// Resolves `segs` (+ modifier) starting at `base`, a record of collection `col`, and
    /// registers the multi-row joins along the path.
    pub(super) fn path_in(
        &mut self,
        col: &Arc<Collection>,
        segs: &[String],
        modifier: Option<Modifier>,
        pos: usize,
        base: &Base,
    ) -> Result<Src, QueryError> {
        let mut col = col.clone();
        let mut hops = Vec::new();
        let mut nodes: Vec<Option<usize>> = Vec::new();
        let mut parent = base.collection.as_ref().map(|(_, g)| *g);
        let key = |i: usize| format!("{}.{}", base.key, segs[..=i].join("."));
        let mut multi = false;
        for (i, seg) in segs.iter().enumerate() {
            let last = i + 1 == segs.len();
            let Some(field) = col.field(seg) else {
                if !last {
                    if let Some((source, field)) = self.back_relation(&col, seg) {
                        self.join(pos)?;
                        let visible = self.visibility(&source);
                        hops.push(Hop::Back {
                            source: source.id.clone(),
                            field,
                            visible,
                        });
                        let g = self.group(key(i), parent, |g| {
                            base.wrap(prefix(&hops, &nodes, Some(g)))
                        });
                        nodes.push(Some(g));
                        parent = Some(g);
                        multi = true;
                        col = source;
                        continue;
                    }
                }
                return Err(err(
                    pos,
                    format!("unknown field \"{}\" at {pos}", segs[..=i].join(".")),
                ));
            };
            self.check_visible(&col, seg, pos)?;
            if let FieldKind::Json { .. } | FieldKind::GeoPoint = field.kind {
                let json = segs[i + 1..].to_vec();
                // On a whole json field `:lower` lower-cases its text and `:each` / `:length`
                // are ignored (`meta:each = 1` is `meta = 1`); below a json path every modifier
                // matches nothing (both observed).
                let modifier = match modifier {
                    Some(Modifier::Isset | Modifier::Changed) => {
                        return Err(err(pos, format!("\"{seg}\": :isset and :changed apply to @request.body.* only (at {pos})")));
                    }
                    Some(_) if !json.is_empty() => return Ok(Src::Never),
                    Some(Modifier::Lower) => Some(Modifier::Lower),
                    _ => None,
                };
                return Ok(base.wrap(PathSrc {
                    hops,
                    nodes,
                    each: None,
                    field: seg.clone(),
                    json,
                    modifier,
                    multi,
                    is_json: true,
                    email_of: None,
                }));
            }
            if last {
                let single_relation =
                    matches!(field.kind, FieldKind::Relation { .. }) && !field.is_multi();
                let modifier = match modifier {
                    Some(Modifier::Isset | Modifier::Changed) => {
                        return Err(err(pos, format!("\"{seg}\": :isset and :changed apply to @request.body.* only (at {pos})")));
                    }
                    // PocketBase accepts `:each` / `:length` on single-value fields: on a single
                    // relation they see its zero or one id (`author:length = 0` = no author),
                    // on any other field the modifier is ignored (`views:length = 1` is
                    // `views = 1`).
                    Some(Modifier::Each | Modifier::Length) if !field.is_multi() => {
                        if single_relation {
                            modifier
                        } else {
                            None
                        }
                    }
                    Some(Modifier::Each) => {
                        multi = true;
                        modifier
                    }
                    other => other,
                };
                // `:each` on a multi field joins its elements; on a multi relation this is the
                // join of `<field>.<x>` paths too (`cats:each` and `cats.name` share a row).
                let each = match modifier {
                    Some(Modifier::Each) if field.is_multi() => {
                        let path = PathSrc {
                            hops: hops.clone(),
                            nodes: nodes.clone(),
                            each: None,
                            field: seg.clone(),
                            json: Vec::new(),
                            modifier,
                            multi: true,
                            is_json: false,
                            email_of: None,
                        };
                        Some(self.group(key(i), parent, |g| {
                            base.wrap(PathSrc {
                                each: Some(g),
                                ..path
                            })
                        }))
                    }
                    _ => None,
                };
                return Ok(base.wrap(PathSrc {
                    hops,
                    nodes,
                    each,
                    field: seg.clone(),
                    json: Vec::new(),
                    modifier,
                    multi,
                    is_json: false,
                    email_of: self.email_guard(&col, seg),
                }));
            }
            let FieldKind::Relation { collection_id, .. } = &field.kind else {
                return Err(err(pos, format!("\"{seg}\" is neither a relation nor a json field, so \"{}\" cannot be resolved (at {pos})", segs.join("."))));
            };
            let Some(target) = self.ctx.schema.by_id(collection_id).cloned() else {
                return Err(err(
                    pos,
                    format!("the relation \"{seg}\" points to a missing collection (at {pos})"),
                ));
            };
            self.join(pos)?;
            multi |= field.is_multi();
            hops.push(Hop::Forward {
                field: seg.clone(),
                target: target.id.clone(),
                visible: self.visibility(&target),
            });
            if field.is_multi() {
                let g = self.group(key(i), parent, |g| {
                    base.wrap(prefix(&hops, &nodes, Some(g)))
                });
                nodes.push(Some(g));
                parent = Some(g);
            } else {
                nodes.push(None);
            }
            col = target;
        }
        Err(err(pos, format!("empty identifier at {pos}")))
    }

    /// `<collection>_via_<field>`: a relation field of another collection pointing at `col`.
    fn back_relation(&self, col: &Collection, seg: &str) -> Option<(Arc<Collection>, String)> {
        let (name, field) = seg.split_once("_via_")?;
        let source = self.ctx.schema.get(name)?.clone();
        let f = source.field(field)?;
        match &f.kind {
            FieldKind::Relation { collection_id, .. } if *collection_id == col.id => {
                Some((source.clone(), field.to_string()))
            }
            _ => None,
        }
    }

    /// The auth collection whose per-record email visibility guards reading `name` of `col`
    /// (non-superuser client filters only; rules see every email, as in PocketBase).
    fn email_guard(&self, col: &Collection, name: &str) -> Option<CollectionId> {
        (self.ctx.restricted() && col.is_auth() && name == "email").then(|| col.id.clone())
    }

    fn check_visible(&self, col: &Collection, name: &str, pos: usize) -> Result<(), QueryError> {
        if !self.ctx.restricted() {
            return Ok(());
        }
        let Some(f) = col.field(name) else {
            return Ok(());
        };
        // `email` is allowed: records whose email the caller cannot see never match on it.
        let secret = matches!(f.kind, FieldKind::Password { .. })
            || (col.is_auth() && matches!(name, "tokenKey" | "password"));
        if f.hidden || secret {
            return Err(err(
                pos,
                format!("the field \"{name}\" cannot be used in a filter (at {pos})"),
            ));
        }
        Ok(())
    }
}

/// The rows of a join reached by the last of `hops`: one NULL per row.
fn prefix(hops: &[Hop], nodes: &[Option<usize>], last: Option<usize>) -> PathSrc {
    let mut nodes = nodes.to_vec();
    nodes.push(last);
    PathSrc {
        hops: hops.to_vec(),
        nodes,
        ..PathSrc::row_marker()
    }
}

pub(super) fn is_json(s: &Src) -> bool {
    match s {
        Src::Path(p) | Src::Collection { path: p, .. } => p.is_json,
        _ => false,
    }
}

/// Resolves a path of `@request.auth.*` against the caller's collection (at evaluation time).
pub(super) fn auth_path(
    col: &Arc<Collection>,
    schema: &Snapshot,
    segs: &[String],
    modifier: Option<Modifier>,
) -> Option<Src> {
    let ctx = CompileCtx {
        collection: col,
        schema,
        superuser: true,
        mode: Mode::Rule,
        limits: Limits::default(),
    };
    let mut c = Compiler {
        ctx: &ctx,
        joins: 0,
        groups: Vec::new(),
    };
    // The auth record is not the filtered one: its joins are evaluated on their own.
    let mut src = c.path(col, segs, modifier, 0).ok()?;
    if let Src::Path(p) = &mut src {
        p.nodes.iter_mut().for_each(|n| *n = None);
        p.each = None;
    }
    Some(src)
}
