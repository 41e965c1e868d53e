//! Which requests the proxy serves, and the answers it gives without asking
//! upstream: routes, refusals, CORS headers and cache keys. Pure functions.

use std::fmt::Write as _;

use crate::protocol::document::Document;
use crate::protocol::error::{Error, ErrorCode};
use crate::protocol::model::{validate_chat_model, validate_model_id};

use super::config::OriginRule;

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz`.
    Health,
    /// `POST /models/{model}` (the model still to be checked).
    Task(String),
    /// `POST /v1/chat/completions` (the model is in the body).
    Chat,
    /// `OPTIONS` on a served path.
    Preflight,
}

/// Matches `method path`; unknown paths are 404, known paths with another
/// method 405.
pub fn route(method: &str, path: &str) -> Result<Route, Error> {
    let wrong_method = |allowed: &str| {
        Error::new(
            ErrorCode::MethodNotAllowed,
            format!("{method} is not allowed here; use {allowed}"),
        )
        .with_status(405)
    };
    if path == "/healthz" {
        return match method {
            "GET" | "HEAD" => Ok(Route::Health),
            _ => Err(wrong_method("GET")),
        };
    }
    if path == "/v1/chat/completions" {
        return match method {
            "POST" => Ok(Route::Chat),
            "OPTIONS" => Ok(Route::Preflight),
            _ => Err(wrong_method("POST")),
        };
    }
    if let Some(model) = path.strip_prefix("/models/") {
        return match method {
            "POST" => Ok(Route::Task(model.to_owned())),
            "OPTIONS" => Ok(Route::Preflight),
            _ => Err(wrong_method("POST")),
        };
    }
    Err(Error::new(
        ErrorCode::NotFound,
        format!("no route for {path}; task calls are POST /models/{{model}}"),
    )
    .with_status(404))
}

/// Reads and checks the model of a chat request body, parsed by the runtime
/// (`None`: the body is not UTF-8 JSON); returns the full model (with any
/// `:provider` suffix) and the id the allow-list is matched on. Only the
/// model is judged here: the rest of the request is upstream's to judge.
pub fn chat_model<D: Document>(body: Option<&D>) -> Result<(String, String), Error> {
    let refuse = |problem: &str| Error::invalid_input("model", problem).with_status(400);
    let body = body.ok_or_else(|| refuse("the chat request body is not UTF-8 JSON"))?;
    let model = body
        .member("model")
        .and_then(|m| m.as_text())
        .ok_or_else(|| refuse("the chat request has no \"model\" string"))?;
    validate_chat_model(&model, "model").map_err(|e| e.with_status(400))?;
    let id = model.split(':').next().unwrap_or(&model).to_owned();
    Ok((model, id))
}

/// Checks a model id taken from a path, where it arrives percent-encoded.
/// A dot segment in any spelling (`..`, `%2e%2E`) is refused here: the
/// runtime's URL parser folds plain ones away before the Worker sees the
/// URL, and a `%` is no model id character.
pub fn model_from_path(raw: &str) -> Result<String, Error> {
    validate_model_id(raw).map_err(|e| e.with_status(400))?;
    Ok(raw.to_owned())
}

/// The JSON body of every refusal: `{"error": ..., "code": ...}`.
pub fn refusal_body(err: &Error) -> String {
    #[derive(serde::Serialize)]
    struct Refusal<'a> {
        error: &'a str,
        code: &'a str,
    }
    serde_json::to_string(&Refusal {
        error: err.message(),
        code: err.code().as_str(),
    })
    .unwrap_or_default()
}

/// The status a refusal is answered with: its own, else the one its code is
/// answered with (the table the client reads codes back by), else 500.
pub fn refusal_status(err: &Error) -> u16 {
    err.status().or(err.code().answered_with()).unwrap_or(500)
}

/// Response headers a browser may read.
pub const EXPOSED_HEADERS: &str =
    "x-compute-time, x-compute-type, x-request-id, x-inference-provider, x-cache, retry-after";

/// Upstream response headers passed back to the client; nothing else is
/// (no cookies, no upstream CORS headers of its own).
pub const FORWARDED_RESPONSE_HEADERS: [&str; 7] = [
    "content-type",
    "cache-control",
    "x-compute-time",
    "x-compute-type",
    "x-request-id",
    "x-inference-provider",
    "retry-after",
];

/// The extra headers of a successful preflight answer.
pub const PREFLIGHT_HEADERS: [(&str, &str); 3] = [
    ("access-control-allow-methods", "POST, GET, OPTIONS"),
    (
        "access-control-allow-headers",
        "content-type, accept, x-api-key",
    ),
    ("access-control-max-age", "600"),
];

/// The CORS side of an answer: none for a request without `Origin` (not a
/// browser), else the origin it was allowed for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cors(Option<String>);

impl Cors {
    /// Judges a request from `origin` to a worker at `own_origin`: its CORS
    /// side, or a FORBIDDEN refusal.
    pub fn of(origin: Option<String>, own_origin: &str, rule: &OriginRule) -> Result<Cors, Error> {
        match origin {
            Some(origin) if !rule.allows(&origin, own_origin) => Err(Error::new(
                ErrorCode::Forbidden,
                format!("origin {origin} may not call this proxy (add it to ALLOWED_ORIGINS)"),
            )
            .with_status(403)),
            origin => Ok(Cors(origin)),
        }
    }

    /// The headers it adds to an answer.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().flat_map(|origin| {
            [
                ("access-control-allow-origin", origin.as_str()),
                ("access-control-expose-headers", EXPOSED_HEADERS),
                ("vary", "Origin"),
            ]
        })
    }
}

/// The client a rate limit counts: the index of its verified client key (never
/// the key itself), else its address.
pub fn rate_limit_key(client_key: Option<usize>, client_ip: Option<&str>) -> String {
    match (client_key, client_ip) {
        (Some(index), _) => format!("key#{index}"),
        (_, Some(ip)) => format!("ip:{ip}"),
        _ => "ip:unknown".to_owned(),
    }
}

/// The Cache API key of an answer: a GET URL naming the model, the SHA-256
/// of the body (in hex) and the content negotiation that shaped the answer.
/// The two header values are percent-encoded byte by byte (by hand: the
/// crate has no URL encoder among its dependencies, and the key only needs
/// to be unambiguous, which escaping every byte but `[A-Za-z0-9._-]` makes it).
pub fn cache_key(model: &str, body_sha256: &[u8], content_type: &str, accept: &str) -> String {
    let mut key = format!("https://hf-inference-proxy.cache/models/{model}?body=");
    // Writing into a String cannot fail.
    for b in body_sha256 {
        let _ = write!(key, "{b:02x}");
    }
    for (name, value) in [("ct", content_type), ("accept", accept)] {
        key.push('&');
        key.push_str(name);
        key.push('=');
        for b in value.bytes() {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                key.push(b as char);
            } else {
                let _ = write!(key, "%{b:02X}");
            }
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("GET", "/healthz"), Ok(Route::Health));
        assert_eq!(
            route("POST", "/models/google/vit"),
            Ok(Route::Task("google/vit".into()))
        );
        assert_eq!(route("OPTIONS", "/models/gpt2"), Ok(Route::Preflight));
        let e = route("GET", "/models/gpt2").unwrap_err();
        assert_eq!(
            (e.code(), e.status(), e.message()),
            (
                ErrorCode::MethodNotAllowed,
                Some(405),
                "GET is not allowed here; use POST"
            )
        );
        assert_eq!(route("POST", "/healthz").unwrap_err().status(), Some(405));
        let e = route("POST", "/admin").unwrap_err();
        assert_eq!((e.code(), e.status()), (ErrorCode::NotFound, Some(404)));
        assert_eq!(route("POST", "/models").unwrap_err().status(), Some(404));
    }

    #[test]
    fn chat_routes_and_models() {
        assert_eq!(route("POST", "/v1/chat/completions"), Ok(Route::Chat));
        assert_eq!(
            route("OPTIONS", "/v1/chat/completions"),
            Ok(Route::Preflight)
        );
        assert_eq!(
            route("GET", "/v1/chat/completions").unwrap_err().status(),
            Some(405)
        );
        let chat = |text: &str| {
            chat_model(
                serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .as_ref(),
            )
        };
        assert_eq!(
            chat(r#"{"model":"meta-llama/Llama-3.1-8B-Instruct:fireworks-ai","messages":[]}"#)
                .unwrap(),
            (
                "meta-llama/Llama-3.1-8B-Instruct:fireworks-ai".to_owned(),
                "meta-llama/Llama-3.1-8B-Instruct".to_owned()
            )
        );
        for (body, message) in [
            ("not json", "model: the chat request body is not UTF-8 JSON"),
            (
                r#"{"messages":[]}"#,
                "model: the chat request has no \"model\" string",
            ),
            (
                r#"{"model":5}"#,
                "model: the chat request has no \"model\" string",
            ),
            (
                r#"["model"]"#,
                "model: the chat request has no \"model\" string",
            ),
            (r#"{"model":"../x"}"#, "model: has a '.' or '..' segment"),
            (
                r#"{"model":"gpt2:"}"#,
                "model: has a malformed provider suffix (expected \"owner/name:provider\")",
            ),
        ] {
            let e = chat(body).unwrap_err();
            assert_eq!(
                (e.code(), e.status(), e.message()),
                (ErrorCode::InvalidInput, Some(400), message),
                "{body}"
            );
        }
    }

    #[test]
    fn model_ids_from_paths() {
        assert_eq!(
            model_from_path("google/vit-base-patch16-224").unwrap(),
            "google/vit-base-patch16-224"
        );
        for bad in [
            "",
            "a//b",
            "a/b/c",
            "..",
            "a/..",
            "a%2Fb",
            "%2e%2e",
            "a%00",
            &"x".repeat(97),
        ] {
            let e = model_from_path(bad).unwrap_err();
            assert_eq!(
                (e.code(), e.status()),
                (ErrorCode::InvalidInput, Some(400)),
                "{bad:?}"
            );
        }
    }

    /// What a raw-path check used to refuse (dot segments, plain or
    /// percent-encoded, surviving a runtime that does not normalise URLs) is
    /// refused by the model id check alone.
    #[test]
    fn dot_segments_in_any_spelling_are_malformed_model_ids() {
        for (path, message) in [
            (
                "/models/a/b/..",
                "model: has more than one '/' (expected \"owner/name\")",
            ),
            ("/models/a/../b", "model: has a '.' or '..' segment"),
            ("/models/./gpt2", "model: has a '.' or '..' segment"),
            ("/models/..", "model: has a '.' or '..' segment"),
            ("/models/google/.", "model: has a '.' or '..' segment"),
            (
                "/models/%2e%2e/x",
                "model: contains '%'; only letters, digits, '-', '_', '.' and one '/' are allowed",
            ),
            (
                "/models/google/%2E",
                "model: contains '%'; only letters, digits, '-', '_', '.' and one '/' are allowed",
            ),
        ] {
            let Ok(Route::Task(model)) = route("POST", path) else {
                panic!("{path} is no task route");
            };
            let e = model_from_path(&model).unwrap_err();
            assert_eq!(
                (e.code(), e.status(), e.message()),
                (ErrorCode::InvalidInput, Some(400), message),
                "{path}"
            );
        }
        assert_eq!(model_from_path("a.b/c..d").as_deref(), Ok("a.b/c..d"));
    }

    #[test]
    fn refusals_are_json_with_their_code() {
        let e = Error::new(ErrorCode::Forbidden, "model \"x\" is not allowed").with_status(403);
        assert_eq!(
            refusal_body(&e),
            r#"{"error":"model \"x\" is not allowed","code":"FORBIDDEN"}"#
        );
        assert_eq!(refusal_status(&e), 403);
        assert_eq!(refusal_status(&Error::new(ErrorCode::Config, "x")), 500);
        assert_eq!(
            refusal_status(&Error::new(ErrorCode::RateLimited, "x")),
            429
        );
    }

    #[test]
    fn cors() {
        let own = "https://proxy.example";
        let rule = OriginRule::List(vec!["https://app.example".into()]);
        let headers = |cors: &Cors| -> Vec<(String, String)> {
            cors.headers()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        };
        assert_eq!(headers(&Cors::of(None, own, &rule).unwrap()), []);
        let allowed = Cors::of(Some("https://app.example".into()), own, &rule).unwrap();
        assert_eq!(
            headers(&allowed),
            [
                ("access-control-allow-origin", "https://app.example"),
                ("access-control-expose-headers", EXPOSED_HEADERS),
                ("vary", "Origin"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        let own_cors = Cors::of(Some(own.into()), own, &rule).unwrap();
        assert_eq!(
            own_cors.headers().next(),
            Some(("access-control-allow-origin", own))
        );
        let e = Cors::of(Some("https://evil.example".into()), own, &rule).unwrap_err();
        assert_eq!(
            (e.code(), e.status(), e.message()),
            (
                ErrorCode::Forbidden,
                Some(403),
                "origin https://evil.example may not call this proxy (add it to ALLOWED_ORIGINS)"
            )
        );
    }

    #[test]
    fn keys() {
        assert_eq!(rate_limit_key(Some(1), Some("1.2.3.4")), "key#1");
        assert_eq!(rate_limit_key(None, Some("1.2.3.4")), "ip:1.2.3.4");
        assert_eq!(rate_limit_key(None, None), "ip:unknown");
        assert_eq!(
            cache_key(
                "facebook/bart-large-mnli",
                &[0x00, 0x0f, 0xab, 0xff],
                "application/json; charset=utf-8",
                "*/*"
            ),
            "https://hf-inference-proxy.cache/models/facebook/bart-large-mnli?body=000fabff&ct=application%2Fjson%3B%20charset%3Dutf-8&accept=%2A%2F%2A"
        );
        assert_eq!(
            cache_key("gpt2", &[], "", ""),
            "https://hf-inference-proxy.cache/models/gpt2?body=&ct=&accept="
        );
    }
}
