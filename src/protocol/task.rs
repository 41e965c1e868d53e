//! What goes on the wire for each task: the checks of model ids, endpoint
//! URLs and tokens, the URL of a call, and the encodings of image bytes
//! (base64, sniffed content type). JSON bodies are written by the JS client
//! with `JSON.stringify` (pkg-template/client.js).

use super::error::InferenceError;
use super::text::{char_count, join};
use crate::prelude::*;

/// Longest model id accepted (the Hub's own limit).
pub const MAX_MODEL_ID_CHARS: usize = 96;

/// Checks a model id (`name` or `owner/name`) before it becomes part of a URL.
///
/// Each segment is made of ASCII letters, digits, `-`, `_` and `.`, is not
/// `.` or `..`, and there is at most one `/`: nothing can climb out of
/// `/models/` or smuggle an encoded separator.
pub fn validate_model_id(model: &str) -> Result<(), InferenceError> {
    validate_model_id_named(model, "model")
}

/// [`validate_model_id`], with errors naming `argument`.
fn validate_model_id_named(model: &str, argument: &str) -> Result<(), InferenceError> {
    let refuse = |problem: &str| Err(InferenceError::invalid_input(argument, problem));
    if model.is_empty() {
        return refuse("must be a non-empty model id such as \"openai-community/gpt2\"");
    }
    if char_count(model) > MAX_MODEL_ID_CHARS {
        return refuse("is longer than 96 characters");
    }
    let segments: Vec<&str> = model.split('/').collect();
    if segments.len() > 2 {
        return refuse("has more than one '/' (expected \"owner/name\")");
    }
    for segment in segments {
        if segment.is_empty() {
            return refuse("has an empty segment around '/'");
        }
        if segment == "." || segment == ".." {
            return refuse("has a '.' or '..' segment");
        }
        if let Some(bad) = segment
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            // Control characters are shown by code point, not echoed.
            let mut problem = String::from("contains ");
            if bad.is_control() {
                problem.push_str("U+");
                for shift in [12, 8, 4, 0] {
                    problem.push(char::from(
                        b"0123456789ABCDEF"[(bad as usize >> shift) & 15],
                    ));
                }
            } else {
                problem.push('\'');
                problem.push(bad);
                problem.push('\'');
            }
            problem.push_str("; only letters, digits, '-', '_', '.' and one '/' are allowed");
            return Err(InferenceError::invalid_input(argument, &problem));
        }
    }
    Ok(())
}

/// The Hugging Face router's base for task calls: the client's default
/// endpoint and the proxy's default upstream.
pub const ROUTER_TASKS: &str = "https://router.huggingface.co/hf-inference";
/// The router's OpenAI-compatible base for chat calls.
pub const ROUTER_CHAT: &str = "https://router.huggingface.co/v1";

/// The URL of a task call: `{base}/models/{model}`, or `base` itself for a
/// dedicated endpoint (an Inference Endpoint serves one model at its root).
pub fn task_url(base: &str, model: &str, dedicated: bool) -> String {
    if dedicated {
        base.to_owned()
    } else {
        join(&[base.trim_end_matches('/'), "/models/", model])
    }
}

/// Checks an endpoint URL: `http://` or `https://`, a host, and no query,
/// fragment or credentials (paths are appended to it).
pub fn validate_endpoint_url(url: &str, argument: &str) -> Result<(), InferenceError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            InferenceError::invalid_input(argument, "must start with https:// or http://")
        })?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(InferenceError::invalid_input(argument, "has no host"));
    }
    if host.contains('@') {
        return Err(InferenceError::invalid_input(
            argument,
            "must not carry credentials; use the token option",
        ));
    }
    if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(InferenceError::invalid_input(
            argument,
            "must not contain a query, a fragment or spaces",
        ));
    }
    Ok(())
}

/// The URL of a chat call: `{base}/chat/completions` on an OpenAI-compatible base.
pub fn chat_url(base: &str) -> String {
    join(&[base.trim_end_matches('/'), "/chat/completions"])
}

