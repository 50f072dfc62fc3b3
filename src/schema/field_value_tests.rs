use super::*;
use crate::schema::field::{Pattern, TextOptions};
use serde_json::json;

fn field(kind: FieldKind) -> Field {
    Field::new("f", kind)
}

fn text(min: u32, max: u32, pattern: &str) -> Field {
    field(FieldKind::Text(TextOptions {
        min,
        max,
        pattern: Pattern::new(pattern).unwrap(),
        ..Default::default()
    }))
}

fn number(min: Option<f64>, max: Option<f64>, only_int: bool) -> Field {
    field(FieldKind::Number { min, max, only_int })
}

fn select(max_select: u32) -> Field {
    field(FieldKind::Select {
        values: vec!["a".into(), "b".into(), "c".into()],
        max_select,
    })
}

fn relation(min_select: u32, max_select: u32) -> Field {
    field(FieldKind::Relation {
        collection_id: "pbc_1".into(),
        cascade_delete: false,
        min_select,
        max_select,
    })
}

fn required(mut f: Field) -> Field {
    f.required = true;
    f
}

fn code(f: &Field, v: Value) -> &'static str {
    f.validate(&v).unwrap_err().code
}

fn coerce_code(f: &Field, v: Value) -> &'static str {
    f.coerce(&v).unwrap_err().code
}

#[test]
fn zero_values_and_multi() {
    assert_eq!(text(0, 0, "").zero_value(), json!(""));
    assert_eq!(number(None, None, false).zero_value(), json!(0));
    assert_eq!(field(FieldKind::Bool).zero_value(), json!(false));
    assert_eq!(
        field(FieldKind::Json { max_size: 0 }).zero_value(),
        Value::Null
    );
    assert_eq!(
        field(FieldKind::Date {
            min: String::new(),
            max: String::new()
        })
        .zero_value(),
        json!("")
    );
    assert_eq!(
        field(FieldKind::Password {
            min: 0,
            max: 0,
            pattern: Pattern::default(),
            cost: 0
        })
        .zero_value(),
        json!("")
    );
    for (max, multi) in [(0, false), (1, false), (2, true)] {
        assert_eq!(select(max).is_multi(), multi);
        assert_eq!(relation(0, max).is_multi(), multi);
        assert_eq!(
            select(max).zero_value(),
            if multi { json!([]) } else { json!("") }
        );
    }
    assert!(!text(0, 0, "").is_multi());
}

#[test]
fn coerces_like_pocketbase() {
    let t = text(0, 0, "");
    assert_eq!(t.coerce(&json!(12.5)).unwrap(), json!("12.5"));
    assert_eq!(t.coerce(&json!(12.0)).unwrap(), json!("12"));
    assert_eq!(t.coerce(&json!(true)).unwrap(), json!("true"));
    assert_eq!(t.coerce(&json!(" keep ")).unwrap(), json!(" keep "));
    assert_eq!(t.coerce(&Value::Null).unwrap(), json!(""));

    let n = number(None, None, false);
    assert_eq!(n.coerce(&json!("12.5")).unwrap(), json!(12.5));
    assert_eq!(n.coerce(&json!(" 7 ")).unwrap(), json!(7));
    assert_eq!(n.coerce(&json!(3.0)).unwrap().to_string(), "3");
    assert_eq!(n.coerce(&json!("")).unwrap(), json!(0));
    assert_eq!(n.coerce(&json!(true)).unwrap(), json!(1));
    assert_eq!(n.coerce(&Value::Null).unwrap(), json!(0));
    assert_eq!(n.coerce(&json!("-1e3")).unwrap(), json!(-1000));

    let b = field(FieldKind::Bool);
    for t in [
        json!(1),
        json!("true"),
        json!(true),
        json!("TRUE"),
        json!("1"),
        json!("t"),
    ] {
        assert_eq!(b.coerce(&t).unwrap(), json!(true), "{t}");
    }
    for f in [
        json!(0),
        json!("false"),
        json!(""),
        json!(false),
        json!("0"),
        Value::Null,
    ] {
        assert_eq!(b.coerce(&f).unwrap(), json!(false), "{f}");
    }

    let d = field(FieldKind::Date {
        min: String::new(),
        max: String::new(),
    });
    assert_eq!(
        d.coerce(&json!("2024-05-06T10:11:12+02:00")).unwrap(),
        json!("2024-05-06 08:11:12.000Z")
    );
    assert_eq!(d.coerce(&json!("")).unwrap(), json!(""));

    let j = field(FieldKind::Json { max_size: 0 });
    for v in [
        json!("str"),
        json!({"k":[1,2]}),
        json!(1),
        json!(false),
        Value::Null,
    ] {
        assert_eq!(j.coerce(&v).unwrap(), v);
    }
}

