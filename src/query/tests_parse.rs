//! Grammar tests: every operator, precedence, literals, comments, macros, positioned errors,
//! limits, and property tests (print → parse round-trip, arbitrary input never panics).

use super::ast::{CmpOp, Comparison, Expr, Ident, Macro, Modifier, Operand, Pos, Root};
use super::{parse, parse_with, Limits};
use proptest::prelude::*;

fn canon(src: &str) -> String {
    parse(src)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .to_string()
}

fn error(src: &str) -> String {
    parse(src).err().map(|e| e.message).unwrap_or_default()
}

#[test]
fn operators_and_precedence() {
    for op in ["=", "!=", ">", ">=", "<", "<=", "~", "!~"] {
        assert_eq!(canon(&format!("a{op}1")), format!("a {op} 1"));
        assert_eq!(canon(&format!("a ?{op} 'x'")), format!("a ?{op} \"x\""));
    }
    assert_eq!(canon("a=1||b=2&&c=3"), "a = 1 || b = 2 && c = 3");
    assert!(matches!(parse("a=1||b=2&&c=3"), Ok(Expr::Or(v)) if v.len() == 2));
    assert_eq!(canon("(a=1||b=2)&&c=3"), "(a = 1 || b = 2) && c = 3");
    assert_eq!(canon("a=1 && (b=2 && c=3)"), "a = 1 && (b = 2 && c = 3)");
    assert_eq!(canon("((a = 1))"), "a = 1");
}

