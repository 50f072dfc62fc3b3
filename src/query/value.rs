//! Scalar values as SQLite sees them when PocketBase runs a filter, and the comparison rules.
//!
//! Decisions (documented because they are where Ferrobase and SQLite can differ):
//! - bools are the numbers 1 / 0 (`published = 1` works like `= true`, `= "true"` matches nothing);
//! - arrays and objects compare as their compact JSON text (`tags = "[\"a\"]"`);
//! - number vs text: if the text is a well-formed number both compare numerically (SQLite applies
//!   numeric affinity to a number column), otherwise every number sorts before every text;
//! - text compares bytewise (SQLite's BINARY collation).

use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;

/// One SQL-ish value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    Null,
    Num(f64),
    Text(Cow<'a, str>),
}

impl<'a> Val<'a> {
    /// Converts a stored JSON value, borrowing strings.
    pub fn from_json(v: &'a Value) -> Val<'a> {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Num(f64::from(u8::from(*b))),
            Value::Number(n) => Val::Num(n.as_f64().unwrap_or(0.0)),
            Value::String(s) => Val::Text(Cow::Borrowed(s)),
            other => Val::Text(Cow::Owned(other.to_string())),
        }
    }

    /// Detaches the value from what it borrows.
    pub fn into_owned(self) -> Val<'static> {
        match self {
            Val::Null => Val::Null,
            Val::Num(n) => Val::Num(n),
            Val::Text(t) => Val::Text(Cow::Owned(t.into_owned())),
        }
    }

    /// The value as SQLite would print it for LIKE / lower(): numbers without a needless `.0`.
    pub fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Val::Null => None,
            Val::Num(n) => Some(Cow::Owned(num_text(*n))),
            Val::Text(t) => Some(Cow::Borrowed(t)),
        }
    }
}

/// A number as text: integers without a fraction.
pub fn num_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// A text that SQLite's numeric affinity would turn into a number.
fn as_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Compares two non-null values (`None` when either is null). With `affinity`, numeric-looking
/// text compares as a number (SQLite's affinity for a column against a literal); without it (a
/// `json_extract` result against a literal) values compare by storage class, numbers first.
pub fn sql_cmp_as(a: &Val<'_>, b: &Val<'_>, affinity: bool) -> Option<Ordering> {
    let number = |t: &str| if affinity { as_number(t) } else { None };
    Some(match (a, b) {
        (Val::Null, _) | (_, Val::Null) => return None,
        (Val::Num(x), Val::Num(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Val::Text(x), Val::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Val::Num(x), Val::Text(t)) => match number(t) {
            Some(y) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            None => Ordering::Less,
        },
        (Val::Text(t), Val::Num(y)) => match number(t) {
            Some(x) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
            None => Ordering::Greater,
        },
    })
}

/// PocketBase's `=`: with `strict` (a JSON operand) null only equals null (`IS`); otherwise
/// null is coalesced to `''` on both sides.
pub fn equals(a: &Val<'_>, b: &Val<'_>, strict: bool) -> bool {
    match (a, b) {
        (Val::Null, Val::Null) => true,
        (Val::Null, other) | (other, Val::Null) => {
            !strict && matches!(other, Val::Text(t) if t.is_empty())
        }
        // A JSON value has no affinity: the number 5 does not equal the text '5'.
        _ => sql_cmp_as(a, b, !strict) == Some(Ordering::Equal),
    }
}

/// One element of a LIKE pattern.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    /// `%`
    Any,
    /// `_`: exactly one character.
    One,
    /// A literal char, already ASCII-lowercased.
    Lit(char),
}

/// A compiled LIKE pattern (case-insensitive for ASCII, like SQLite's default LIKE).
#[derive(Debug, Clone, PartialEq)]
pub struct LikePattern {
    parts: Vec<Part>,
    /// The pattern ends in a lone escape character: SQLite then matches nothing.
    never: bool,
    /// `%text%` with no other wildcard (the common `field ~ 'word'`): a SIMD substring search.
    contains: Option<Needle>,
}

/// The lower-cased literal of a `%text%` pattern, with its prepared substring searcher.
#[derive(Debug, Clone)]
struct Needle(memchr::memmem::Finder<'static>);

impl PartialEq for Needle {
    fn eq(&self, other: &Self) -> bool {
        self.0.needle() == other.0.needle()
    }
}

impl Needle {
    /// `%lit%` patterns only (at least one literal character between the two `%`).
    fn of(parts: &[Part]) -> Option<Self> {
        let [Part::Any, middle @ .., Part::Any] = parts else {
            return None;
        };
        let lit: Option<String> = middle
            .iter()
            .map(|p| match p {
                Part::Lit(c) => Some(*c),
                _ => None,
            })
            .collect();
        let lit = lit.filter(|l| !l.is_empty())?;
        Some(Needle(
            memchr::memmem::Finder::new(lit.as_bytes()).into_owned(),
        ))
    }

    /// ASCII case-insensitive containment. Lower-casing bytes is exact here: UTF-8 multi-byte
    /// sequences hold no ASCII bytes, and UTF-8 is self-synchronizing, so a byte match of a
    /// valid UTF-8 needle is a character match.
    fn found_in(&self, s: &str) -> bool {
        let bytes = s.as_bytes();
        if !bytes.iter().any(u8::is_ascii_uppercase) {
            return self.0.find(bytes).is_some();
        }
        let lower: Vec<u8> = bytes.iter().map(u8::to_ascii_lowercase).collect();
        self.0.find(&lower).is_some()
    }
}

/// Whether `s` holds `ch` not preceded by an escaping backslash (`\\` is an escaped backslash).
fn contains_unescaped(s: &str, ch: char) -> bool {
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ch {
            return true;
        }
    }
    false
}