#[test]
fn coerces_select_and_relation_shapes() {
    let single = select(1);
    assert_eq!(single.coerce(&json!(["a", "b"])).unwrap(), json!("b"));
    assert_eq!(single.coerce(&json!([])).unwrap(), json!(""));
    assert_eq!(single.coerce(&json!("a")).unwrap(), json!("a"));
    assert_eq!(single.coerce(&json!("[\"a\",\"c\"]")).unwrap(), json!("c"));
    let multi = select(3);
    assert_eq!(multi.coerce(&json!("a")).unwrap(), json!(["a"]));
    assert_eq!(multi.coerce(&json!("")).unwrap(), json!([]));
    assert_eq!(
        multi.coerce(&json!(["b", "a", "b", "", "a"])).unwrap(),
        json!(["b", "a"])
    );
    assert_eq!(
        multi.coerce(&json!("[\"c\",\"a\"]")).unwrap(),
        json!(["c", "a"])
    );
    assert_eq!(multi.coerce(&Value::Null).unwrap(), json!([]));
    let rel = relation(0, 5);
    assert_eq!(
        rel.coerce(&json!(["x", "y", "x"])).unwrap(),
        json!(["x", "y"])
    );
    assert_eq!(
        relation(0, 1).coerce(&json!(["x", "y"])).unwrap(),
        json!("y")
    );
    assert_eq!(
        coerce_code(&multi, json!({"a":1})),
        "validation_invalid_value"
    );
    assert_eq!(
        coerce_code(&multi, json!([{"a":1}])),
        "validation_invalid_value"
    );
    assert_eq!(
        coerce_code(&single, json!(true)),
        "validation_invalid_value"
    );
}

#[test]
fn refuses_garbage_pocketbase_would_store() {
    let n = number(None, None, false);
    for bad in [
        json!("abc"),
        json!("inf"),
        json!("NaN"),
        json!("12abc"),
        json!([1]),
        json!({}),
    ] {
        assert_eq!(
            coerce_code(&n, bad.clone()),
            "validation_invalid_number",
            "{bad}"
        );
    }
    assert_eq!(
        n.coerce(&json!("abc")).unwrap_err().message,
        "Must be a valid number."
    );
    let b = field(FieldKind::Bool);
    for bad in [json!("maybe"), json!(2), json!([]), json!("yes")] {
        assert_eq!(
            coerce_code(&b, bad.clone()),
            "validation_invalid_bool",
            "{bad}"
        );
    }
    let d = field(FieldKind::Date {
        min: String::new(),
        max: String::new(),
    });
    for bad in [json!("garbage"), json!(1700000000), json!(true)] {
        assert_eq!(
            coerce_code(&d, bad.clone()),
            "validation_invalid_date",
            "{bad}"
        );
    }
    assert_eq!(
        d.coerce(&json!("garbage")).unwrap_err().message,
        "Must be a valid date."
    );
    assert_eq!(
        coerce_code(&text(0, 0, ""), json!({"a": 1})),
        "validation_invalid_value"
    );
    assert_eq!(
        coerce_code(&text(0, 0, ""), json!(["a"])),
        "validation_invalid_value"
    );
}

#[test]
fn validates_required() {
    assert_eq!(
        code(&required(text(0, 0, "")), json!("")),
        "validation_required"
    );
    assert_eq!(
        required(text(0, 0, ""))
            .validate(&json!(""))
            .unwrap_err()
            .message,
        "Cannot be blank."
    );
    assert_eq!(
        code(&required(field(FieldKind::Bool)), json!(false)),
        "validation_required"
    );
    assert!(required(field(FieldKind::Bool))
        .validate(&json!(true))
        .is_ok());
    assert_eq!(
        code(&required(number(None, None, false)), json!(0)),
        "validation_required"
    );
    assert_eq!(code(&required(select(3)), json!([])), "validation_required");
    assert_eq!(
        code(&required(field(FieldKind::Json { max_size: 0 })), json!({})),
        "validation_required"
    );
    assert!(required(field(FieldKind::Json { max_size: 0 }))
        .validate(&json!(false))
        .is_ok());
    let mut pk = text(15, 15, "^[a-z0-9]+$");
    if let FieldKind::Text(t) = &mut pk.kind {
        t.primary_key = true;
    }
    assert_eq!(code(&pk, json!("")), "validation_required");
    // Blank optional values skip every other check.
    assert!(text(3, 5, "^x$").validate(&json!("")).is_ok());
    assert!(number(Some(5.0), None, false).validate(&json!(0)).is_ok());
    assert!(relation(2, 5).validate(&json!([])).is_ok());
}