#[test]
fn literals_paths_macros() {
    assert_eq!(canon("views = -3.5"), "views = -3.5");
    assert_eq!(canon("x = 10.0"), "x = 10");
    assert_eq!(
        canon("x = true && y != false && z = null"),
        "x = true && y != false && z = null"
    );
    assert_eq!(canon(r#"t = 'it\'s "q"'"#), r#"t = "it's \"q\"""#);
    assert_eq!(canon(r#"t = "say \"hi\"""#), r#"t = "say \"hi\"""#);
    assert_eq!(canon(r#"t ~ "50\%""#), r#"t ~ "50\\%""#);
    assert_eq!(canon("a = 1 // c\n&& b = 2 // d"), "a = 1 && b = 2");
    assert_eq!(canon("meta.arr.0 = 1"), "meta.arr.0 = 1");
    assert_eq!(
        canon("tags:each ?= 'go' && tags:length > 1 && title:lower = 'x'"),
        "tags:each ?= \"go\" && tags:length > 1 && title:lower = \"x\""
    );
    assert_eq!(
        canon("@request.body.a:isset = false && @request.body.b:changed = true"),
        "@request.body.a:isset = false && @request.body.b:changed = true"
    );
    assert_eq!(
        canon("@request.auth.id != '' && @request.method = 'GET' && @request.context = 'default'"),
        "@request.auth.id != \"\" && @request.method = \"GET\" && @request.context = \"default\""
    );
    assert_eq!(
        canon("@request.query.ok = 1 && @request.headers.x_test = 1"),
        "@request.query.ok = 1 && @request.headers.x_test = 1"
    );
    assert_eq!(
        canon("@collection.comments:c.post ?= id"),
        "@collection.comments:c.post ?= id"
    );
    for (m, name) in Macro::ALL {
        let src = format!("d < @{name}");
        assert!(
            matches!(parse(&src), Ok(Expr::Cmp(c)) if c.right == Operand::Macro(m, Pos(0))),
            "{src}"
        );
    }
    assert_eq!(
        canon("strftime('%Y', created) = strftime('%Y', @now)"),
        "strftime(\"%Y\", created) = strftime(\"%Y\", @now)"
    );
    assert_eq!(
        canon("strftime('%Y') = '2026'"),
        "strftime(\"%Y\") = \"2026\""
    );
    assert_eq!(
        canon("geoDistance(g.lon, g.lat, 13.4, 52.5) < 10"),
        "geoDistance(g.lon, g.lat, 13.4, 52.5) < 10"
    );
}

#[test]
fn errors_are_positioned() {
    let cases = [
        ("views > 5 & published = true", "unexpected token '&' at 10"),
        ("title = \"abc", "unterminated string starting at 8"),
        (
            "views > 5 and x = 1",
            "expected && or ||, got \"and\" at 10",
        ),
        (
            "true",
            "unexpected end of filter at 4, expected a comparison operator",
        ),
        ("a = 1)", "unexpected token ')' at 5"),
        ("(a = 1", "unexpected end of filter at 6, expected ')'"),
        ("a = ", "unexpected end of filter at 4, expected an operand"),
        ("a == 1", "unexpected token '=' at 3"),
        ("views = 1e2", "invalid number \"1e2\" at 8"),
        ("", "empty filter expression"),
        ("  // only a comment", "empty filter expression"),
        ("@nope = 1", "unknown macro or identifier \"@nope\" at 0"),
        (
            "a:upper = 1",
            "invalid identifier \"a:upper\" at 0: unknown modifier \":upper\"",
        ),
        (
            "@request.foo = 1",
            "invalid identifier \"@request.foo\" at 0: unknown @request.foo",
        ),
        (
            "@collection.x = 1",
            "invalid identifier \"@collection.x\" at 0: expected @collection.<name>.<field>",
        ),
        (
            "a..b = 1",
            "invalid identifier \"a..b\" at 0: bad path segment \"\"",
        ),
        ("upper(a) = 1", "unknown function \"upper\" at 0"),
        (
            "strftime(a, b, c) = 1",
            "strftime() takes 1 to 2 arguments, got 3 at 0",
        ),
        ("a = 'x' b = 1", "expected && or ||, got \"b\" at 8"),
        ("a = 1 && && b = 1", "unexpected token '&&' at 9"),
        ("a = $", "unexpected token '$' at 4"),
    ];
    for (src, want) in cases {
        assert_eq!(error(src), want, "{src}");
    }
}

#[test]
fn limits_are_enforced() {
    let deep = format!("{}a = 1{}", "(".repeat(40), ")".repeat(40));
    assert!(error(&deep).starts_with("the filter is nested more than 32 levels deep"));
    let ok = format!("{}a = 1{}", "(".repeat(32), ")".repeat(32));
    assert!(parse(&ok).is_ok());
    let long = format!("a = '{}'", "x".repeat(5000));
    assert!(error(&long).contains("more than the limit of 4096"));
    let many = vec!["a = 1"; 201].join(" || ");
    assert!(error(&many).contains("more than 200 comparisons"));
    let small = Limits {
        max_len: 10,
        ..Limits::default()
    };
    assert!(parse_with("a = 1 && b = 2", &small).is_err());
}

fn arb_operand() -> impl Strategy<Value = Operand> {
    let seg = "[a-z_][a-z0-9_]{0,6}";
    let modifier = prop_oneof![
        Just(None),
        Just(Some(Modifier::Each)),
        Just(Some(Modifier::Lower)),
        Just(Some(Modifier::Length))
    ];
    prop_oneof![
        Just(Operand::Null(Pos(0))),
        any::<bool>().prop_map(|b| Operand::Bool(b, Pos(0))),
        (-1_000_000i64..1_000_000, 0u32..4)
            .prop_map(|(n, d)| Operand::Number(n as f64 / 10f64.powi(d as i32), Pos(0))),
        any::<String>().prop_map(|s| Operand::Str(s, Pos(0))),
        (prop::collection::vec(seg, 1..4), modifier)
            .prop_filter("not a keyword", |(p, _)| !matches!(
                p[0].as_str(),
                "null" | "true" | "false"
            ))
            .prop_map(|(path, modifier)| Operand::Ident(Ident {
                root: Root::Record,
                path,
                modifier,
                pos: Pos(0)
            })),
        (0usize..16).prop_map(|i| Operand::Macro(Macro::ALL[i].0, Pos(0))),
        (seg, prop::collection::vec(seg, 1..3)).prop_map(|(name, path)| Operand::Ident(Ident {
            root: Root::Collection { name, alias: None },
            path,
            modifier: None,
            pos: Pos(0)
        })),
    ]
}

fn arb_expr() -> impl Strategy<Value = Expr> {
    let ops = [
        CmpOp::Eq,
        CmpOp::Neq,
        CmpOp::Gt,
        CmpOp::Gte,
        CmpOp::Lt,
        CmpOp::Lte,
        CmpOp::Like,
        CmpOp::NotLike,
    ];
    let leaf = (arb_operand(), 0usize..8, any::<bool>(), arb_operand()).prop_map(
        move |(left, op, any, right)| {
            Expr::Cmp(Box::new(Comparison {
                left,
                op: ops[op],
                any,
                right,
                pos: Pos(0),
            }))
        },
    );
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            prop::collection::vec(inner, 2..4).prop_map(Expr::Or),
        ]
    })
}

proptest! {
    #[test]
    fn printed_asts_parse_back(e in arb_expr()) {
        let printed = e.to_string();
        let back = parse(&printed);
        prop_assert_eq!(back.as_ref().ok(), Some(&e), "{} -> {:?}", printed, back);
    }

    #[test]
    fn arbitrary_input_never_panics(s in any::<String>()) {
        let _ = parse(&s);
    }

    #[test]
    fn filter_like_input_never_panics(s in "[a-z@._:()'\"\\\\ =!<>~?&|0-9-]{0,60}") {
        if let Ok(e) = parse(&s) {
            prop_assert!(parse(&e.to_string()).is_ok());
        }
    }
}
