//! What goes on the wire for each task: the path, the content type and the body.

use super::error::InferenceError;
use super::json::{write_string, Json};
use crate::prelude::*;

/// Longest model id accepted (the Hub's own limit).
pub const MAX_MODEL_ID_CHARS: usize = 96;

/// Checks a model id (`name` or `owner/name`) before it becomes part of a URL.
///
/// Each segment is made of ASCII letters, digits, `-`, `_` and `.`, is not
/// `.` or `..`, and there is at most one `/`: nothing can climb out of
/// `/models/` or smuggle an encoded separator.
pub fn validate_model_id(model: &str) -> Result<(), InferenceError> {
    let refuse = |problem: &str| Err(InferenceError::invalid_input("model", problem));
    if model.is_empty() {
        return refuse("must be a non-empty model id such as \"openai-community/gpt2\"");
    }
    if model.chars().count() > MAX_MODEL_ID_CHARS {
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
            return Err(InferenceError::invalid_input("model", &problem));
        }
    }
    Ok(())
}

/// The path of a task call relative to an endpoint base, e.g. `/models/gpt2`.
pub fn model_path(model: &str) -> String {
    ["/models/", model].concat()
}

/// The URL of a task call: `{base}/models/{model}`, or `base` itself for a
/// dedicated endpoint (an Inference Endpoint serves one model at its root).
pub fn task_url(base: &str, model: &str, dedicated: bool) -> String {
    if dedicated {
        base.to_owned()
    } else {
        [base.trim_end_matches('/'), "/models/", model].concat()
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
    [base.trim_end_matches('/'), "/chat/completions"].concat()
}

/// Checks a chat model: a model id, optionally with the router's
/// `:provider` (or `:fastest`, `:cheapest`) suffix.
pub fn validate_chat_model(model: &str, argument: &str) -> Result<(), InferenceError> {
    let (id, provider) = match model.split_once(':') {
        Some((id, provider)) => (id, Some(provider)),
        None => (model, None),
    };
    validate_model_id(id).map_err(|mut e| {
        e.message = e.message.replacen("model", argument, 1);
        e
    })?;
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

/// Checks an OpenAI chat request and returns its model and the body to send,
/// with `stream` set as asked.
pub fn chat_body(request: &Json, stream: bool) -> Result<(String, String), InferenceError> {
    if !request.is_object() {
        return Err(InferenceError::invalid_input(
            "request",
            "must be an OpenAI chat request object {model, messages, ...}",
        ));
    }
    let model = request.get("model").and_then(Json::as_str).ok_or_else(|| {
        InferenceError::invalid_input("request.model", "must be a model id string")
    })?;
    validate_chat_model(model, "request.model")?;
    let messages = request
        .get("messages")
        .and_then(Json::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            InferenceError::invalid_input(
                "request.messages",
                "must be a non-empty array of messages",
            )
        })?;
    if let Some(i) = messages
        .iter()
        .position(|m| m.get("role").and_then(Json::as_str).is_none())
    {
        return Err(InferenceError::invalid_element(
            "request.messages",
            i,
            "must be an object with a \"role\" string",
        ));
    }
    if !stream && request.get("stream") == Some(&Json::Bool(true)) {
        return Err(InferenceError::invalid_input(
            "request.stream",
            "is true: use chatCompletionStream for a stream",
        ));
    }
    let mut body = request.clone();
    if stream {
        body.set("stream", Json::Bool(true));
    }
    Ok((model.to_owned(), body.to_json_string()))
}

/// The body of a streamed text-generation call (TGI): `"stream": true`.
pub fn text_stream_body(prompt: &str, parameters: Option<&Json>) -> String {
    let mut body = Json::parse(&text_body(&TextInput::One(prompt.to_owned()), parameters))
        .unwrap_or(Json::Null);
    body.set("stream", Json::Bool(true));
    body.to_json_string()
}

/// Text input: one string, or several sent in one request.
#[derive(Clone, Debug, PartialEq)]
pub enum TextInput {
    /// A single text.
    One(String),
    /// Several texts, answered one result per text.
    Many(Vec<String>),
}

impl TextInput {
    /// Refuses empty text and empty lists, naming `argument`.
    pub fn validate(&self, argument: &str) -> Result<(), InferenceError> {
        match self {
            TextInput::One(text) if text.trim().is_empty() => Err(InferenceError::invalid_input(
                argument,
                "must be a non-empty string",
            )),
            TextInput::Many(texts) if texts.is_empty() => Err(InferenceError::invalid_input(
                argument,
                "must be a non-empty string or a non-empty array of strings",
            )),
            TextInput::Many(texts) => match texts.iter().position(|t| t.trim().is_empty()) {
                Some(i) => Err(InferenceError::invalid_element(
                    argument,
                    i,
                    "must be a non-empty string",
                )),
                None => Ok(()),
            },
            TextInput::One(_) => Ok(()),
        }
    }

    /// How many texts: one result comes back per text.
    pub fn len(&self) -> usize {
        match self {
            TextInput::One(_) => 1,
            TextInput::Many(texts) => texts.len(),
        }
    }

    /// Whether there is no text at all (an empty array).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn write_to(&self, out: &mut String) {
        match self {
            TextInput::One(text) => write_string(text, out),
            TextInput::Many(texts) => {
                out.push('[');
                for (i, text) in texts.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(text, out);
                }
                out.push(']');
            }
        }
    }
}

