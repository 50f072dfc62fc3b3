//! Identifier generation: random record ids, PocketBase's deterministic collection and field ids,
//! and values for a text field's `autogeneratePattern`.

use crate::ids::CollectionId;
use rand::distributions::Alphanumeric;
use rand::Rng;

const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Longest value `generate_from_pattern` will produce; longer patterns are refused.
const MAX_GENERATED_LEN: usize = 1000;

/// A random 15-character `[a-z0-9]` record id.
pub fn random_id() -> String {
    random_from(LOWER_ALNUM, 15)
}

/// A random `[A-Za-z0-9]` string of `len` characters (token secrets, token keys).
pub fn random_alphanumeric(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

/// PocketBase's collection id: `pbc_` + decimal CRC32-IEEE of `kind + name`.
pub fn collection_id(kind: &str, name: &str) -> CollectionId {
    CollectionId(format!(
        "pbc_{}",
        crc32fast::hash(format!("{kind}{name}").as_bytes())
    ))
}

/// PocketBase's field id: the type followed by the decimal CRC32-IEEE of the name.
pub fn field_id(kind: &str, name: &str) -> String {
    format!("{kind}{}", crc32fast::hash(name.as_bytes()))
}

/// One piece of an autogenerate pattern: an alphabet repeated `count` times.
struct Part {
    alphabet: Vec<u8>,
    count: usize,
}

/// Generates a value for the supported subset of `autogeneratePattern`: a sequence of character
/// classes (`[a-z0-9_-]`) or literal ASCII letters/digits/`_`/`-`, each optionally followed by
/// `{n}`. Returns `None` for anything else, so the caller can refuse the pattern up front.
pub fn generate_from_pattern(p: &str) -> Option<String> {
    let parts = parse_pattern(p)?;
    let mut rng = rand::thread_rng();
    let mut out = String::new();
    for part in parts {
        for _ in 0..part.count {
            out.push(char::from(
                part.alphabet[rng.gen_range(0..part.alphabet.len())],
            ));
        }
    }
    Some(out)
}

fn parse_pattern(p: &str) -> Option<Vec<Part>> {
    let bytes = p.as_bytes();
    let (mut i, mut total, mut parts) = (0, 0usize, Vec::new());
    while i < bytes.len() {
        let alphabet = if bytes[i] == b'[' {
            let end = i + 1 + bytes[i + 1..].iter().position(|&b| b == b']')?;
            let class = parse_class(&bytes[i + 1..end])?;
            i = end + 1;
            class
        } else if is_literal(bytes[i]) {
            i += 1;
            vec![bytes[i - 1]]
        } else {
            return None;
        };
        let mut count = 1;
        if bytes.get(i) == Some(&b'{') {
            let end = i + 1 + bytes[i + 1..].iter().position(|&b| b == b'}')?;
            let digits = std::str::from_utf8(&bytes[i + 1..end]).ok()?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            count = digits.parse().ok()?;
            i = end + 1;
        }
        total = total.checked_add(count)?;
        if total > MAX_GENERATED_LEN {
            return None;
        }
        parts.push(Part { alphabet, count });
    }
    (!parts.is_empty() && total > 0).then_some(parts)
}

fn is_literal(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Expands a class body such as `a-zA-Z0-9_` into its (deduplicated) characters.
fn parse_class(body: &[u8]) -> Option<Vec<u8>> {
    let mut set = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if !is_literal(c) {
            return None;
        }
        if body.get(i + 1) == Some(&b'-') && i + 2 < body.len() {
            let hi = body[i + 2];
            let same_kind = (c.is_ascii_lowercase() && hi.is_ascii_lowercase())
                || (c.is_ascii_uppercase() && hi.is_ascii_uppercase())
                || (c.is_ascii_digit() && hi.is_ascii_digit());
            if !same_kind || hi < c {
                return None;
            }
            set.extend(c..=hi);
            i += 3;
        } else {
            set.push(c);
            i += 1;
        }
    }
    set.sort_unstable();
    set.dedup();
    (!set.is_empty()).then_some(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_have_pocketbase_shape() {
        let a = random_id();
        assert_eq!(a.len(), 15);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        assert_ne!(a, random_id());
        let s = random_alphanumeric(50);
        assert_eq!(s.len(), 50);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn collection_ids_match_pocketbase() {
        assert_eq!(collection_id("base", "allf").0, "pbc_2844260936");
        assert_eq!(collection_id("auth", "_superusers").0, "pbc_3142635823");
    }

    #[test]
    fn field_ids_match_pocketbase() {
        assert_eq!(field_id("text", "id"), "text3208210256");
        assert_eq!(field_id("autodate", "created"), "autodate2990389176");
        assert_eq!(field_id("autodate", "updated"), "autodate3332085495");
        assert_eq!(field_id("password", "password"), "password901924565");
        assert_eq!(field_id("email", "email"), "email3885137012");
        assert_eq!(field_id("text", "tokenKey"), "text2504183744");
        assert_eq!(field_id("bool", "emailVisibility"), "bool1547992806");
        assert_eq!(field_id("bool", "verified"), "bool256245529");
    }

    #[test]
    fn generates_supported_patterns() {
        let id = generate_from_pattern("[a-z0-9]{15}").unwrap();
        assert_eq!(id.len(), 15);
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));

        let key = generate_from_pattern("[a-zA-Z0-9]{50}").unwrap();
        assert_eq!(key.len(), 50);
        assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()));

        let seq = generate_from_pattern("inv_[0-9]{4}-[A-Z]{2}").unwrap();
        assert_eq!(seq.len(), 11);
        assert!(seq.starts_with("inv_"));
        assert_eq!(&seq[8..9], "-");
        assert!(seq[4..8].bytes().all(|b| b.is_ascii_digit()));
        assert!(seq[9..].bytes().all(|b| b.is_ascii_uppercase()));

        assert_eq!(generate_from_pattern("[x]{3}").as_deref(), Some("xxx"));
        assert_eq!(generate_from_pattern("[_-]").map(|s| s.len()), Some(1));
    }

    #[test]
    fn refuses_unsupported_patterns() {
        for bad in [
            "",
            "[a-z]+",
            "[a-z]*",
            "\\d{3}",
            "[^a-z]{3}",
            "[a-z]{}",
            "[a-z]{1,5}",
            "[a-z",
            "[z-a]{3}",
            "[a-Z]{3}",
            "[]{3}",
            "(ab){2}",
            "[a-z]{0}",
            "[a-z]{1001}",
            "[a-z]{99999999999999999999}",
            "é",
        ] {
            assert!(generate_from_pattern(bad).is_none(), "pattern {bad:?}");
        }
    }
}
