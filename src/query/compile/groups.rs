//! Join-group bookkeeping: which groups a node or source reads, whether a conjunction shares
//! one, and merging the groups of two compiled filters (a list rule and a client filter).

use super::tree::{JoinGroup, Node, PathSrc, Src};

/// The join groups the `?` comparisons of `n` read, appended to `out` (unsorted, repeated).
pub(in crate::query) fn used_groups(n: &Node, out: &mut Vec<usize>) {
    match n {
        Node::Cmp(c) => out.extend_from_slice(&c.binds),
        Node::And(items) | Node::Or(items) => items.iter().for_each(|i| used_groups(i, out)),
    }
}

/// Whether some `&&` of `n` has two operands reading the same join group with `?`.
pub(in crate::query) fn shares(n: &Node) -> bool {
    match n {
        Node::Cmp(c) => !c.self_join.is_empty(),
        Node::Or(items) => items.iter().any(shares),
        Node::And(items) => {
            let mut seen: Vec<usize> = Vec::new();
            for i in items {
                let mut mine = Vec::new();
                used_groups(i, &mut mine);
                mine.sort_unstable();
                mine.dedup();
                if mine.iter().any(|g| seen.contains(g)) {
                    return true;
                }
                seen.extend(mine);
            }
            items.iter().any(shares)
        }
    }
}

/// The join groups `s` reads (with their parents: a path lists every join along it).
pub(super) fn src_groups(s: &Src, out: &mut Vec<usize>) {
    let path = |p: &PathSrc, out: &mut Vec<usize>| {
        out.extend(p.nodes.iter().flatten());
        out.extend(p.each);
    };
    match s {
        Src::Path(p) => path(p, out),
        Src::Collection { group, path: p, .. } => {
            out.push(*group);
            path(p, out);
        }
        Src::Call(_, args) => args.iter().for_each(|a| src_groups(a, out)),
        _ => {}
    }
}

/// Appends the join groups of `other` to `groups`, sharing those with the same key (PocketBase
/// resolves a list rule and the client filter with one resolver, so they share joins). Returns
/// the new id of each group of `other`.
pub(in crate::query) fn merge_groups(
    groups: &mut Vec<JoinGroup>,
    other: &[JoinGroup],
) -> Vec<usize> {
    let mut map: Vec<usize> = Vec::with_capacity(other.len());
    for g in other {
        if let Some(j) = groups.iter().position(|x| x.key == g.key) {
            map.push(j);
            continue;
        }
        let mut g = g.clone();
        // A parent always precedes its children, so it is already mapped.
        g.parent = g.parent.map(|p| map.get(p).copied().unwrap_or(p));
        remap_src(&mut g.rows, &map);
        groups.push(g);
        map.push(groups.len() - 1);
    }
    map
}

fn remap_src(s: &mut Src, map: &[usize]) {
    let id = |g: usize| map.get(g).copied().unwrap_or(g);
    let path = |p: &mut PathSrc| {
        p.nodes.iter_mut().flatten().for_each(|g| *g = id(*g));
        p.each = p.each.map(id);
    };
    match s {
        Src::Path(p) => path(p),
        Src::Collection { group, path: p, .. } => {
            *group = id(*group);
            path(p);
        }
        Src::Call(_, args) => args.iter_mut().for_each(|a| remap_src(a, map)),
        _ => {}
    }
}

/// Renumbers the join groups of `n` through `map` (from [`merge_groups`]).
pub(in crate::query) fn remap_groups(n: &mut Node, map: &[usize]) {
    match n {
        Node::And(v) | Node::Or(v) => v.iter_mut().for_each(|c| remap_groups(c, map)),
        Node::Cmp(c) => {
            remap_src(&mut c.left, map);
            remap_src(&mut c.right, map);
            for g in &mut c.binds {
                *g = map.get(*g).copied().unwrap_or(*g);
            }
            c.binds.sort_unstable();
            c.binds.dedup();
            for g in &mut c.self_join {
                *g = map.get(*g).copied().unwrap_or(*g);
            }
            c.self_join.sort_unstable();
            c.self_join.dedup();
        }
    }
}