/// Checks that task parameters, when given, are a JSON object.
pub fn validate_parameters(parameters: Option<&Json>) -> Result<(), InferenceError> {
    match parameters {
        Some(p) if !p.is_object() => Err(InferenceError::invalid_input(
            "params",
            "must be an object of task parameters",
        )),
        _ => Ok(()),
    }
}

/// `{"inputs": <inputs>, "parameters": {...}}`, the body of every JSON task call.
/// `parameters` is left out when there are none.
fn task_body(inputs: impl FnOnce(&mut String), parameters: Option<&Json>) -> String {
    let mut out = String::from("{\"inputs\":");
    inputs(&mut out);
    if let Some(parameters) = parameters {
        out.push_str(",\"parameters\":");
        parameters.write_to(&mut out);
    }
    out.push('}');
    out
}

/// The body of a text-classification or text-generation call. Unknown
/// parameters pass through untouched (gpt2 still takes `max_length`).
pub fn text_body(inputs: &TextInput, parameters: Option<&Json>) -> String {
    task_body(|out| inputs.write_to(out), parameters)
}

/// Checks zero-shot candidate labels: at least one, none empty.
pub fn validate_candidate_labels(labels: &[String]) -> Result<(), InferenceError> {
    if labels.is_empty() {
        return Err(InferenceError::invalid_input(
            "candidate_labels",
            "must be a non-empty array of strings",
        ));
    }
    match labels.iter().position(|l| l.trim().is_empty()) {
        Some(i) => Err(InferenceError::invalid_element(
            "candidate_labels",
            i,
            "must be a non-empty string",
        )),
        None => Ok(()),
    }
}

/// The body of a zero-shot call: the labels go into `parameters.candidate_labels`
/// (they win over a `candidate_labels` inside `parameters`).
pub fn zero_shot_body(inputs: &TextInput, labels: &[String], parameters: Option<&Json>) -> String {
    let mut merged = parameters.cloned().unwrap_or(Json::Object(Vec::new()));
    merged.set(
        "candidate_labels",
        Json::Array(labels.iter().cloned().map(Json::String).collect()),
    );
    task_body(|out| inputs.write_to(out), Some(&merged))
}