/// Checks a chat model: a model id, optionally with the router's
/// `:provider` (or `:fastest`, `:cheapest`) suffix.
pub fn validate_chat_model(model: &str, argument: &str) -> Result<(), InferenceError> {
    let (id, provider) = match model.split_once(':') {
        Some((id, provider)) => (id, Some(provider)),
        None => (model, None),
    };
    validate_model_id_named(id, argument)?;
    if let Some(provider) = provider {
        if provider.is_empty()
            || !provider
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(InferenceError::invalid_input(
                argument,
                "has a malformed provider suffix (expected \"owner/name:provider\")",
            ));
        }
    }
    Ok(())
}

/// Standard base64 with padding.
pub fn base64_encode_into(bytes: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.reserve(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
}

/// The MIME type of an image from its first bytes, for formats the
/// image models take; `None` when unknown (the body then goes untyped).
pub fn sniff_image_type(head: &[u8]) -> Option<&'static str> {
    let kinds: [(&[u8], usize, &str); 7] = [
        (b"\xFF\xD8\xFF", 0, "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
        (b"GIF87a", 0, "image/gif"),
        (b"GIF89a", 0, "image/gif"),
        (b"WEBP", 8, "image/webp"),
        (b"BM", 0, "image/bmp"),
        (b"ftypavif", 4, "image/avif"),
    ];
    kinds.iter().find_map(|(magic, at, mime)| {
        let riff_ok = *at != 8 || head.starts_with(b"RIFF");
        (head.len() >= at + magic.len() && &head[*at..at + magic.len()] == *magic && riff_ok)
            .then_some(*mime)
    })
}

/// An access token. Its `Debug` prints `[redacted]` and it has no `Display`,
/// so it cannot slip into a message or a log by formatting.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token; refuses an empty one or one that cannot be a header value.
    pub fn new(token: String) -> Result<Token, InferenceError> {
        Token::named(token, "token")
    }

    /// [`Token::new`], with errors naming `argument` (`endpoint[1].token`).
    pub fn named(token: String, argument: &str) -> Result<Token, InferenceError> {
        if token.trim().is_empty() {
            return Err(InferenceError::invalid_input(
                argument,
                "must be a non-empty string (a Hugging Face access token)",
            ));
        }
        if token.chars().any(|c| c.is_control() || !c.is_ascii()) {
            // Say what is wrong without echoing any of the token.
            return Err(InferenceError::invalid_input(
                argument,
                "contains a control or non-ASCII character",
            ));
        }
        Ok(Token(token.trim().to_owned()))
    }

    /// `text` with the token replaced by `[redacted]` wherever it occurs: for
    /// text an upstream sent back, before the proxy passes it on or logs it.
    pub fn redact(&self, text: &str) -> String {
        text.replace(self.0.as_str(), "[redacted]")
    }

    /// The `Authorization` header value.
    pub fn authorization(&self) -> String {
        join(&["Bearer ", &self.0])
    }
}

