//! The compiled filter: boolean nodes over comparisons of value sources, and the join groups
//! (multi-row joins) those sources read.

use crate::ids::CollectionId;
use crate::query::ast::{CmpOp, Func, Macro, Modifier};
use crate::query::value::{LikePattern, Val};
use crate::schema::Collection;
use std::sync::Arc;

/// One multi-row join of a filter: a multi relation or back-relation hop, `:each` over a multi
/// field, or an `@collection` reference. PocketBase joins each path prefix once per query (one
/// SQL alias), and its WHERE clause sees one joined row at a time: every `?` comparison of one
/// `&&` that reads the join must hold for the SAME row (`cats.name ?= 'a' && cats.name ?= 'b'`
/// needs one category named both). Comparisons without `?` hold for every row anyway
/// (PocketBase adds a `NOT EXISTS` over all rows), so only `?` comparisons bind rows.
#[derive(Debug, Clone)]
pub(in crate::query) struct JoinGroup {
    /// What identifies the join: its path prefix (`cats`, `posts_via_author.cats`,
    /// `@collection.x:a`); `cats:each` and `cats.name` share the join of `cats`.
    pub key: String,
    /// The join this one hangs off: its rows are those of the parent's current row.
    pub parent: Option<usize>,
    /// Yields one value per row of the join (evaluation counts the rows through it).
    pub rows: Src,
}

#[derive(Debug, Clone)]
pub(in crate::query) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Cmp(Box<CmpNode>),
}

#[derive(Debug, Clone)]
pub(in crate::query) struct CmpNode {
    pub left: Src,
    pub op: CmpOp,
    pub any: bool,
    pub right: Src,
    /// A JSON operand: `=` uses `IS` semantics instead of coalescing null to `''`.
    pub strict: bool,
    /// The precompiled pattern when the right side of `~`/`!~` is a literal.
    pub like: Option<LikePattern>,
    /// `field = literal` on a plain top-level field, as the index values it can match.
    pub eq: Option<crate::query::plan::EqKey>,
    /// The join groups whose current row a `?` comparison reads (sorted, with their parents);
    /// empty without `?`: such a comparison reads every row.
    pub binds: Vec<usize>,
    /// The groups of `binds` read by BOTH sides (`cats.name ?!~ cats.name`): PocketBase compares
    /// the two sides within one joined row, so evaluation binds these before comparing.
    pub self_join: Vec<usize>,
}

/// Where a compared value comes from.
#[derive(Debug, Clone)]
pub(in crate::query) enum Src {
    Const(Val<'static>),
    Macro(Macro),
    /// A path from the filtered record.
    Path(PathSrc),
    /// `@collection.<name>[:alias]…`: `group` is the join of the collection's rows.
    Collection {
        collection: CollectionId,
        group: usize,
        path: PathSrc,
    },
    /// `@request.auth.<path>`, resolved against the caller's collection at evaluation.
    Auth(Vec<String>, Option<Modifier>),
    /// `@request.body.<key>[.json…]`.
    Body {
        key: String,
        json: Vec<String>,
        modifier: Option<Modifier>,
    },
    Query(String),
    Header(String),
    Method,
    Context,
    Call(Func, Vec<Src>),
    /// Something PocketBase accepts but never matches (`meta.arr:length`): every comparison false.
    Never,
}

/// Who may see the records a hop reaches.
#[derive(Debug, Clone)]
pub(in crate::query) enum Visibility {
    All,
    Nobody,
    /// The target's listRule expression; checked by [`crate::query::eval`]'s `join_rule_allows` hook.
    Rule(Arc<Collection>),
}

/// One step from a record to related records.
#[derive(Debug, Clone)]
pub(in crate::query) enum Hop {
    /// The relation `field` pointing into `target`.
    Forward {
        field: String,
        target: CollectionId,
        visible: Visibility,
    },
    /// Records of `source` whose relation `field` contains the current id.
    Back {
        source: CollectionId,
        field: String,
        visible: Visibility,
    },
}

/// A resolved field path.
#[derive(Debug, Clone)]
pub(in crate::query) struct PathSrc {
    pub hops: Vec<Hop>,
    /// The join group of each hop that can reach several records (parallel to `hops`).
    pub nodes: Vec<Option<usize>>,
    /// The join group of `:each` on a multi field.
    pub each: Option<usize>,
    pub field: String,
    /// Segments into a json field.
    pub json: Vec<String>,
    pub modifier: Option<Modifier>,
    /// Whether the path can yield several values (multi relation, back-relation, `:each`).
    pub multi: bool,
    /// A json field: strict null semantics.
    pub is_json: bool,
    /// `email` of this auth collection read by a non-superuser client filter: a record whose
    /// email the caller cannot see yields no value and no comparison on it matches
    /// ([`crate::query::env::email_visible`]).
    pub email_of: Option<CollectionId>,
}
