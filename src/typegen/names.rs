//! TypeScript spelling: property keys, string literals and unique PascalCase type names.

use std::collections::HashSet;

/// Whether `s` can be written as a bare property name (an ASCII identifier).
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// A property key: bare when it is an identifier, else a string literal.
pub fn key(s: &str) -> String {
    if is_identifier(s) {
        s.to_string()
    } else {
        string_literal(s)
    }
}

/// A single-quoted TypeScript string literal of `s`.
pub fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `blog_posts` → `BlogPosts`, `blogPosts` → `BlogPosts`: words split at anything but ASCII
/// letters and digits, each with its first letter upper-cased. May be empty or start with a digit.
pub fn pascal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if start {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            start = false;
        } else {
            start = true;
        }
    }
    out
}

/// The type names in use, so every declared name is unique.
#[derive(Default)]
pub struct TypeNames(HashSet<String>);

impl TypeNames {
    /// Marks a name as used.
    pub fn reserve(&mut self, name: &str) {
        self.0.insert(name.to_string());
    }

    /// A prefix based on `base` such that prefix + each suffix is unused (`Posts`, then `Posts2`,
    /// `Posts3`, …), and marks those names used. A base that is empty or starts with a digit gets
    /// a `T` in front, so the names are identifiers.
    pub fn take_prefix(&mut self, base: &str, suffixes: &[&str]) -> String {
        let base = if base.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
            base.to_string()
        } else {
            format!("T{base}")
        };
        let mut n = 1u64;
        loop {
            let prefix = if n == 1 {
                base.clone()
            } else {
                format!("{base}{n}")
            };
            if suffixes
                .iter()
                .all(|s| !self.0.contains(&format!("{prefix}{s}")))
            {
                for s in suffixes {
                    self.0.insert(format!("{prefix}{s}"));
                }
                return prefix;
            }
            n += 1;
        }
    }
}
