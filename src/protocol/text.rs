//! Small text helpers, written by hand where the standard ones would bring
//! large generic machinery into the browser's wasm (substring search, float
//! and integer parsing, lossy UTF-8, character counting).

use crate::prelude::*;

/// The parts one after the other (what `[..].concat()` does, without its
/// generic machinery).
pub fn join(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

/// Whether `needle` occurs in `haystack` (a short needle: a plain scan).
pub fn contains(haystack: &str, needle: &str) -> bool {
    find(haystack, needle).is_some()
}

/// Byte offset of the first `needle` in `haystack`.
pub fn find(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return Some(0);
    }
    (0..h.len().saturating_sub(n.len() - 1)).find(|&i| h[i..].starts_with(n))
}

/// The characters (code points) of `s`.
pub fn char_count(s: &str) -> usize {
    // Every code point has exactly one byte that is not a continuation byte.
    s.bytes().filter(|b| (*b as i8) >= -0x40).count()
}

/// A whole number written with ASCII digits only (no sign, no spaces).
pub fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    s.bytes().try_fold(0u64, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// `bytes` as text, each invalid sequence replaced by U+FFFD.
pub fn utf8_lossy(mut bytes: &[u8]) -> String {
    let mut out = String::new();
    loop {
        match core::str::from_utf8(bytes) {
            Ok(valid) => {
                out.push_str(valid);
                return out;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                // SAFETY: from_utf8 just checked these bytes.
                out.push_str(unsafe { core::str::from_utf8_unchecked(valid) });
                out.push('\u{FFFD}');
                bytes = &rest[e.error_len().unwrap_or(rest.len())..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_parts() {
        assert_eq!(join(&["a", "", "bc"]), "abc");
        assert_eq!(join(&[]), "");
    }

    #[test]
    fn substring_search() {
        assert!(contains("model is currently loading", "loading"));
        assert!(!contains("load", "loading"));
        assert_eq!(find("a, b, c", ", "), Some(1));
        assert_eq!(find("abc", ""), Some(0));
        assert_eq!(find("", "a"), None);
    }

    #[test]
    fn counts_code_points() {
        assert_eq!(char_count("héllo…"), 6);
        assert_eq!(char_count(""), 0);
        assert_eq!(char_count("😀a"), 2);
    }

    #[test]
    fn whole_numbers_only() {
        assert_eq!(parse_u64("120"), Some(120));
        assert_eq!(parse_u64("0"), Some(0));
        for bad in ["", "-1", "+1", "1.5", " 1", "12345678901234567890"] {
            assert_eq!(parse_u64(bad), None, "{bad}");
        }
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        assert_eq!(utf8_lossy(b"ok"), "ok");
        assert_eq!(utf8_lossy(b"a\xffb"), "a\u{FFFD}b");
        assert_eq!(utf8_lossy(b"a\xe2\x82"), "a\u{FFFD}");
        assert_eq!(utf8_lossy("é".as_bytes()), "é");
    }
}
