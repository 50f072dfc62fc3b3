//! Memcomparable encoding of JSON values for index keys: comparing encoded bytes gives the same
//! order as comparing values (null < false < true < numbers < text < other JSON), and every
//! encoded value is self-delimiting so compound keys concatenate safely.

use serde_json::Value;

const TAG_NULL: u8 = 0x01;
const TAG_FALSE: u8 = 0x02;
const TAG_TRUE: u8 = 0x03;
const TAG_NUMBER: u8 = 0x04;
const TAG_TEXT: u8 = 0x05;
const TAG_JSON: u8 = 0x06;

/// Appends the encoding of `v` to `out`.
pub fn encode(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.push(TAG_NULL),
        Value::Bool(false) => out.push(TAG_FALSE),
        Value::Bool(true) => out.push(TAG_TRUE),
        Value::Number(n) => {
            out.push(TAG_NUMBER);
            out.extend_from_slice(&f64_key(n.as_f64().unwrap_or(0.0)));
        }
        Value::String(s) => {
            out.push(TAG_TEXT);
            escape(out, s.as_bytes());
        }
        other => {
            out.push(TAG_JSON);
            escape(out, other.to_string().as_bytes());
        }
    }
}

/// The byte range holding every encoded value of `v`'s type: `(start, end)` with `end`
/// exclusive, so a range scan over one field never mixes numbers with text or nulls.
pub fn type_bracket(v: &Value) -> (u8, u8) {
    let tag = match v {
        Value::Null => TAG_NULL,
        Value::Bool(_) => TAG_FALSE,
        Value::Number(_) => TAG_NUMBER,
        Value::String(_) => TAG_TEXT,
        _ => TAG_JSON,
    };
    let end = if tag == TAG_FALSE {
        TAG_NUMBER
    } else {
        tag + 1
    };
    (tag, end)
}

/// The smallest byte string greater than every string starting with `prefix`.
pub fn prefix_successor(mut prefix: Vec<u8>) -> Option<Vec<u8>> {
    while let Some(last) = prefix.pop() {
        if last < 0xFF {
            prefix.push(last + 1);
            return Some(prefix);
        }
    }
    None
}

/// Appends an escaped, terminated string (used for index names).
pub fn encode_str(out: &mut Vec<u8>, s: &str) {
    escape(out, s.as_bytes());
}

/// Reads back one [`encode_str`] string from the front of `input`: the string and the bytes
/// after it, or `None` if `input` does not start with a well-formed one.
pub fn decode_str(input: &[u8]) -> Option<(String, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        match *input.get(i)? {
            0 => match *input.get(i + 1)? {
                0xFF => out.push(0),
                0x01 => return String::from_utf8(out).ok().map(|s| (s, &input[i + 2..])),
                _ => return None,
            },
            b => {
                out.push(b);
                i += 1;
                continue;
            }
        }
        i += 2;
    }
}

/// Encoding of a whole tuple of values.
#[cfg(test)]
pub fn encode_all<'a>(values: impl IntoIterator<Item = &'a Value>) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        encode(&mut out, v);
    }
    out
}

/// Order-preserving bytes of an f64 (`-0.0` and `0.0` encode the same).
fn f64_key(f: f64) -> [u8; 8] {
    let f = if f == 0.0 { 0.0 } else { f };
    let bits = f.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits ^ (1 << 63)
    };
    ordered.to_be_bytes()
}

/// 0x00 becomes 0x00 0xFF; the terminator 0x00 0x01 sorts below any continuation, so a prefix
/// sorts first.
fn escape(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_read_back_with_what_follows() {
        for text in ["", "a", "r/1", "nul\0inside", "\0\0", "ünï"] {
            let mut k = Vec::new();
            encode_str(&mut k, text);
            k.extend_from_slice(b"rest");
            let (back, rest) = decode_str(&k).expect("decodes");
            assert_eq!((back.as_str(), rest), (text, &b"rest"[..]));
        }
        assert_eq!(decode_str(b"abc"), None, "no terminator");
        assert_eq!(decode_str(&[b'a', 0, 7]), None, "bad escape");
    }
    use proptest::prelude::*;
    use serde_json::json;

    fn enc(v: &Value) -> Vec<u8> {
        encode_all([v])
    }

    #[test]
    fn type_order() {
        let vals = [
            json!(null),
            json!(false),
            json!(true),
            json!(-5),
            json!(3.5),
            json!(""),
            json!("a"),
            json!([1]),
        ];
        for w in vals.windows(2) {
            assert!(enc(&w[0]) < enc(&w[1]), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn successors_bound_prefixes() {
        assert_eq!(prefix_successor(vec![1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_successor(vec![1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_successor(vec![0xFF]), None);
        let k = enc(&json!("ab"));
        let longer = enc(&json!("abc"));
        let succ = prefix_successor(k.clone()).expect("succ");
        assert!(
            k < succ && longer > k && longer < prefix_successor(enc(&json!("ac"))).expect("succ")
        );
    }

    #[test]
    fn zero_signs_are_equal() {
        assert_eq!(enc(&json!(0.0)), enc(&json!(-0.0)));
    }

    #[test]
    fn compound_keys_do_not_bleed() {
        // ("a", "b") must differ from ("ab", "") and order by the first component first.
        let k1 = encode_all([&json!("a"), &json!("b")]);
        let k2 = encode_all([&json!("ab"), &json!("")]);
        assert_ne!(k1, k2);
        assert!(k1 < k2);
    }

    proptest! {
        #[test]
        fn numbers_keep_order(a in proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL,
                              b in proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL) {
            let (ka, kb) = (f64_key(a), f64_key(b));
            prop_assert_eq!(a.partial_cmp(&b).map(|o| o.is_lt()), Some(ka < kb));
        }

        #[test]
        fn strings_keep_order(a in ".*", b in ".*") {
            let (ka, kb) = (enc(&json!(a)), enc(&json!(b)));
            prop_assert_eq!(a.as_bytes().cmp(b.as_bytes()), ka.cmp(&kb));
        }

        #[test]
        fn string_pairs_keep_order(a in "[a\\x00b]{0,4}", b in "[a\\x00b]{0,4}", c in "[a\\x00b]{0,3}", d in "[a\\x00b]{0,3}") {
            let k1 = encode_all([&json!(a), &json!(c)]);
            let k2 = encode_all([&json!(b), &json!(d)]);
            let expected = (a.as_bytes(), c.as_bytes()).cmp(&(b.as_bytes(), d.as_bytes()));
            prop_assert_eq!(k1.cmp(&k2), expected);
        }
    }
}
