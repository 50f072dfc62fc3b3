//! The boolean structure of a filter: `&&`, `||`, and the join rows a conjunction's `?`
//! comparisons must share (PocketBase's joined row).

use super::{row_of, Bound, Ev};
use crate::ids::RecordData;
use crate::query::compile::{used_groups, Node};
use crate::query::env::{EvalError, MAX_COMBINATIONS};
use std::collections::HashMap;

impl<'e> Ev<'e, '_> {
    pub(super) fn node(
        &self,
        n: &Node,
        rec: &RecordData,
        bound: &mut Bound,
    ) -> Result<bool, EvalError> {
        match n {
            Node::And(items) if self.shares => self.and(items, rec, bound),
            Node::And(items) => {
                for i in items {
                    if !self.node(i, rec, bound)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Node::Or(items) => {
                for i in items {
                    if self.node(i, rec, bound)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            // Both sides of a `?` comparison reading the same join compare within one row.
            Node::Cmp(c)
                if c.any
                    && c.self_join
                        .iter()
                        .any(|g| row_of(bound, Some(*g)).is_none()) =>
            {
                let free: Vec<usize> = c
                    .self_join
                    .iter()
                    .copied()
                    .filter(|g| row_of(bound, Some(*g)).is_none())
                    .collect();
                self.exists(&free, &[n], rec, bound)
            }
            // Without `?` a comparison holds for every row, whatever row is bound.
            Node::Cmp(c) if c.any => self.cmp(c, rec, bound),
            Node::Cmp(c) => self.cmp(c, rec, &[]),
        }
    }

    /// A conjunction: operands whose `?` comparisons read the same free join group must hold
    /// for one shared row of it (PocketBase's joined row), so such operands are evaluated once
    /// per combination of rows of the groups they share; the others once.
    fn and(&self, items: &[Node], rec: &RecordData, bound: &mut Bound) -> Result<bool, EvalError> {
        // Union-find over the operands, linked by the free groups they share.
        let mut link: Vec<usize> = (0..items.len()).collect();
        fn root(link: &[usize], mut i: usize) -> usize {
            while let Some(&up) = link.get(i).filter(|&&up| up != i) {
                i = up;
            }
            i
        }
        let mut owner: HashMap<usize, usize> = HashMap::new();
        let mut shared: Vec<usize> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let mut mine = Vec::new();
            used_groups(item, &mut mine);
            mine.retain(|g| row_of(bound, Some(*g)).is_none());
            mine.sort_unstable();
            mine.dedup();
            for g in mine {
                match owner.get(&g) {
                    Some(&o) => {
                        let (a, b) = (root(&link, o), root(&link, i));
                        if let Some(l) = link.get_mut(b) {
                            *l = a;
                        }
                        if !shared.contains(&g) {
                            shared.push(g);
                        }
                    }
                    None => {
                        owner.insert(g, i);
                    }
                }
            }
        }
        if shared.is_empty() {
            for i in items {
                if !self.node(i, rec, bound)? {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        // Parents are registered before their children: ascending ids bind parents first.
        shared.sort_unstable();
        let comp = |i: usize| -> Option<usize> {
            let r = root(&link, i);
            shared
                .iter()
                .any(|g| owner.get(g).is_some_and(|&o| root(&link, o) == r))
                .then_some(r)
        };
        // Operands that share nothing first: they are cheaper and may settle the result.
        for (i, item) in items.iter().enumerate() {
            if comp(i).is_none() && !self.node(item, rec, bound)? {
                return Ok(false);
            }
        }
        let mut done: Vec<usize> = Vec::new();
        for i in 0..items.len() {
            let Some(r) = comp(i) else { continue };
            if done.contains(&r) {
                continue;
            }
            done.push(r);
            let members: Vec<&Node> = items
                .iter()
                .enumerate()
                .filter(|(j, _)| comp(*j) == Some(r))
                .map(|(_, n)| n)
                .collect();
            let groups: Vec<usize> = shared
                .iter()
                .copied()
                .filter(|g| owner.get(g).is_some_and(|&o| root(&link, o) == r))
                .collect();
            // Refuse up front when the groups whose rows do not depend on each other already
            // need too many combinations; nested ones are counted while enumerating.
            let mut combos: u64 = 1;
            for &g in &groups {
                let Some(group) = self.groups.get(g) else {
                    continue;
                };
                if group.parent.is_some_and(|p| groups.contains(&p)) {
                    continue;
                }
                let rows = self.src(&group.rows, rec, bound)?.items.len().max(1);
                combos = combos.saturating_mul(rows as u64);
                if combos > MAX_COMBINATIONS {
                    return Err(EvalError::TooExpensive(MAX_COMBINATIONS));
                }
            }
            if !self.exists(&groups, &members, rec, bound)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether some binding of `groups` (in order, each to one of its rows) makes every node of
    /// `members` true.
    fn exists(
        &self,
        groups: &[usize],
        members: &[&Node],
        rec: &RecordData,
        bound: &mut Bound,
    ) -> Result<bool, EvalError> {
        let Some((&g, rest)) = groups.split_first() else {
            let tried = self.tried.get() + 1;
            self.tried.set(tried);
            if tried > MAX_COMBINATIONS {
                return Err(EvalError::TooExpensive(MAX_COMBINATIONS));
            }
            for n in members {
                if !self.node(n, rec, bound)? {
                    return Ok(false);
                }
            }
            return Ok(true);
        };
        let Some(group) = self.groups.get(g) else {
            return self.exists(rest, members, rec, bound);
        };
        // The rows of the group under the bound parent rows (at least the NULL row).
        let rows = self.src(&group.rows, rec, bound)?.items.len().max(1);
        let mut hit = false;
        for k in 0..rows {
            if let Some(b) = bound.get_mut(g) {
                *b = Some(k);
            }
            if self.exists(rest, members, rec, bound)? {
                hit = true;
                break;
            }
        }
        if let Some(b) = bound.get_mut(g) {
            *b = None;
        }
        Ok(hit)
    }
}
