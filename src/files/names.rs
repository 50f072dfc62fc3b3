//! Stored file names, as PocketBase makes them: the original base sanitized and lower-cased, `_`,
//! 10 random `[a-z0-9]`, then the original extension (case kept). `red.png` → `red_hhkcxh1ed8.png`.

use rand::Rng;

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Longest kept base (PocketBase cuts at 100 characters).
const MAX_BASE: usize = 100;
/// Longest kept extension, dot included.
const MAX_EXT: usize = 20;

fn random(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The extension PocketBase gives an upload without one, from its sniffed MIME type.
fn extension_for(mime: &str) -> String {
    let ext = match mime {
        "text/plain" => "txt",
        "image/svg+xml" => "svg",
        "image/jpeg" => "jpg",
        "application/octet-stream" | "" => return String::new(),
        other => mime_guess::get_mime_extensions_str(other)
            .and_then(|e| e.first().copied())
            .unwrap_or(""),
    };
    if ext.is_empty() {
        String::new()
    } else {
        format!(".{ext}")
    }
}

/// The stored name for an upload called `original` whose content sniffed as `mime` (a
/// nameless part is `blob`; a name without extension gets the one of its type: `blob.txt`).
pub fn stored_name(original: &str, mime: &str) -> String {
    // Only the last path segment: browsers may send `C:\fakepath\x.png`.
    let original = original.rsplit(['/', '\\']).next().unwrap_or("");
    let (base, ext) = match original.rfind('.') {
        Some(i) if i > 0 => (&original[..i], &original[i..]),
        _ => (original, ""),
    };
    let ext: String = ext
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .take(MAX_EXT)
        .collect();
    let ext = if ext.len() <= 1 {
        extension_for(mime)
    } else {
        ext
    };
    let mut clean = String::with_capacity(base.len().min(MAX_BASE));
    for c in base.chars() {
        if clean.len() >= MAX_BASE {
            break;
        }
        if c.is_ascii_alphanumeric() {
            clean.push(c.to_ascii_lowercase());
        } else if !clean.ends_with('_') {
            clean.push('_');
        }
    }
    let clean = clean.trim_matches('_').to_string();
    let clean = if clean.is_empty() {
        "blob".to_string()
    } else {
        clean
    };
    // Very short bases are padded so names stay hard to guess.
    let clean = if clean.len() < 3 {
        format!("{clean}{}", random(10))
    } else {
        clean
    };
    format!("{clean}_{}{ext}", random(10))
}

/// Whether `s` is safe as one path segment of storage (a record id, a collection id, a stored
/// name): non-empty, ASCII letters, digits, `_`, `-`, `.`, and not a dot-only name.
pub fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && !s.bytes().all(|b| b == b'.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(name: &str) -> (String, String) {
        let (base, rest) = name.rsplit_once('_').expect("suffix");
        (base.to_string(), rest.to_string())
    }

    #[test]
    fn names_keep_base_and_extension_like_pocketbase() {
        let (base, rest) = shape(&stored_name("red.png", "text/plain"));
        assert_eq!(base, "red");
        assert_eq!(rest.len(), 14, "{rest}");
        assert!(rest.ends_with(".png"));
        let (base, rest) = shape(&stored_name("Other Name.TXT", "text/plain"));
        assert_eq!(base, "other_name");
        assert!(rest.ends_with(".TXT"));
        let (base, rest) = shape(&stored_name("", "text/plain"));
        assert_eq!(base, "blob");
        assert!(rest.ends_with(".txt"));
        let (base, _) = shape(&stored_name("C:\\fakepath\\My Photo.jpeg", "image/jpeg"));
        assert_eq!(base, "my_photo");
        let (base, _) = shape(&stored_name("a.txt", "text/plain"));
        assert_eq!(base.len(), 11, "short bases are padded: {base}");
        let (base, rest) = shape(&stored_name("../../etc/passwd", "text/plain"));
        assert_eq!(base, "passwd");
        assert_eq!(rest.len(), 14, "{rest}");
        let (_, rest) = shape(&stored_name("photo", "image/png"));
        assert!(rest.ends_with(".png"), "{rest}");
        let (_, rest) = shape(&stored_name("data", "application/octet-stream"));
        assert_eq!(rest.len(), 10, "{rest}");
    }

    #[test]
    fn stored_names_are_safe_segments() {
        for n in [
            "red.png", "../x", "a b/c.d", "", ".", "ü.png", "x.p/n\\g", ".....",
        ] {
            let s = stored_name(n, "text/plain");
            assert!(safe_segment(&s), "{n:?} → {s:?}");
        }
        for bad in ["", ".", "..", "a/b", "a\\b", "a b"] {
            assert!(!safe_segment(bad), "{bad:?}");
        }
    }
}
