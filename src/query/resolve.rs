//! Path resolution for the compiler: fields, relation hops, back-relations (`x_via_y`), json
//! paths and modifiers, plus the visibility checks that apply to non-superuser client filters.

use super::ast::Modifier;
use super::compile::{err, CompileCtx, Compiler, Hop, Mode, PathSrc, Src, Visibility};
use super::{Limits, QueryError};
use crate::schema::{Collection, FieldKind, Snapshot};
use std::sync::Arc;

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

    /// Resolves `segs` (+ modifier) starting at collection `col`.
    pub(super) fn path(
        &mut self,
        col: &Arc<Collection>,
        segs: &[String],
        modifier: Option<Modifier>,
        pos: usize,
    ) -> Result<Src, QueryError> {
        let mut col = col.clone();
        let mut hops = Vec::new();
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
            if let FieldKind::Json { .. } = field.kind {
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
                return Ok(Src::Path(PathSrc {
                    hops,
                    field: seg.clone(),
                    json,
                    modifier,
                    multi,
                    is_json: true,
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
                return Ok(Src::Path(PathSrc {
                    hops,
                    field: seg.clone(),
                    json: Vec::new(),
                    modifier,
                    multi,
                    is_json: false,
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

    fn check_visible(&self, col: &Collection, name: &str, pos: usize) -> Result<(), QueryError> {
        if !self.ctx.restricted() {
            return Ok(());
        }
        let Some(f) = col.field(name) else {
            return Ok(());
        };
        let secret = matches!(f.kind, FieldKind::Password { .. })
            || (col.is_auth() && matches!(name, "tokenKey" | "email" | "password"));
        if f.hidden || secret {
            return Err(err(
                pos,
                format!("the field \"{name}\" cannot be used in a filter (at {pos})"),
            ));
        }
        Ok(())
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
    c.path(col, segs, modifier, 0).ok()
}