/// The JSON body of an image call that carries parameters: the image as base64.
/// (Without parameters the image goes as raw bytes and needs no body building.)
pub fn image_json_body(image: &[u8], parameters: &Json) -> String {
    task_body(
        |out| {
            out.push('"');
            base64_encode_into(image, out);
            out.push('"');
        },
        Some(parameters),
    )
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

/// Bytes needed by [`sniff_image_type`].
pub const SNIFF_BYTES: usize = 12;

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
        if token.trim().is_empty() {
            return Err(InferenceError::invalid_input(
                "token",
                "must be a non-empty string (a Hugging Face access token)",
            ));
        }
        if token.chars().any(|c| c.is_control() || !c.is_ascii()) {
            // Say what is wrong without echoing any of the token.
            return Err(InferenceError::invalid_input(
                "token",
                "contains a control or non-ASCII character",
            ));
        }
        Ok(Token(token.trim().to_owned()))
    }

    /// The `Authorization` header value.
    pub fn authorization(&self) -> String {
        ["Bearer ", &self.0].concat()
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
    fn chat_requests() {
        let request = Json::parse(r#"{"model":"meta-llama/Llama-3.1-8B-Instruct:fireworks-ai","messages":[{"role":"user","content":"hi"}],"max_tokens":5}"#).unwrap();
        let (model, body) = chat_body(&request, true).unwrap();
        assert_eq!(model, "meta-llama/Llama-3.1-8B-Instruct:fireworks-ai");
        assert_eq!(
            body,
            r#"{"model":"meta-llama/Llama-3.1-8B-Instruct:fireworks-ai","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"stream":true}"#
        );
        assert_eq!(
            chat_body(&request, false).unwrap().1,
            request.to_json_string()
        );
        for (bad, message) in [
            (
                "[]",
                "request: must be an OpenAI chat request object {model, messages, ...}",
            ),
            (
                r#"{"messages":[{"role":"user"}]}"#,
                "request.model: must be a model id string",
            ),
            (
                r#"{"model":"a/b/c","messages":[{"role":"user"}]}"#,
                "request.model: has more than one '/' (expected \"owner/name\")",
            ),
            (
                r#"{"model":"gpt2:","messages":[{"role":"user"}]}"#,
                "request.model: has a malformed provider suffix (expected \"owner/name:provider\")",
            ),
            (
                r#"{"model":"gpt2","messages":[]}"#,
                "request.messages: must be a non-empty array of messages",
            ),
            (
                r#"{"model":"gpt2","messages":[{"content":"x"}]}"#,
                "request.messages[0]: must be an object with a \"role\" string",
            ),
            (
                r#"{"model":"gpt2","messages":[{"role":"user"}],"stream":true}"#,
                "request.stream: is true: use chatCompletionStream for a stream",
            ),
        ] {
            let err = chat_body(&Json::parse(bad).unwrap(), false).unwrap_err();
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
        assert_eq!(
            text_stream_body("hi", Some(&Json::parse(r#"{"max_new_tokens":5}"#).unwrap())),
            r#"{"inputs":"hi","parameters":{"max_new_tokens":5},"stream":true}"#
        );
    }

    #[test]
    fn text_inputs_are_checked_by_name() {
        assert_eq!(
            TextInput::One("  ".into())
                .validate("text")
                .unwrap_err()
                .message,
            "text: must be a non-empty string"
        );
        assert_eq!(
            TextInput::Many(vec!["a".into(), "".into()])
                .validate("text")
                .unwrap_err()
                .message,
            "text[1]: must be a non-empty string"
        );
        assert!(TextInput::Many(vec![]).validate("text").is_err());
    }

    #[test]
    fn bodies_pass_parameters_through_verbatim() {
        let params = Json::parse(r#"{"max_length":50,"temperature":0.7}"#).unwrap();
        assert_eq!(
            text_body(&TextInput::One("The future \"AI\"".into()), Some(&params)),
            r#"{"inputs":"The future \"AI\"","parameters":{"max_length":50,"temperature":0.7}}"#
        );
        assert_eq!(
            text_body(&TextInput::Many(vec!["a".into(), "b".into()]), None),
            r#"{"inputs":["a","b"]}"#
        );
    }

    #[test]
    fn zero_shot_labels_override_parameters() {
        let params = Json::parse(r#"{"multi_label":true,"candidate_labels":["old"]}"#).unwrap();
        assert_eq!(
            zero_shot_body(
                &TextInput::One("t".into()),
                &["a".into(), "b".into()],
                Some(&params)
            ),
            r#"{"inputs":"t","parameters":{"multi_label":true,"candidate_labels":["a","b"]}}"#
        );
        assert_eq!(
            validate_candidate_labels(&[]).unwrap_err().message,
            "candidate_labels: must be a non-empty array of strings"
        );
        assert_eq!(
            validate_candidate_labels(&["a".into(), " ".into()])
                .unwrap_err()
                .message,
            "candidate_labels[1]: must be a non-empty string"
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
        let params = Json::parse(r#"{"top_k":2}"#).unwrap();
        assert_eq!(
            image_json_body(b"\xff\x00", &params),
            r#"{"inputs":"/wA=","parameters":{"top_k":2}}"#
        );
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
        let err = Token::new("hf_\nsecret".into()).unwrap_err();
        assert!(!err.message.contains("secret"));
        assert_eq!(
            Token::new(" ".into()).unwrap_err().code,
            ErrorCode::InvalidInput
        );
    }
}
