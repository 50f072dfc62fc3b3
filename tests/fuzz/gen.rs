//! Random request parts: filters, sorts, `fields`, `expand`, JSON values and record bodies.
//!
//! Most output is shaped like real input (so it reaches the evaluator, not just the lexer); a
//! share is mutated or hostile (very deep, very long, many segments), which is where crashes and
//! runaway CPU hide.

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Map, Value};

/// Field paths of the `posts` collection the fuzzer sets up, good and bad.
const PATHS: &[&str] = &[
    "id",
    "title",
    "body",
    "n",
    "flag",
    "tags",
    "meta",
    "meta.a",
    "meta.b.c",
    "meta.list.0",
    "when",
    "author",
    "author.email",
    "author.name",
    "author.verified",
    "author.emailVisibility",
    "author.password",
    "author.tokenKey",
    "parent",
    "parent.title",
    "parent.parent.n",
    "parent.author.email",
    "created",
    "updated",
    "@request.auth.id",
    "@request.auth.email",
    "@request.auth.collectionName",
    "@request.query.x",
    "@request.headers.x_token",
    "@request.method",
    "@request.body.title",
    "@collection.posts.title",
    "@collection.posts.n",
    "@collection.users.email",
    "@collection.posts:alias.author",
    "posts_via_parent.title",
    "posts_via_author.n",
    "@now",
    "@todayStart",
    "@yesterday",
    "@second",
    "tags:length",
    "tags:each",
    "title:lower",
    "author.email:lower",
    "meta:length",
    "nope",
    "author.nope",
    "_secret",
    "",
];

const OPS: &[&str] = &[
    "=", "!=", ">", ">=", "<", "<=", "~", "!~", "?=", "?!=", "?>", "?>=", "?<", "?<=", "?~", "?!~",
    "==", "=>", "<>", "!",
];

const FUNCS: &[&str] = &[
    "strftime('%Y', created)",
    "strftime('%Y-%m-%d %H', when, 'auto')",
    "geoDistance(1, 2, 3, 4)",
    "strftime()",
    "unknownFn(1)",
];

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.gen_range(0..items.len())]
}

/// A short random string from an alphabet that matters to parsers and LIKE patterns.
pub fn text(rng: &mut StdRng, max: usize) -> String {
    const ALPHABET: &[char] = &[
        'a', 'b', 'z', 'A', '0', '9', ' ', '%', '_', '\\', '\'', '"', '.', ',', ':', '(', ')', '@',
        '&', '|', '=', '~', '!', '?', '-', '+', '*', '/', '\n', '\t', 'é', '日', '🦀', '\u{0}',
        '[', ']', '{', '}', '$', '#',
    ];
    let len = rng.gen_range(0..=max);
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
        .collect()
}

fn literal(rng: &mut StdRng) -> String {
    match rng.gen_range(0..10) {
        0 => format!("'{}'", text(rng, 12).replace('\'', "\\'")),
        1 => format!("\"{}\"", text(rng, 12).replace('"', "\\\"")),
        2 => rng.gen_range(-1000i64..1000).to_string(),
        3 => format!("{}", rng.gen::<f64>() * 1e6 - 5e5),
        4 => "true".into(),
        5 => "false".into(),
        6 => "null".into(),
        7 => "'%a_b%'".into(),
        8 => "'2024-01-01 10:00:00.000Z'".into(),
        _ => pick(rng, FUNCS).to_string(),
    }
}

fn operand(rng: &mut StdRng) -> String {
    if rng.gen_bool(0.55) {
        pick(rng, PATHS).to_string()
    } else {
        literal(rng)
    }
}

fn expr(rng: &mut StdRng, depth: u32) -> String {
    if depth == 0 || rng.gen_bool(0.45) {
        return format!("{} {} {}", operand(rng), pick(rng, OPS), operand(rng));
    }
    let n = rng.gen_range(2..5);
    let join = if rng.gen_bool(0.5) { " && " } else { " || " };
    let parts: Vec<String> = (0..n).map(|_| expr(rng, depth - 1)).collect();
    format!("({})", parts.join(join))
}

/// Randomly deletes, duplicates or replaces a few characters.
pub fn mutate(rng: &mut StdRng, s: String) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    for _ in 0..rng.gen_range(1..4) {
        if chars.is_empty() {
            break;
        }
        let at = rng.gen_range(0..chars.len());
        match rng.gen_range(0..3) {
            0 => {
                chars.remove(at);
            }
            1 => chars.insert(at, chars[at]),
            _ => chars[at] = text(rng, 1).chars().next().unwrap_or('x'),
        }
    }
    chars.into_iter().collect()
}

/// Bytes of `s` once percent-encoded in a query string.
fn encoded_len(s: &str) -> usize {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"._-*".contains(&b) {
                1
            } else {
                3
            }
        })
        .sum()
}

/// Inputs built to exhaust something: depth, length, segment counts. Kept under ~12 KB once
/// encoded, so a URL with four of them stays within what an HTTP client sends (64 KB).
fn hostile(rng: &mut StdRng, unit: &str, sep: &str) -> String {
    let n = match rng.gen_range(0..3) {
        0 => rng.gen_range(100..1_000),
        1 => rng.gen_range(1_000..10_000),
        _ => rng.gen_range(10_000..20_000),
    };
    let most = 12_000 / encoded_len(&format!("{unit}{sep}")).max(1);
    vec![unit; n.min(most)].join(sep)
}

