//! Reading values out of stored JSON: json paths, modifiers, and `@request.body.*`.

use super::ast::Modifier;
use super::env::RequestInfo;
use super::value::{equals, Val};
use crate::ids::RecordData;
use serde_json::Value;
use std::borrow::Cow;

/// Follows `json` segments (object keys, array indexes) from `v`.
fn walk<'r>(mut v: Option<&'r Value>, json: &[String]) -> Option<&'r Value> {
    for seg in json {
        v = match v? {
            Value::Object(m) => m.get(seg),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
    }
    v
}

fn lower(v: Val<'_>) -> Val<'_> {
    match v {
        Val::Text(t) if t.bytes().any(|b| b.is_ascii_uppercase()) => {
            Val::Text(Cow::Owned(t.to_ascii_lowercase()))
        }
        other => other,
    }
}

/// Elements of a multi value: an array's items, one scalar, or nothing for null / `""`.
fn elements(v: Option<&Value>) -> Vec<&Value> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if s.is_empty() => Vec::new(),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(other) => vec![other],
    }
}

/// Pushes the values of a stored field value (after `json` segments and `modifier`) to `out`.
pub fn read<'r>(
    v: Option<&'r Value>,
    json: &[String],
    modifier: Option<Modifier>,
    out: &mut Vec<Val<'r>>,
) {
    let v = walk(v, json);
    match modifier {
        Some(Modifier::Each) => out.extend(elements(v).into_iter().map(Val::from_json)),
        Some(Modifier::Length) => out.push(Val::Num(elements(v).len() as f64)),
        Some(Modifier::Lower) => out.push(lower(v.map_or(Val::Null, Val::from_json))),
        Some(Modifier::Isset | Modifier::Changed) | None => {
            out.push(v.map_or(Val::Null, Val::from_json))
        }
    }
}

/// Values of `@request.body.<key>[.json…][:modifier]` for the record being written.
pub fn body<'r>(
    req: &'r RequestInfo,
    rec: &'r RecordData,
    key: &str,
    json: &[String],
    modifier: Option<Modifier>,
) -> Vec<Val<'r>> {
    let v = walk(req.body.get(key), json);
    let flag = |b: bool| vec![Val::Num(f64::from(u8::from(b)))];
    match modifier {
        Some(Modifier::Isset) => flag(v.is_some()),
        Some(Modifier::Changed) => flag(v.is_some_and(|new| {
            let old = walk(rec.get(key), json).map_or(Val::Null, Val::from_json);
            !equals(&Val::from_json(new), &old, false)
        })),
        other => {
            let mut out = Vec::new();
            read(v, &[], other, &mut out);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_paths_and_modifiers() {
        let v = json!({"arr": [1, {"x": "Hi"}], "lang": "EN"});
        let mut out = Vec::new();
        read(Some(&v), &["arr".into(), "0".into()], None, &mut out);
        read(
            Some(&v),
            &["arr".into(), "1".into(), "x".into()],
            Some(Modifier::Lower),
            &mut out,
        );
        read(Some(&v), &["missing".into()], None, &mut out);
        let tags = json!(["a", "b"]);
        read(Some(&tags), &[], Some(Modifier::Length), &mut out);
        read(Some(&tags), &[], Some(Modifier::Each), &mut out);
        read(Some(&tags), &[], None, &mut out);
        let texts: Vec<String> = out.iter().map(|v| format!("{v:?}")).collect();
        assert_eq!(
            texts,
            [
                "Num(1.0)",
                "Text(\"hi\")",
                "Null",
                "Num(2.0)",
                "Text(\"a\")",
                "Text(\"b\")",
                "Text(\"[\\\"a\\\",\\\"b\\\"]\")"
            ]
        );
    }

    #[test]
    fn body_isset_and_changed() {
        let mut req = RequestInfo::default();
        req.body.insert("status".into(), json!("draft"));
        req.body.insert("n".into(), json!("5"));
        let rec = json!({"status": "draft", "n": 4})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let one = |k: &str, m| format!("{:?}", body(&req, &rec, k, &[], m));
        assert_eq!(one("status", Some(Modifier::Isset)), "[Num(1.0)]");
        assert_eq!(one("other", Some(Modifier::Isset)), "[Num(0.0)]");
        assert_eq!(one("status", Some(Modifier::Changed)), "[Num(0.0)]");
        assert_eq!(one("n", Some(Modifier::Changed)), "[Num(1.0)]");
        assert_eq!(one("status", None), "[Text(\"draft\")]");
    }
}
