use super::*;

fn err_codes(v: Value) -> Vec<(&'static str, &'static str)> {
    parse_field(&v)
        .unwrap_err()
        .into_iter()
        .map(|(k, e)| (k, e.code))
        .collect()
}

#[test]
fn defaults_fill_missing_options() {
    let f = parse_field(&json!({"name":"title","type":"text"})).unwrap();
    assert_eq!(f.id, "text724990059");
    assert_eq!(f.kind, FieldKind::Text(TextOptions::default()));
    assert!(!f.required && !f.system && !f.hidden);
    let f = parse_field(&json!({"name":"n","type":"number","min":null,"id":"custom"})).unwrap();
    assert_eq!(f.id, "custom");
    assert_eq!(
        f.kind,
        FieldKind::Number {
            min: None,
            max: None,
            only_int: false
        }
    );
    let f =
        parse_field(&json!({"name":"d","type":"date","min":"2024-05-06T10:11:12+02:00"})).unwrap();
    assert_eq!(
        f.kind,
        FieldKind::Date {
            min: "2024-05-06 08:11:12.000Z".into(),
            max: String::new()
        }
    );
    let f = parse_field(&json!({"name":"c","type":"autodate","onCreate":true,"required":true}))
        .unwrap();
    assert!(!f.required);
}

#[test]
fn refuses_unknown_and_unsupported_types() {
    let f = parse_field(&json!({"name":"f","type":"file","maxSelect":3,"thumbs":["10x10t"]}))
        .expect("file");
    assert!(f.is_multi());
    assert_eq!(
        err_codes(json!({"name":"f","type":"file","thumbs":["0x0"]})),
        [("thumbs", "validation_invalid_value")]
    );
    assert_eq!(
        err_codes(json!({"name":"f","type":"nope"})),
        [("type", "validation_in_invalid")]
    );
    assert_eq!(
        err_codes(json!({"name":"f"})),
        [("type", "validation_required")]
    );
    let g = parse_field(&json!({"name":"g","type":"geoPoint","required":true})).expect("geoPoint");
    assert_eq!(g.kind, FieldKind::GeoPoint);
    assert!(g.required);
    assert_eq!(err_codes(json!("text")), [("", "validation_invalid_value")]);
}

#[test]
fn checks_names() {
    assert_eq!(
        err_codes(json!({"type":"text"})),
        [("name", "validation_required")]
    );
    assert_eq!(
        err_codes(json!({"name":"bad name","type":"text"})),
        [("name", "validation_match_invalid")]
    );
    assert_eq!(
        err_codes(json!({"name":"a".repeat(101),"type":"text"})),
        [("name", "validation_match_invalid")]
    );
    for reserved in ["expand", "collectionId", "collectionName", "EXPAND"] {
        assert_eq!(
            err_codes(json!({"name":reserved,"type":"text"})),
            [("name", "validation_not_in_invalid")]
        );
    }
}

#[test]
fn checks_option_types() {
    assert_eq!(
        err_codes(json!({"name":"t","type":"text","min":"3"})),
        [("min", "validation_invalid_value")]
    );
    assert_eq!(
        err_codes(json!({"name":"t","type":"text","max":-1})),
        [("max", "validation_invalid_value")]
    );
    assert_eq!(
        err_codes(json!({"name":"t","type":"text","max":1.5})),
        [("max", "validation_invalid_value")]
    );
    assert_eq!(
        err_codes(json!({"name":"t","type":"text","required":"yes"})),
        [("required", "validation_invalid_value")]
    );
    assert_eq!(
        err_codes(json!({"name":"e","type":"email","onlyDomains":[1]})),
        [("onlyDomains", "validation_invalid_value")]
    );
    assert_eq!(
        err_codes(json!({"name":"n","type":"number","min":"x"})),
        [("min", "validation_invalid_value")]
    );
    assert_eq!(
        err_codes(json!({"name":"t","type":"text","id":"a b"})),
        [("id", "validation_match_invalid")]
    );
}

#[test]
fn checks_option_consistency() {
    assert_eq!(
        err_codes(json!({"name":"t","type":"text","min":5,"max":2})),
        [("max", "validation_min_greater_equal_than_required")]
    );
    assert_eq!(
        err_codes(json!({"name":"t","type":"text","pattern":"("})),
        [("pattern", "validation_invalid_regex")]
    );
    assert_eq!(
        err_codes(json!({"name":"p","type":"password","pattern":"["})),
        [("pattern", "validation_invalid_regex")]
    );
    assert_eq!(
        err_codes(json!({"name":"p","type":"password","min":9,"max":8})),
        [("max", "validation_min_greater_equal_than_required")]
    );
    assert_eq!(
        err_codes(json!({"name":"p","type":"password","cost":2})),
        [("cost", "validation_invalid_value")]
    );
    assert_eq!(
        err_codes(json!({"name":"n","type":"number","min":5,"max":1})),
        [("max", "validation_min_greater_equal_than_required")]
    );
    assert_eq!(
        err_codes(json!({"name":"s","type":"select"})),
        [("values", "validation_required")]
    );
    assert_eq!(
        err_codes(json!({"name":"s","type":"select","values":["a",""]})),
        [("values", "validation_invalid_value")]
    );
    assert_eq!(
        err_codes(json!({"name":"s","type":"select","values":["a"],"maxSelect":2})),
        [("maxSelect", "validation_max_less_equal_than_required")]
    );
    assert_eq!(
        err_codes(json!({"name":"r","type":"relation"})),
        [("collectionId", "validation_required")]
    );
    assert_eq!(
        err_codes(
            json!({"name":"r","type":"relation","collectionId":"x","minSelect":3,"maxSelect":2})
        ),
        [("maxSelect", "validation_min_greater_equal_than_required")]
    );
    assert_eq!(
        err_codes(json!({"name":"e","type":"url","onlyDomains":["a.io"],"exceptDomains":["b.io"]})),
        [("exceptDomains", "validation_empty")]
    );
    assert_eq!(
        err_codes(json!({"name":"d","type":"date","min":"soon"})),
        [("min", "validation_invalid_date")]
    );
    assert_eq!(
        err_codes(json!({"name":"d","type":"date","min":"2025-01-01","max":"2024-01-01"})),
        [("max", "validation_min_greater_equal_than_required")]
    );
    assert_eq!(
        err_codes(json!({"name":"t","type":"text","primaryKey":true})),
        [("primaryKey", "validation_invalid_value")]
    );
}

#[test]
fn checks_autogenerate_patterns() {
    let ok = json!({"name":"code","type":"text","autogeneratePattern":"[A-Z]{4}","min":4,"max":4});
    assert!(parse_field(&ok).is_ok());
    assert_eq!(
        err_codes(json!({"name":"code","type":"text","autogeneratePattern":"\\w+"})),
        [("autogeneratePattern", "validation_unsupported_pattern")]
    );
    assert_eq!(
        err_codes(json!({"name":"code","type":"text","autogeneratePattern":"[a-z]{3}","min":5})),
        [("autogeneratePattern", "validation_invalid_value")]
    );
    assert_eq!(
        err_codes(
            json!({"name":"code","type":"text","autogeneratePattern":"[a-z]{3}","pattern":"^[0-9]+$"})
        ),
        [("autogeneratePattern", "validation_invalid_value")]
    );
}