impl core::fmt::Debug for Token {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Token([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::error::ErrorCode;

    #[test]
    fn model_ids_are_checked() {
        for good in ["gpt2", "google/vit-base-patch16-224", "a.b/c_d-e", "x/..y"] {
            assert_eq!(validate_model_id(good), Ok(()), "{good}");
        }
        for (bad, words) in [
            ("", "non-empty"),
            ("a/b/c", "more than one '/'"),
            ("/gpt2", "empty segment"),
            ("gpt2/", "empty segment"),
            ("../etc", "'.' or '..'"),
            ("a/.", "'.' or '..'"),
            ("a%2Fb", "contains '%'"),
            ("a b", "contains ' '"),
            ("a\nb", "contains U+000A"),
            ("a?x=1", "contains '?'"),
        ] {
            let err = validate_model_id(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidInput);
            assert!(err.message.starts_with("model: "), "{}", err.message);
            assert!(err.message.contains(words), "{bad:?}: {}", err.message);
        }
        assert!(validate_model_id(&"a".repeat(96)).is_ok());
        assert!(validate_model_id(&"a".repeat(97)).is_err());
    }

    #[test]
    fn urls_keep_the_model_slash() {
        assert_eq!(
            task_url(
                "https://router.huggingface.co/hf-inference/",
                "google/vit-base-patch16-224",
                false
            ),
            "https://router.huggingface.co/hf-inference/models/google/vit-base-patch16-224"
        );
        assert_eq!(
            task_url("https://x.endpoints.huggingface.cloud", "gpt2", true),
            "https://x.endpoints.huggingface.cloud"
        );
    }

    #[test]
    fn endpoint_urls_are_checked() {
        assert!(validate_endpoint_url("http://127.0.0.1:8787", "endpoint").is_ok());
        assert!(validate_endpoint_url("https://router.huggingface.co/v1/", "endpoint").is_ok());
        for (bad, words) in [
            ("router.huggingface.co", "must start with"),
            ("https:///x", "no host"),
            ("https://user:pw@host", "credentials"),
            ("https://host/?a=1", "query"),
            ("ftp://host", "must start with"),
        ] {
            let err = validate_endpoint_url(bad, "endpoint[1].url").unwrap_err();
            assert!(
                err.message.starts_with("endpoint[1].url: ") && err.message.contains(words),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn chat_models_may_name_a_provider() {
        for good in [
            "meta-llama/Llama-3.1-8B-Instruct:fireworks-ai",
            "gpt2",
            "a/b:fastest",
        ] {
            assert_eq!(validate_chat_model(good, "request.model"), Ok(()), "{good}");
        }
        for (bad, message) in [
            (
                "a/b/c",
                "request.model: has more than one '/' (expected \"owner/name\")",
            ),
            (
                "gpt2:",
                "request.model: has a malformed provider suffix (expected \"owner/name:provider\")",
            ),
        ] {
            let err = validate_chat_model(bad, "request.model").unwrap_err();
            assert_eq!(
                (err.code, err.message.as_str()),
                (ErrorCode::InvalidInput, message),
                "{bad}"
            );
        }
        assert_eq!(
            chat_url("https://router.huggingface.co/v1/"),
            "https://router.huggingface.co/v1/chat/completions"
        );
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = String::new();
            base64_encode_into(plain.as_bytes(), &mut out);
            assert_eq!(out, encoded);
        }
        let mut out = String::new();
        base64_encode_into(b"\xff\x00", &mut out);
        assert_eq!(out, "/wA=");
    }

    #[test]
    fn image_types_are_sniffed() {
        assert_eq!(
            sniff_image_type(b"\xFF\xD8\xFF\xE0\0\x10JFIF"),
            Some("image/jpeg")
        );
        assert_eq!(
            sniff_image_type(b"\x89PNG\r\n\x1a\n\0\0\0\x0d"),
            Some("image/png")
        );
        assert_eq!(
            sniff_image_type(b"RIFF\0\0\0\0WEBPVP8 "),
            Some("image/webp")
        );
        assert_eq!(sniff_image_type(b"XXXX\0\0\0\0WEBPVP8 "), None);
        assert_eq!(sniff_image_type(b"GIF89a"), Some("image/gif"));
        assert_eq!(sniff_image_type(b"hello"), None);
    }

    #[test]
    fn token_never_formats() {
        let token = Token::new("hf_secret123".into()).unwrap();
        assert_eq!(format!("{token:?}"), "Token([redacted])");
        assert_eq!(token.authorization(), "Bearer hf_secret123");
        assert_eq!(
            token.redact(r#"{"error":"bad Bearer hf_secret123 (hf_secret123)"}"#),
            r#"{"error":"bad Bearer [redacted] ([redacted])"}"#
        );
        let err = Token::new("hf_\nsecret".into()).unwrap_err();
        assert!(!err.message.contains("secret"));
        assert_eq!(
            Token::new(" ".into()).unwrap_err().code,
            ErrorCode::InvalidInput
        );
    }
}
