//! Model ids, endpoint URLs and the URL of each call: the checks every
//! request passes before its model or base becomes part of a URL (the proxy
//! runs the same ones on what clients send it).

use super::error::Error;
use super::text::{has_byte, split_once_at};

/// Longest model id accepted (the Hub's own limit).
pub const MAX_MODEL_ID_CHARS: usize = 96;

/// The Hugging Face router's base for task calls: the client's default
/// endpoint and the proxy's default upstream.
pub const ROUTER_TASKS: &str = "https://router.huggingface.co/hf-inference";
/// The router's OpenAI-compatible base for chat calls.
pub const ROUTER_CHAT: &str = "https://router.huggingface.co/v1";

/// Checks a model id (`name` or `owner/name`) before it becomes part of a URL.
///
/// Each segment is made of ASCII letters, digits, `-`, `_` and `.`, is not
/// `.` or `..`, and there is at most one `/`: nothing can climb out of
/// `/models/` or smuggle an encoded separator. Errors name `model`.
pub fn validate_model_id(model: &str) -> Result<(), Error> {
    validate_model_id_named(model, "model")
}

/// [`validate_model_id`], with errors naming `argument`.
pub fn validate_model_id_named(model: &str, argument: &str) -> Result<(), Error> {
    let refuse = |problem: &str| Err(Error::invalid_input(argument, problem));
    if model.is_empty() {
        return refuse("must be a non-empty model id such as \"openai-community/gpt2\"");
    }
    // Counted by a loop: `chars().count()` inlines a call to core's
    // vectorised counter (48 bytes more of the gzipped client).
    let mut chars = 0;
    for _ in model.chars() {
        chars += 1;
    }
    if chars > MAX_MODEL_ID_CHARS {
        return refuse("is longer than 96 characters");
    }
    let mut segments = 0;
    let mut rest = Some(model);
    while let Some(text) = rest {
        // `str::split('/')`, over bytes (`text.rs`).
        let segment = match split_once_at(text, b'/') {
            Some((segment, after)) => {
                rest = Some(after);
                segment
            }
            None => {
                rest = None;
                text
            }
        };
        segments += 1;
        if segments > 2 {
            return refuse("has more than one '/' (expected \"owner/name\")");
        }
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
            let shown = if bad.is_control() {
                format!("U+{:04X}", u32::from(bad))
            } else {
                // By hand: `char`'s `Display` would be one more formatter.
                let mut quoted = String::with_capacity(6);
                quoted.push('\'');
                quoted.push(bad);
                quoted.push('\'');
                quoted
            };
            return refuse(&format!(
                "contains {shown}; only letters, digits, '-', '_', '.' and one '/' are allowed"
            ));
        }
    }
    Ok(())
}

/// Checks a chat model: a model id, optionally with the router's
/// `:provider` (or `:fastest`, `:cheapest`) suffix. Errors name `argument`.
pub fn validate_chat_model(model: &str, argument: &str) -> Result<(), Error> {
    let (id, provider) = match split_once_at(model, b':') {
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
            return Err(Error::invalid_input(
                argument,
                "has a malformed provider suffix (expected \"owner/name:provider\")",
            ));
        }
    }
    Ok(())
}

/// Checks an endpoint URL: `http://` or `https://`, a host, and no query,
/// fragment or credentials (paths are appended to it). Errors name `argument`.
pub fn validate_endpoint_url(url: &str, argument: &str) -> Result<(), Error> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| Error::invalid_input(argument, "must start with https:// or http://"))?;
    let host = split_once_at(rest, b'/').map_or(rest, |(host, _)| host);
    if host.is_empty() {
        return Err(Error::invalid_input(argument, "has no host"));
    }
    if has_byte(host, b'@') {
        return Err(Error::invalid_input(
            argument,
            "must not carry credentials; use the token option",
        ));
    }
    if has_byte(url, b'?')
        || has_byte(url, b'#')
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::invalid_input(
            argument,
            "must not contain a query, a fragment or spaces",
        ));
    }
    Ok(())
}

/// The URL of a task call: `{base}/models/{model}`, or `base` itself for a
/// dedicated endpoint (an Inference Endpoint serves one model at its root).
pub fn task_url(base: &str, model: &str, dedicated: bool) -> String {
    model_url(base, model, dedicated, "")
}

/// [`task_url`] with `suffix` after the model (`/pipeline/feature-extraction`,
/// `/v1/completions`); a dedicated endpoint is still called at its base.
pub fn model_url(base: &str, model: &str, dedicated: bool, suffix: &str) -> String {
    if dedicated {
        base.to_owned()
    } else {
        format!("{}/models/{model}{suffix}", base.trim_end_matches('/'))
    }
}

/// The URL of a chat call: `{base}/chat/completions` on an OpenAI-compatible base.
pub fn chat_url(base: &str) -> String {
    format!("{}/chat/completions", base.trim_end_matches('/'))
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
        for (bad, message) in [
            (
                "",
                "model: must be a non-empty model id such as \"openai-community/gpt2\"",
            ),
            (
                "a/b/c",
                "model: has more than one '/' (expected \"owner/name\")",
            ),
            ("/gpt2", "model: has an empty segment around '/'"),
            ("gpt2/", "model: has an empty segment around '/'"),
            ("../etc", "model: has a '.' or '..' segment"),
            ("a/.", "model: has a '.' or '..' segment"),
            (
                "a%2Fb",
                "model: contains '%'; only letters, digits, '-', '_', '.' and one '/' are allowed",
            ),
            (
                "a\nb",
                "model: contains U+000A; only letters, digits, '-', '_', '.' and one '/' are allowed",
            ),
        ] {
            let err = validate_model_id(bad).unwrap_err();
            assert_eq!((err.code(), err.message()), (ErrorCode::InvalidInput, message));
        }
        assert!(validate_model_id(&"a".repeat(96)).is_ok());
        assert_eq!(
            validate_model_id(&"é".repeat(97)).unwrap_err().message(),
            "model: is longer than 96 characters"
        );
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
        assert_eq!(
            chat_url("https://router.huggingface.co/v1/"),
            "https://router.huggingface.co/v1/chat/completions"
        );
    }

    #[test]
    fn endpoint_urls_are_checked() {
        assert!(validate_endpoint_url("http://127.0.0.1:8787", "endpoint").is_ok());
        assert!(validate_endpoint_url("https://router.huggingface.co/v1/", "endpoint").is_ok());
        for (bad, message) in [
            (
                "router.huggingface.co",
                "endpoint[1].url: must start with https:// or http://",
            ),
            ("https:///x", "endpoint[1].url: has no host"),
            (
                "https://user:pw@host",
                "endpoint[1].url: must not carry credentials; use the token option",
            ),
            (
                "https://host/?a=1",
                "endpoint[1].url: must not contain a query, a fragment or spaces",
            ),
        ] {
            let err = validate_endpoint_url(bad, "endpoint[1].url").unwrap_err();
            assert_eq!(err.message(), message);
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
            assert_eq!(err.message(), message, "{bad}");
        }
    }
}