#[test]
fn validates_text() {
    let t = text(3, 5, "^[a-z]+$");
    assert!(t.validate(&json!("abcd")).is_ok());
    let e = t.validate(&json!("ab")).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            "validation_min_text_constraint",
            "Must be at least 3 character(s)."
        )
    );
    assert_eq!(e.params, Some(json!({"min": 3})));
    let e = t.validate(&json!("abcdef")).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            "validation_max_text_constraint",
            "Must be no more than 5 character(s)."
        )
    );
    assert_eq!(e.params, Some(json!({"max": 5})));
    assert_eq!(code(&t, json!("ABC")), "validation_invalid_format");
    assert_eq!(
        t.validate(&json!("ABC")).unwrap_err().message,
        "Invalid value format."
    );
    // Length counts characters, not bytes.
    assert!(text(0, 3, "").validate(&json!("äöü")).is_ok());
    assert!(text(0, 0, "").validate(&json!("x".repeat(5000))).is_ok());
    assert_eq!(
        code(&text(0, 0, ""), json!("x".repeat(5001))),
        "validation_max_text_constraint"
    );
    assert_eq!(code(&text(0, 0, ""), json!(5)), "validation_invalid_value");
}

#[test]
fn validates_numbers() {
    let n = number(Some(5.0), Some(10.0), true);
    assert!(n.validate(&json!(7)).is_ok());
    let e = n.validate(&json!(4)).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            "validation_min_number_constraint",
            "Must be greater or equal than 5."
        )
    );
    assert_eq!(e.params, Some(json!({"min": 5})));
    let e = n.validate(&json!(11)).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            "validation_max_number_constraint",
            "Must be less or equal than 10."
        )
    );
    let e = n.validate(&json!(7.5)).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            "validation_only_int_constraint",
            "Decimal numbers are not allowed."
        )
    );
    assert_eq!(
        code(&number(Some(5.0), None, false), json!(-3)),
        "validation_min_number_constraint"
    );
    assert_eq!(
        number(None, Some(2.5), false)
            .validate(&json!(3))
            .unwrap_err()
            .message,
        "Must be less or equal than 2.5."
    );
}

#[test]
fn validates_email_and_url() {
    let e = field(FieldKind::Email {
        except_domains: vec!["spam.io".into()],
        only_domains: vec![],
    });
    assert!(e.validate(&json!("a@b.co")).is_ok());
    assert_eq!(code(&e, json!("not-an-email")), "validation_is_email");
    assert_eq!(
        e.validate(&json!("x")).unwrap_err().message,
        "Must be a valid email address."
    );
    assert_eq!(
        code(&e, json!("a@SPAM.io")),
        "validation_email_domain_not_allowed"
    );
    let only = field(FieldKind::Email {
        except_domains: vec![],
        only_domains: vec!["corp.io".into()],
    });
    assert!(only.validate(&json!("a@corp.io")).is_ok());
    assert_eq!(
        code(&only, json!("a@other.io")),
        "validation_email_domain_not_allowed"
    );

    let u = field(FieldKind::Url {
        except_domains: vec![],
        only_domains: vec!["x.io".into()],
    });
    assert!(u.validate(&json!("https://x.io/p")).is_ok());
    assert_eq!(code(&u, json!("ftp://x.io")), "validation_invalid_url");
    assert_eq!(
        u.validate(&json!("x.io")).unwrap_err().message,
        "Must be a valid url."
    );
    assert_eq!(
        code(&u, json!("https://y.io")),
        "validation_url_domain_not_allowed"
    );
    let except = field(FieldKind::Url {
        except_domains: vec!["y.io".into()],
        only_domains: vec![],
    });
    assert_eq!(
        code(&except, json!("http://y.io")),
        "validation_url_domain_not_allowed"
    );
}

#[test]
fn validates_sizes() {
    let ed = field(FieldKind::Editor {
        max_size: 10,
        convert_urls: false,
    });
    assert!(ed.validate(&json!("<p>hi</p>")).is_ok());
    let e = ed.validate(&json!("<p>hello</p>")).unwrap_err();
    assert_eq!(e.code, "validation_content_size_limit");
    assert_eq!(e.params, Some(json!({"maxSize": 10})));
    let big = field(FieldKind::Editor {
        max_size: 0,
        convert_urls: false,
    });
    assert!(big.validate(&json!("x".repeat(5_242_880))).is_ok());
    assert_eq!(
        code(&big, json!("x".repeat(5_242_881))),
        "validation_content_size_limit"
    );

    let j = field(FieldKind::Json { max_size: 8 });
    assert!(j.validate(&json!([1, 2, 3])).is_ok());
    let e = j.validate(&json!({"key": 12345})).unwrap_err();
    assert_eq!(e.code, "validation_json_size_limit");
    assert_eq!(e.params, Some(json!({"maxSize": 8})));
    let dflt = field(FieldKind::Json { max_size: 0 });
    assert_eq!(
        code(&dflt, json!("x".repeat(1_048_577))),
        "validation_json_size_limit"
    );
}

