//! Which requests the proxy serves, and the answers it gives without asking
//! upstream: routes, refusals, CORS headers and cache keys. Pure functions.

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

/// Refuses a task path whose raw form (before URL normalisation folds them
/// away) has `.` or `..` segments, percent-encoded or not: a model id never
/// has one, so such a path is a malformed id, not another route.
pub fn check_raw_task_path(raw_url: &str) -> Result<(), Error> {
    let after_scheme = raw_url.split_once("://").map_or(raw_url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let Some(model) = path.strip_prefix("/models/") else {
        return Ok(());
    };
    let dot_segment = model.split('/').any(|segment| {
        let decoded = segment.replace("%2e", ".").replace("%2E", ".");
        decoded == "." || decoded == ".."
    });
    if dot_segment {
        return Err(Error::invalid_input("model", "has a '.' or '..' segment").with_status(400));
    }
    Ok(())
}

/// Reads and checks the model of a chat request body; returns the full
/// model (with any `:provider` suffix) and the id the allow-list is matched on.
pub fn chat_model_from_body(body: &[u8]) -> Result<(String, String), Error> {
    let refuse = |problem: &str| Error::invalid_input("model", problem).with_status(400);
    let text =
        std::str::from_utf8(body).map_err(|_| refuse("the chat request body is not UTF-8 JSON"))?;
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|_| refuse("the chat request body is not JSON"))?;
    let model = json
        .get("model")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| refuse("the chat request has no \"model\" string"))?;
    validate_chat_model(model, "model").map_err(|e| e.with_status(400))?;
    let id = model.split(':').next().unwrap_or(model);
    Ok((model.to_owned(), id.to_owned()))
}

/// Checks a model id taken from a path, where it arrives percent-encoded.
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

/// The CORS headers of an answer to a request from `origin` (None: not a
/// browser request, no CORS headers needed), or a FORBIDDEN refusal.
pub fn cors_headers(
    origin: Option<&str>,
    own_origin: &str,
    rule: &OriginRule,
) -> Result<Vec<(&'static str, String)>, Error> {
    let Some(origin) = origin else {
        return Ok(Vec::new());
    };
    if !rule.allows(origin, own_origin) {
        return Err(Error::new(
            ErrorCode::Forbidden,
            format!("origin {origin} may not call this proxy (add it to ALLOWED_ORIGINS)"),
        )
        .with_status(403));
    }
    Ok(vec![
        ("access-control-allow-origin", origin.to_owned()),
        ("access-control-expose-headers", EXPOSED_HEADERS.to_owned()),
        ("vary", "Origin".to_owned()),
    ])
}

/// The extra headers of a successful preflight answer.
pub fn preflight_headers() -> [(&'static str, &'static str); 3] {
    [
        ("access-control-allow-methods", "POST, GET, OPTIONS"),
        (
            "access-control-allow-headers",
            "content-type, accept, x-api-key",
        ),
        ("access-control-max-age", "600"),
    ]
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

/// The Cache API key of an answer: a GET URL naming the model, a hash of the
/// body and the content negotiation that shaped the answer.
pub fn cache_key(model: &str, body_sha256_hex: &str, content_type: &str, accept: &str) -> String {
    let mut key = format!("https://hf-inference-proxy.cache/models/{model}?body={body_sha256_hex}");
    for (name, value) in [("ct", content_type), ("accept", accept)] {
        key.push('&');
        key.push_str(name);
        key.push('=');
        for b in value.bytes() {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                key.push(b as char);
            } else {
                key.push_str(&format!("%{b:02X}"));
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
        assert_eq!(
            chat_model_from_body(
                br#"{"model":"meta-llama/Llama-3.1-8B-Instruct:fireworks-ai","messages":[]}"#
            )
            .unwrap(),
            (
                "meta-llama/Llama-3.1-8B-Instruct:fireworks-ai".to_owned(),
                "meta-llama/Llama-3.1-8B-Instruct".to_owned()
            )
        );
        for (body, message) in [
            (&b"not json"[..], "model: the chat request body is not JSON"),
            (
                br#"{"messages":[]}"#,
                "model: the chat request has no \"model\" string",
            ),
            (br#"{"model":"../x"}"#, "model: has a '.' or '..' segment"),
            (b"\xff", "model: the chat request body is not UTF-8 JSON"),
        ] {
            let e = chat_model_from_body(body).unwrap_err();
            assert_eq!(
                (e.code(), e.status(), e.message()),
                (ErrorCode::InvalidInput, Some(400), message)
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

    #[test]
    fn raw_dot_segments_are_refused_before_normalisation() {
        for raw in [
            "https://p.example/models/a/../b",
            "https://p.example/models/./gpt2",
            "https://p.example/models/%2e%2e/x",
            "https://p.example/models/google/%2E",
            "https://p.example/models/..?x=1",
        ] {
            let e = check_raw_task_path(raw).unwrap_err();
            assert_eq!(
                (e.code(), e.status(), e.message()),
                (
                    ErrorCode::InvalidInput,
                    Some(400),
                    "model: has a '.' or '..' segment"
                ),
                "{raw}"
            );
        }
        for fine in [
            "https://p.example/models/a.b/c..d",
            "https://p.example/healthz",
            "https://p.example/x/../models",
            "/models/gpt2",
        ] {
            assert_eq!(check_raw_task_path(fine), Ok(()), "{fine}");
        }
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
        assert_eq!(cors_headers(None, own, &rule).unwrap(), vec![]);
        let h = cors_headers(Some("https://app.example"), own, &rule).unwrap();
        assert_eq!(
            h[0],
            (
                "access-control-allow-origin",
                "https://app.example".to_owned()
            )
        );
        assert!(cors_headers(Some(own), own, &rule).is_ok());
        let e = cors_headers(Some("https://evil.example"), own, &rule).unwrap_err();
        assert_eq!((e.code(), e.status()), (ErrorCode::Forbidden, Some(403)));
        assert!(e.message().contains("https://evil.example"));
    }

    #[test]
    fn keys() {
        assert_eq!(rate_limit_key(Some(1), Some("1.2.3.4")), "key#1");
        assert_eq!(rate_limit_key(None, Some("1.2.3.4")), "ip:1.2.3.4");
        assert_eq!(rate_limit_key(None, None), "ip:unknown");
        assert_eq!(
            cache_key("facebook/bart-large-mnli", "ab12", "application/json", "*/*"),
            "https://hf-inference-proxy.cache/models/facebook/bart-large-mnli?body=ab12&ct=application%2Fjson&accept=%2A%2F%2A"
        );
    }
}
