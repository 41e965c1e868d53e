//! Pure protocol: what goes on the wire and what comes back. No I/O, no JS
//! types; tested natively.

pub mod answer;
pub mod completion;
pub mod document;
pub mod error;
pub mod image;
pub mod model;
pub mod pipeline;
pub mod provider;
pub mod sse;
pub mod task;
pub mod token;

/// `parts` joined by `separator`, as `[&str]::join` writes them. Written
/// out: the standard library's generic join was 1 KB of the optimised wasm
/// for three messages and a cache key.
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
    #[test]
    fn joined_is_join() {
        for parts in [&[][..], &["a"], &["a", "", "b"], &["", ""]] {
            assert_eq!(super::joined(parts, ", "), parts.join(", "));
        }
    }
}