pub fn filter(rng: &mut StdRng) -> String {
    match rng.gen_range(0..100) {
        0..=59 => expr(rng, 3),
        60..=79 => {
            let e = expr(rng, 2);
            mutate(rng, e)
        }
        80..=84 => text(rng, 40),
        85..=87 => {
            let d = rng.gen_range(50..3_000);
            format!("{}id != ''{}", "(".repeat(d), ")".repeat(d))
        }
        88..=90 => hostile(rng, "title ~ 'abc%'", " || "),
        91..=92 => format!("meta.{} = 1", hostile(rng, "a", ".")),
        93..=94 => format!("title = '{}'", "x".repeat(rng.gen_range(1_000..12_000))),
        95..=96 => hostile(rng, "!", ""),
        _ => hostile(rng, "parent", ".") + ".title = 1",
    }
}

pub fn sort(rng: &mut StdRng) -> String {
    match rng.gen_range(0..20) {
        0 => hostile(rng, "title", ","),
        1 => hostile(rng, "parent", ".") + ".n",
        2 => text(rng, 20),
        _ => {
            let n = rng.gen_range(1..4);
            (0..n)
                .map(|_| {
                    let dir = pick(rng, &["", "-", "+", "--"]);
                    let p = pick(
                        rng,
                        &[PATHS, &["@random", "@rowid", "strftime('%Y', created)"]].concat(),
                    );
                    format!("{dir}{p}")
                })
                .collect::<Vec<_>>()
                .join(",")
        }
    }
}

pub fn fields(rng: &mut StdRng) -> String {
    const F: &[&str] = &[
        "*",
        "id",
        "title",
        "meta",
        "expand",
        "expand.author",
        "expand.author.email",
        "expand.parent.title",
        "expand.parent.expand.parent",
        "title:excerpt(10,true)",
        "body:excerpt(2)",
        "body:excerpt(-1)",
        "body:excerpt(x)",
        "author.email",
        ":excerpt",
        "",
    ];
    match rng.gen_range(0..20) {
        0 => hostile(rng, "a", "."),
        1 => hostile(rng, "title", ","),
        2 => "expand.".repeat(rng.gen_range(10..1_500)) + "id",
        3 => text(rng, 30),
        _ => {
            let n = rng.gen_range(1..5);
            (0..n).map(|_| pick(rng, F)).collect::<Vec<_>>().join(",")
        }
    }
}

pub fn expand(rng: &mut StdRng) -> String {
    const E: &[&str] = &[
        "author",
        "parent",
        "parent.parent",
        "parent.parent.parent.parent.parent.parent",
        "parent.parent.parent.parent.parent.parent.parent",
        "posts_via_parent",
        "posts_via_parent.posts_via_parent.author",
        "posts_via_author",
        "author.nope",
        "title",
        "nope",
        "",
    ];
    match rng.gen_range(0..20) {
        0 => hostile(rng, "parent", "."),
        1 => hostile(rng, "parent", ","),
        2 => text(rng, 30),
        _ => {
            let n = rng.gen_range(1..4);
            (0..n).map(|_| pick(rng, E)).collect::<Vec<_>>().join(",")
        }
    }
}

/// Any JSON value up to `depth` levels.
pub fn value(rng: &mut StdRng, depth: u32) -> Value {
    let leaf = depth == 0 || rng.gen_bool(0.6);
    match rng.gen_range(0..if leaf { 6 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.gen_bool(0.5)),
        2 => json!(rng.gen_range(-1_000_000i64..1_000_000)),
        3 => json!(rng.gen::<f64>() * 1e9 - 5e8),
        4 => json!(text(rng, 16)),
        5 => json!(pick(
            rng,
            &[
                "",
                "2024-01-02",
                "2024-01-02 03:04:05.000Z",
                "a@b.co",
                "https://x.io",
                "o1",
                "o2"
            ]
        )),
        6 => Value::Array(
            (0..rng.gen_range(0..5))
                .map(|_| value(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let mut m = Map::new();
            for _ in 0..rng.gen_range(0..5) {
                m.insert(text(rng, 6), value(rng, depth - 1));
            }
            Value::Object(m)
        }
    }
}

/// Nested arrays `depth` deep, as raw JSON text (serde_json's own limit is 128).
pub fn deep_json(depth: usize) -> String {
    format!("{{\"meta\": {}1{}}}", "[".repeat(depth), "]".repeat(depth))
}

/// A record body for `posts`: known fields with random values, modifiers, unknown keys.
pub fn record_body(rng: &mut StdRng, ids: &[String], users: &[String]) -> Value {
    const KEYS: &[&str] = &[
        "title",
        "body",
        "n",
        "flag",
        "tags",
        "meta",
        "when",
        "author",
        "parent",
        "email",
        "site",
        "n+",
        "n-",
        "+tags",
        "tags+",
        "tags-",
        "parent+",
        "author-",
        "id",
        "created",
        "collectionId",
        "expand",
        "@jsonPayload",
        "",
    ];
    let mut m = Map::new();
    for _ in 0..rng.gen_range(0..7) {
        let key = pick(rng, KEYS).to_string();
        let v = match (key.trim_matches(['+', '-']), rng.gen_range(0..4)) {
            ("parent", 0) if !ids.is_empty() => json!(ids[rng.gen_range(0..ids.len())]),
            ("author", 0) if !users.is_empty() => json!(users[rng.gen_range(0..users.len())]),
            ("tags", 0) => json!(pick(rng, &["a", "b", "c", "zz"])),
            ("n", 0) => json!(rng.gen_range(-5..5)),
            ("title", 0) => json!("x".repeat(rng.gen_range(0..2_000))),
            _ => value(rng, 3),
        };
        m.insert(key, v);
    }
    Value::Object(m)
}