/// PocketBase's auto-escaping of a LIKE value without wildcards, reproduced with its quirks:
/// scanning from the end, a `\`, `%` or `_` gets a backslash in front unless the character
/// before it already is one, and that preceding character is then not examined itself (so
/// `__b` becomes `_\_b`, whose first `_` stays a wildcard; observed on PocketBase 0.40.6).
fn escape_unescaped(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out: Vec<char> = Vec::with_capacity(chars.len() + 4);
    let mut pending = false;
    for (i, &c) in chars.iter().enumerate().rev() {
        if pending {
            if c != '\\' {
                out.push('\\');
            }
            pending = false;
        } else {
            pending = matches!(c, '\\' | '%' | '_');
        }
        out.push(c);
        if i == 0 && pending {
            out.push('\\');
        }
    }
    out.into_iter().rev().collect()
}

impl LikePattern {
    /// PocketBase's treatment of a literal right side: a value with an unescaped `%` is used as
    /// the raw pattern (`_` is then a one-character wildcard); any other value is auto-escaped
    /// and wrapped as `%v%`. The pattern runs with `ESCAPE '\'`: `\x` is a literal `x`, so a
    /// backslash the user wrote before another character stays literal only through the
    /// auto-escaping (`"k\s"` matches `back\slash`, `"%k\s%"` does not).
    pub fn from_literal(v: &str) -> Self {
        if contains_unescaped(v, '%') {
            Self::sqlite(v)
        } else {
            Self::sqlite(&format!("%{}%", escape_unescaped(v)))
        }
    }

