//! Text helpers the wasm is smaller without the standard library's for.
//!
//! `str::contains`, `str::replace` and `[&str]::join` are generic over their
//! pattern and parts: a `&str` pattern brings core's `StrSearcher` (the
//! Two-Way search) and, through its slicing checks, `char`'s and `Range`'s
//! `Debug` with the Unicode printable tables: 5.0 KB of the gzipped browser
//! client for seven searches of a few bytes each in short texts (content
//! types, an error message, the tokens to redact); the generic join, 0.5 KB.
//! These do the same with core's byte-slice comparisons, which the wasm has
//! anyway; each is tested against the `str` method it replaces. So do the
//! searches for one ASCII character: a `char` pattern brings core's
//! `CharSearcher` and `memchr`, 1 KB of the wasm for the few `:`, `/` and
//! `@` of model ids, URLs and SSE lines.

/// Whether `needle` occurs in `haystack` (as `str::contains` with a `&str`).
pub(crate) fn contains(haystack: &str, needle: &str) -> bool {
    needle.is_empty()
        || haystack
            .as_bytes()
            .windows(needle.len())
            .any(|window| window == needle.as_bytes())
}

/// `text` with every occurrence of `needle` replaced by `with`, left to
/// right without overlaps (as `str::replace` with a `&str`); an empty
/// `needle` (never a token) leaves `text` as it is.
pub(crate) fn replaced(text: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if rest.as_bytes().starts_with(needle.as_bytes()) {
            out.push_str(with);
            // A whole `&str` matched: the rest starts on a character.
            rest = rest.get(needle.len()..).unwrap_or_default();
        } else {
            // Character by character, with no slicing of `text` whose
            // boundary check would link a panic message.
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                out.push(c);
            }
            rest = chars.as_str();
        }
    }
    out
}

/// Whether the ASCII byte `byte` occurs in `text` (as `str::contains` with
/// that `char`).
pub(crate) fn has_byte(text: &str, byte: u8) -> bool {
    // Through `split_once_at`'s search: one copy of it in the wasm.
    split_once_at(text, byte).is_some()
}

/// `text` split around the first ASCII byte `separator` (as `str::split_once`
/// with that `char`).
pub(crate) fn split_once_at(text: &str, separator: u8) -> Option<(&str, &str)> {
    debug_assert!(
        separator.is_ascii(),
        "a byte search is for ASCII separators"
    );
    let at = text.bytes().position(|b| b == separator)?;
    // An ASCII byte is a whole character: both ends are on boundaries.
    Some((text.get(..at)?, text.get(at + 1..)?))
}

/// The strings of a list, borrowed. A loop rather than `collect()`, which is
/// its own copy of the standard library's code in the wasm for each use.
pub(crate) fn borrowed(list: &[String]) -> Vec<&str> {
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        out.push(item.as_str());
    }
    out
}

/// `parts` joined by `separator`, as `[&str]::join` writes them.
pub(crate) fn joined(parts: &[&str], separator: &str) -> String {
    let mut text = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            text.push_str(separator);
        }
        text.push_str(part);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_is_join() {
        for parts in [&[][..], &["a"], &["a", "", "b"], &["", ""]] {
            assert_eq!(joined(parts, ", "), parts.join(", "));
        }
    }

    #[test]
    fn borrowed_keeps_the_order() {
        let list = ["b".to_owned(), String::new(), "a".to_owned()];
        assert_eq!(borrowed(&list), ["b", "", "a"]);
        assert!(borrowed(&[]).is_empty());
    }

    #[test]
    fn byte_searches_are_str_char_searches() {
        for text in ["", ":", "a:b", "a:b:c", "::", "é:é", "no colon", "ab:"] {
            assert_eq!(split_once_at(text, b':'), text.split_once(':'), "{text:?}");
            assert_eq!(has_byte(text, b':'), text.contains(':'), "{text:?}");
        }
    }

    #[test]
    fn contains_is_str_contains() {
        for haystack in [
            "",
            "a",
            "application/json",
            "jso",
            "json",
            "xjsonx",
            "ééjson",
            "jsojson",
        ] {
            for needle in [
                "",
                "json",
                "é",
                "jsojson",
                "application/json; charset=utf-8",
            ] {
                assert_eq!(
                    contains(haystack, needle),
                    haystack.contains(needle),
                    "{haystack:?} {needle:?}"
                );
            }
        }
    }

    #[test]
    fn replaced_is_str_replace() {
        let cases = [
            ("", "hf_x"),
            ("hf_x", "hf_x"),
            ("a hf_x b hf_x", "hf_x"),
            ("hf_xhf_x", "hf_x"),
            ("hf_hf_x", "hf_x"),
            ("aaa", "aa"),
            ("é hf_x é", "hf_x"),
            ("no token here", "hf_x"),
        ];
        for (text, needle) in cases {
            assert_eq!(
                replaced(text, needle, "[redacted]"),
                text.replace(needle, "[redacted]"),
                "{text:?} {needle:?}"
            );
        }
        assert_eq!(replaced("ab", "", "[redacted]"), "ab");
    }
}