#[test]
fn validates_dates() {
    let d = field(FieldKind::Date {
        min: "2024-01-01 00:00:00.000Z".into(),
        max: "2030-01-01 00:00:00.000Z".into(),
    });
    assert!(d.validate(&json!("2025-01-01 00:00:00.000Z")).is_ok());
    let e = d.validate(&json!("2020-01-01 00:00:00.000Z")).unwrap_err();
    assert_eq!(e.code, "validation_min_greater_equal_than_required");
    assert_eq!(e.params, Some(json!({"threshold": "2024-01-01T00:00:00Z"})));
    assert_eq!(
        code(&d, json!("2031-01-01 00:00:00.000Z")),
        "validation_max_less_equal_than_required"
    );
    let auto = field(FieldKind::Autodate {
        on_create: true,
        on_update: false,
    });
    assert!(required(auto).validate(&json!("")).is_ok());
}

#[test]
fn validates_select_values_and_counts() {
    let single = select(1);
    assert!(single.validate(&json!("a")).is_ok());
    let e = single.validate(&json!("z")).unwrap_err();
    assert_eq!(
        (e.code, e.params),
        ("validation_invalid_value", Some(json!({"value": "z"})))
    );
    let multi = select(2);
    assert!(multi.validate(&json!(["a", "c"])).is_ok());
    let e = multi.validate(&json!(["a", "b", "c"])).unwrap_err();
    assert_eq!(
        (e.code, e.params),
        ("validation_too_many_values", Some(json!({"maxSelect": 2})))
    );
    assert_eq!(
        code(&multi, json!(["a", "nope"])),
        "validation_invalid_value"
    );
    assert_eq!(code(&multi, json!("a")), "validation_invalid_value");
    assert_eq!(code(&single, json!(["a"])), "validation_invalid_value");
}

#[test]
fn validates_relations() {
    let r = relation(2, 3);
    assert!(r.validate(&json!(["x", "y"])).is_ok());
    let e = r.validate(&json!(["x"])).unwrap_err();
    assert_eq!(
        (e.code, e.params),
        (
            "validation_not_enough_values",
            Some(json!({"minSelect": 2}))
        )
    );
    let e = r.validate(&json!(["w", "x", "y", "z"])).unwrap_err();
    assert_eq!(
        (e.code, e.params),
        ("validation_too_many_values", Some(json!({"maxSelect": 3})))
    );
    assert_eq!(code(&r, json!(["x", ""])), "validation_invalid_value");
    assert_eq!(code(&r, json!(["x", 5])), "validation_invalid_value");
    assert!(relation(0, 1).validate(&json!("x")).is_ok());
}

#[test]
fn validates_passwords() {
    let p = field(FieldKind::Password {
        min: 8,
        max: 0,
        pattern: Pattern::new("[0-9]").unwrap(),
        cost: 0,
    });
    assert!(p.validate(&json!("secret123")).is_ok());
    let e = p.validate(&json!("short1")).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            "validation_min_text_constraint",
            "Must be at least 8 character(s)."
        )
    );
    assert_eq!(e.params, None);
    let e = p.validate(&json!("1".repeat(72))).unwrap_err();
    assert_eq!(
        (e.code, e.params),
        ("validation_max_text_constraint", Some(json!({"max": 71})))
    );
    assert_eq!(
        code(&p, json!("no digits here")),
        "validation_invalid_format"
    );
    assert_eq!(code(&required(p), json!("")), "validation_required");
}

#[test]
fn json_depth_is_bounded_and_select_echo_is_truncated() {
    let j = field(FieldKind::Json { max_size: 0 });
    let nest = |n: usize| -> Value {
        serde_json::from_str(&format!("{}1{}", "[".repeat(n), "]".repeat(n))).expect("json")
    };
    assert!(j.validate(&nest(MAX_JSON_DEPTH)).is_ok());
    assert_eq!(
        code(&j, nest(MAX_JSON_DEPTH + 1)),
        "validation_json_depth_limit"
    );
    assert_eq!(json_depth(&json!({"a": [1, {"b": 2}], "c": 3})), 3);

    let huge = "x".repeat(200_000);
    let e = select(1).validate(&json!(huge)).unwrap_err();
    assert!(e.message.len() < 200, "{}", e.message.len());
    assert!(e.to_json().to_string().len() < 500);
}