    /// SQLite's `LIKE pattern ESCAPE '\'`.
    fn sqlite(pattern: &str) -> Self {
        let mut parts = Vec::new();
        let mut never = false;
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            parts.push(match c {
                '\\' => match chars.next() {
                    Some(n) => Part::Lit(n.to_ascii_lowercase()),
                    None => {
                        never = true;
                        break;
                    }
                },
                '%' => Part::Any,
                '_' => Part::One,
                c => Part::Lit(c.to_ascii_lowercase()),
            });
        }
        let contains = if never { None } else { Needle::of(&parts) };
        LikePattern {
            parts,
            never,
            contains,
        }
    }

    /// A column on the right side: PocketBase's `LIKE ('%' || col || '%') ESCAPE '\'`, so the
    /// value's own `%` and `_` are wildcards and `\` escapes the next character.
    pub fn from_column(v: &str) -> Self {
        Self::sqlite(&format!("%{v}%"))
    }

    /// Whether `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        match &self.contains {
            Some(needle) => needle.found_in(s),
            None => self.matches_general(s),
        }
    }

    /// Any pattern: greedy with a single backtracking point, O(len(s) × len(pattern)).
    fn matches_general(&self, s: &str) -> bool {
        if self.never {
            return false;
        }
        let text: Vec<char> = s.chars().map(|c| c.to_ascii_lowercase()).collect();
        let p = &self.parts;
        let (mut ti, mut pi) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while ti < text.len() {
            match p.get(pi) {
                Some(Part::Any) => {
                    star = Some((pi, ti));
                    pi += 1;
                }
                Some(Part::One) => {
                    pi += 1;
                    ti += 1;
                }
                Some(Part::Lit(c)) if *c == text[ti] => {
                    pi += 1;
                    ti += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        pi = sp + 1;
                        ti = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        p[pi..].iter().all(|x| *x == Part::Any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The `%text%` fast path answers exactly as the general matcher, for any text and any
        /// pattern over an alphabet with wildcards, escapes, case and multi-byte characters.
        #[test]
        fn contains_fast_path_agrees_with_the_general_matcher(
            pat in "[aAbB%_\\\\é]{0,6}",
            text in "[aAbBcé%_\\\\ ]{0,24}",
        ) {
            for p in [LikePattern::from_literal(&pat), LikePattern::from_column(&pat)] {
                prop_assert_eq!(p.matches(&text), p.matches_general(&text), "{:?}", p);
            }
        }
    }

    #[test]
    fn plain_words_take_the_substring_path() {
        assert!(LikePattern::from_literal("rust").contains.is_some());
        assert!(LikePattern::from_literal("ru_t%").contains.is_none());
        assert!(LikePattern::from_literal("%").contains.is_none());
        let p = LikePattern::from_literal("Élan RUST");
        assert!(p.matches("un élan rust fast") == p.matches_general("un élan rust fast"));
        assert!(p.matches("UN Élan Rust"));
    }

    fn t(s: &str) -> Val<'_> {
        Val::Text(Cow::Borrowed(s))
    }

    #[test]
    fn like_follows_pocketbase() {
        let like = |p: &str, s: &str| LikePattern::from_literal(p).matches(s);
        assert!(like("rust", "Rust is fast"));
        assert!(like("Hel%", "Hello"));
        assert!(!like("%sure", "sure thing"));
        assert!(!like("50%", "it's \"q\" 50%"));
        assert!(like("50\\%", "it's \"q\" 50%"));
        assert!(like("%50\\%", "it's \"q\" 50%"));
        assert!(!like("H_llo", "Hello"));
        assert!(like("sure_", "make sure_ it"));
        assert!(like("", "anything"));
        assert!(like("%", ""));
        assert!(LikePattern::from_column("a%c").matches("xxabbbcxx"));
        // A column's `_` is a one-character wildcard and `\` escapes, as in PocketBase's SQL.
        assert!(LikePattern::from_column("a_c").matches("xxabcxx"));
        assert!(!LikePattern::from_column("a_c").matches("xxacxx"));
        assert!(LikePattern::from_column("a\\_c").matches("a_c"));
        assert!(!LikePattern::from_column("a\\_c").matches("abc"));
        // A trailing backslash escapes the closing `%`: the text must end with `a%`.
        assert!(LikePattern::from_column("a\\").matches("xa%"));
        assert!(!LikePattern::from_column("a\\").matches("xa%y"));
        assert!(!LikePattern::from_column("a\\").matches("xa"));
        assert!(!like("a%b%c%d", &"ab".repeat(5000)));
    }

    #[test]
    fn like_backslashes_and_underscores_follow_pocketbase() {
        // Values as they come out of the lexer (which keeps unknown escapes such as `\s`).
        let like = |p: &str, s: &str| LikePattern::from_literal(p).matches(s);
        // A backslash before anything but `%`, `_`, `\` is a literal backslash.
        assert!(like("k\\s", "back\\slash"));
        assert!(!like("k\\s", "backslash"));
        assert!(!like("\\h", "hello"));
        assert!(like("\\h", "x\\hy"));
        assert!(like("\\", "back\\slash"));
        assert!(like("a\\_b", "xa_by"));
        assert!(!like("a\\b", "tab"));
        // PocketBase's escaping quirk: in `__b` only the second `_` is escaped.
        assert_eq!(escape_unescaped("__b"), "_\\_b");
        assert!(like("__b", "a_b"));
        assert!(!like("_\\_b", "a_b"));
        // A raw pattern (unescaped `%`): `_` is a wildcard, `\x` is `x`, a trailing `\` fails.
        assert!(like("H_llo%", "hello world"));
        assert!(!like("%k\\s%", "back\\slash"));
        assert!(like("%k\\\\s%", "back\\slash"));
        assert!(!like("%slash\\", "back\\slash"));
        assert!(like("\\\\%", "\\x"));
    }

    #[test]
    fn comparisons_mimic_sqlite() {
        assert_eq!(
            sql_cmp_as(&Val::Num(10.0), &t("9"), true),
            Some(Ordering::Greater)
        );
        assert_eq!(
            sql_cmp_as(&Val::Num(10.0), &t("abc"), true),
            Some(Ordering::Less)
        );
        assert_eq!(
            sql_cmp_as(&t(""), &t("2024-01-01"), true),
            Some(Ordering::Less)
        );
        assert_eq!(sql_cmp_as(&Val::Null, &Val::Num(1.0), true), None);
        assert!(equals(&Val::Null, &t(""), false));
        assert!(!equals(&Val::Null, &t(""), true));
        assert!(equals(&Val::Null, &Val::Null, true));
        assert!(!equals(&Val::Num(0.0), &t(""), false));
        assert!(equals(
            &Val::Num(1.0),
            &Val::from_json(&Value::Bool(true)),
            false
        ));
    }

    #[test]
    fn json_values_against_literals_have_no_affinity() {
        // Like json_extract(...) vs a literal in SQLite: the number 7 sorts before any text.
        assert_eq!(
            sql_cmp_as(&Val::Num(7.0), &t("5"), false),
            Some(Ordering::Less)
        );
        assert_eq!(
            sql_cmp_as(&Val::Num(7.0), &t("5"), true),
            Some(Ordering::Greater)
        );
        assert!(!equals(&Val::Num(5.0), &t("5"), true));
        assert!(equals(&Val::Num(5.0), &t("5"), false));
    }
}
