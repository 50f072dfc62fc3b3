//! `fields`: project each record to the listed keys (`id,title`, `*`, `expand.author.name`,
//! `body:excerpt(200,true)`). Paths are bounded in number and depth (like `expand`), so the
//! projection tree — built, applied and dropped recursively — is never deeper than
//! [`MAX_FIELDS_DEPTH`] whatever the client sends.

use crate::error::{echo, ApiError, ApiResult, FieldError, MSG_GENERIC};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Most segments in one `fields` path: six expand levels (`expand.a.expand.b…name`) fit easily.
pub const MAX_FIELDS_DEPTH: usize = 32;
/// Most comma-separated `fields` paths.
pub const MAX_FIELDS_PATHS: usize = 200;

#[derive(Debug, Clone, PartialEq)]
struct Excerpt {
    max: usize,
    ellipsis: bool,
}

/// A parsed projection: per key either everything below it, a sub-projection, or an excerpt.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Projection {
    all: bool,
    keys: BTreeMap<String, Node>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Whole,
    Excerpt(Excerpt),
    Sub(Projection),
}

fn bad(message: String) -> ApiError {
    ApiError::bad_field(
        MSG_GENERIC,
        "fields",
        FieldError::new("validation_invalid_fields", message),
    )
}

fn over_limit(message: String, max: usize) -> ApiError {
    ApiError::bad_field(
        MSG_GENERIC,
        "fields",
        FieldError::new("validation_invalid_fields", message).with_params(json!({ "max": max })),
    )
}

fn parse_excerpt(modifier: &str) -> ApiResult<Excerpt> {
    let args = modifier
        .strip_prefix("excerpt(")
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| bad(format!("Unknown field modifier {:?}.", echo(modifier))))?;
    let mut it = args.split(',').map(str::trim);
    let max = it
        .next()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| bad("excerpt needs a positive max length.".into()))?;
    let ellipsis = match it.next() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(bad(format!(
                "excerpt withEllipsis must be true or false, got {:?}.",
                echo(other)
            )))
        }
    };
    Ok(Excerpt { max, ellipsis })
}

/// Splits on commas outside parentheses (`a:excerpt(10,true),b`).
fn split_top(raw: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
    for (i, c) in raw.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&raw[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&raw[start..]);
    out
}

impl Projection {
    pub fn parse(raw: &str) -> ApiResult<Self> {
        let items: Vec<&str> = split_top(raw)
            .into_iter()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if items.len() > MAX_FIELDS_PATHS {
            return Err(over_limit(
                format!("At most {MAX_FIELDS_PATHS} fields paths are allowed."),
                MAX_FIELDS_PATHS,
            ));
        }
        let mut p = Projection::default();
        for item in items {
            let (path, modifier) = match item.split_once(':') {
                Some((a, m)) => (a, Some(parse_excerpt(m)?)),
                None => (item, None),
            };
            let segments: Vec<&str> = path.split('.').take(MAX_FIELDS_DEPTH + 1).collect();
            if segments.len() > MAX_FIELDS_DEPTH {
                return Err(over_limit(
                    format!(
                        "Fields path {:?} is deeper than {MAX_FIELDS_DEPTH} levels.",
                        echo(path)
                    ),
                    MAX_FIELDS_DEPTH,
                ));
            }
            p.insert(&segments, modifier);
        }
        Ok(p)
    }

    fn insert(&mut self, path: &[&str], modifier: Option<Excerpt>) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if *first == "*" {
            self.all = true;
            return;
        }
        if rest.is_empty() {
            let node = match modifier {
                Some(e) => Node::Excerpt(e),
                None => Node::Whole,
            };
            self.keys.insert(first.to_string(), node);
            return;
        }
        let entry = self
            .keys
            .entry(first.to_string())
            .or_insert_with(|| Node::Sub(Projection::default()));
        if let Node::Sub(sub) = entry {
            sub.insert(rest, modifier);
        }
    }

    /// Applies the projection to one value (objects are projected, arrays element-wise).
    pub fn apply(&self, v: Value) -> Value {
        match v {
            Value::Array(items) => Value::Array(items.into_iter().map(|i| self.apply(i)).collect()),
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, val) in m {
                    match self.keys.get(&k) {
                        Some(Node::Whole) => {
                            out.insert(k, val);
                        }
                        Some(Node::Excerpt(e)) => {
                            out.insert(k, excerpt(&val, e));
                        }
                        Some(Node::Sub(sub)) => {
                            out.insert(k, sub.apply(val));
                        }
                        None if self.all => {
                            out.insert(k, val);
                        }
                        None => {}
                    }
                }
                Value::Object(out)
            }
            other => other,
        }
    }
}

/// Plain text of `v` (HTML tags stripped, whitespace collapsed) cut to `e.max` characters.
fn excerpt(v: &Value, e: &Excerpt) -> Value {
    let Some(s) = v.as_str() else {
        return v.clone();
    };
    let mut text = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= e.max {
        return Value::String(collapsed);
    }
    let mut cut: String = collapsed.chars().take(e.max).collect();
    if e.ellipsis {
        cut.push_str("...");
    }
    Value::String(cut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn projects_keys_star_and_nested_expand() {
        let p = Projection::parse("id, expand.author.name").expect("parse");
        let v = json!({"id":"1","title":"t","expand":{"author":{"name":"A","email":"e"}}});
        assert_eq!(
            p.apply(v.clone()),
            json!({"id":"1","expand":{"author":{"name":"A"}}})
        );
        let p = Projection::parse("*,expand.author.name").expect("parse");
        assert_eq!(
            p.apply(v),
            json!({"id":"1","title":"t","expand":{"author":{"name":"A"}}})
        );
    }

    #[test]
    fn excerpt_strips_html_and_truncates() {
        let p = Projection::parse("body:excerpt(10,true),t:excerpt(5)").expect("parse");
        let v = json!({"body":"<p>first   post here</p>","t":"Hello World"});
        assert_eq!(p.apply(v), json!({"body":"first post...","t":"Hello"}));
        assert!(Projection::parse("a:excerpt(x)").is_err());
        assert!(Projection::parse("a:upper").is_err());
    }

    #[test]
    fn paths_are_bounded_in_depth_and_number() {
        let deep = vec!["a"; 10_000].join(".");
        let e = Projection::parse(&deep).expect_err("too deep");
        let body = e.body().to_string();
        assert!(body.contains("validation_invalid_fields"), "{body}");
        assert!(body.len() < 600, "echo is truncated: {}", body.len());
        let ok = vec!["a"; MAX_FIELDS_DEPTH].join(".");
        assert!(Projection::parse(&ok).is_ok());
        assert!(Projection::parse(&format!("{ok}.b")).is_err());
        let many: Vec<String> = (0..=MAX_FIELDS_PATHS).map(|i| format!("f{i}")).collect();
        assert!(Projection::parse(&many.join(",")).is_err());
        assert!(Projection::parse(&many[1..].join(",")).is_ok());
    }

    #[test]
    fn arrays_are_projected_per_item() {
        let p = Projection::parse("expand.cats.name").expect("parse");
        let v = json!({"expand":{"cats":[{"name":"a","x":1},{"name":"b"}]}});
        assert_eq!(
            p.apply(v),
            json!({"expand":{"cats":[{"name":"a"},{"name":"b"}]}})
        );
    }
}
