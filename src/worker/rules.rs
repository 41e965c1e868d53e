//! Which requests the proxy serves, and the answers it gives without asking
//! upstream: routes, refusals, CORS headers and cache keys. Pure functions.

use std::fmt::Write as _;

use crate::protocol::document::Document;
use crate::protocol::error::{Error, ErrorCode};
use crate::protocol::model::{validate_chat_model, validate_model_id};

use super::config::OriginRule;
use super::hub::EXPAND_QUERY;
use super::providers::{is_provider_name, provider_route, AUTO, GROQ_CHAT, PROVIDER_ROUTES};

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz`.
    Health,
    /// `OPTIONS` on a served path.
    Preflight,
    /// `GET /usage/me`: the caller's own usage.
    UsageMe,
    /// `GET /usage?cursor=&limit=`: every client's usage (the admin key's).
    UsageAll {
        /// The last client of the previous page.
        cursor: Option<String>,
        /// Clients per page.
        limit: usize,
    },
    /// A call, judged further before it is forwarded or answered.
    Call(Call),
}

/// A call the proxy forwards (or, for the Hub route, answers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// `POST /models/{model}{route}`, or the same under `/hf-inference` (the
    /// model still to be checked).
    Model(String, ModelRoute),
    /// `POST /v1/chat/completions` or `POST /v1/images/generations` (the
    /// model is in the body).
    Gateway(Gateway),
    /// `POST /{provider}/{route}` (the provider still to be judged; the model
    /// is the provider's id, in the body).
    Provider {
        /// The provider named by the path.
        provider: String,
        /// One of [`PROVIDER_ROUTES`] or [`GROQ_CHAT`].
        route: &'static str,
    },
    /// `GET /api/models/{model}?expand[]=inferenceProviderMapping` (the
    /// model still to be checked).
    Hub(String),
}

/// What follows `/models/{model}` on a task route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelRoute {
    /// Nothing: the task pipeline of the model.
    Task,
    /// `/pipeline/{task}`, one of [`PIPELINES`].
    Pipeline(&'static str),
    /// `/v1/completions`: OpenAI-style text generation.
    Completions,
}

/// The tasks of `/models/{model}/pipeline/{task}` the proxy serves.
pub const PIPELINES: [&str; 2] = ["feature-extraction", "sentence-similarity"];

impl ModelRoute {
    /// Its path after `/models/{model}`.
    pub fn suffix(self) -> String {
        match self {
            ModelRoute::Task => String::new(),
            ModelRoute::Pipeline(task) => format!("/pipeline/{task}"),
            ModelRoute::Completions => "/v1/completions".to_owned(),
        }
    }

    /// Whether its answers may be cached (for a model of `CACHE_MODELS`):
    /// not a completion, which samples.
    pub fn cacheable(self) -> bool {
        self != ModelRoute::Completions
    }
}

/// The OpenAI-compatible routes whose model is in the body, forwarded to a
/// `CHAT_UPSTREAMS` base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gateway {
    /// `/v1/chat/completions`.
    Chat,
    /// `/v1/images/generations`.
    Images,
}

impl Gateway {
    /// Its path on a `CHAT_UPSTREAMS` base (which ends in `/v1`).
    pub fn path(self) -> &'static str {
        match self {
            Gateway::Chat => "/chat/completions",
            Gateway::Images => "/images/generations",
        }
    }

    /// What its body is called in messages.
    pub fn kind(self) -> &'static str {
        match self {
            Gateway::Chat => "chat",
            Gateway::Images => "images",
        }
    }
}

/// First path segments that are never a provider.
const RESERVED_SEGMENTS: [&str; 4] = ["api", "healthz", "models", "v1"];

/// Matches `method path` (and, for the Hub route, the query's pairs, as
/// the runtime's `URLSearchParams` decoded them); unknown paths are 404,
/// known paths with another method 405.
pub fn route(method: &str, path: &str, query: &[(String, String)]) -> Result<Route, Error> {
    let wrong_method = |allowed: &str| {
        Error::new(
            ErrorCode::MethodNotAllowed,
            format!("{method} is not allowed here; use {allowed}"),
        )
        .with_status(405)
    };
    let post = |call: Call| match method {
        "POST" => Ok(Route::Call(call)),
        "OPTIONS" => Ok(Route::Preflight),
        _ => Err(wrong_method("POST")),
    };
    if path == "/healthz" {
        return match method {
            "GET" | "HEAD" => Ok(Route::Health),
            _ => Err(wrong_method("GET")),
        };
    }
    let get = |route: Route| match method {
        "GET" => Ok(route),
        "OPTIONS" => Ok(Route::Preflight),
        _ => Err(wrong_method("GET")),
    };
    match path {
        "/usage/me" => return get(Route::UsageMe),
        "/usage" => {
            let mut cursor = None;
            let mut limit = USAGE_PAGE;
            for (key, value) in query {
                match key.as_str() {
                    "cursor" if !value.is_empty() => cursor = Some(value.clone()),
                    "cursor" => {}
                    "limit" => {
                        limit = value
                            .parse()
                            .ok()
                            .filter(|n| (1..=USAGE_PAGE_MAX).contains(n))
                            .ok_or_else(|| {
                                Error::invalid_input(
                                    "limit",
                                    "must be a whole number from 1 to 100",
                                )
                                .with_status(400)
                            })?;
                    }
                    _ => {}
                }
            }
            return get(Route::UsageAll { cursor, limit });
        }
        "/v1/chat/completions" => return post(Call::Gateway(Gateway::Chat)),
        "/v1/images/generations" => return post(Call::Gateway(Gateway::Images)),
        _ => {}
    }
    if let Some(rest) = path.strip_prefix("/api/") {
        let asks_mapping = matches!(query, [(key, value)] if key == "expand[]" && value == "inferenceProviderMapping");
        return match rest.strip_prefix("models/") {
            Some(model) if asks_mapping => match method {
                "GET" => Ok(Route::Call(Call::Hub(model.to_owned()))),
                "OPTIONS" => Ok(Route::Preflight),
                _ => Err(wrong_method("GET")),
            },
            _ => Err(not_found(format!(
                "no route for {path}; under /api this proxy answers only GET /api/models/{{model}}?{EXPAND_QUERY}"
            ))),
        };
    }
    let models = path
        .strip_prefix("/models/")
        .or_else(|| path.strip_prefix("/hf-inference/models/"));
    if let Some(rest) = models {
        let (model, served) = model_route(rest)?;
        return post(Call::Model(model, served));
    }
    let segments = path.strip_prefix('/').and_then(|p| p.split_once('/'));
    if let Some((provider, rest)) = segments {
        if is_provider_name(provider) && !RESERVED_SEGMENTS.contains(&provider) {
            if provider == AUTO {
                return Err(not_found(format!(
                    "no route for {path}: auto names no provider; a client resolves it to one through GET /api/models/{{model}}?{EXPAND_QUERY}"
                )));
            }
            return match provider_route(provider, rest) {
                Some(served) => post(Call::Provider {
                    provider: provider.to_owned(),
                    route: served,
                }),
                None => Err(not_found(format!(
                    "no route for {path}; provider routes are POST /{{provider}}/{} and /groq/{GROQ_CHAT}",
                    PROVIDER_ROUTES.join(", /{provider}/")
                ))),
            };
        }
    }
    Err(not_found(format!(
        "no route for {path}; task calls are POST /models/{{model}}"
    )))
}

/// Clients per page of `GET /usage`.
pub const USAGE_PAGE: usize = 50;
/// The most clients a page of `GET /usage` may ask for (`?limit=`).
pub const USAGE_PAGE_MAX: usize = 100;

fn not_found(message: String) -> Error {
    Error::new(ErrorCode::NotFound, message).with_status(404)
}

/// Splits what follows `/models/` into the model and the route after it:
/// `/v1/completions` and `/pipeline/{task}` need a model before them (a lone
/// `pipeline/x` is the model `pipeline/x`); a pipeline other than those
/// served is 404. The model is checked later.
fn model_route(rest: &str) -> Result<(String, ModelRoute), Error> {
    let segments: Vec<&str> = rest.split('/').collect();
    let n = segments.len();
    if n >= 4 && segments[n - 3..] == ["v1", "chat", "completions"] {
        return Err(not_found(
            "no route /models/{model}/v1/chat/completions: chat is POST /v1/chat/completions, the model in the body (with a :provider suffix for a provider)".to_owned(),
        ));
    }
    if n >= 3 && segments[n - 2..] == ["v1", "completions"] {
        return Ok((segments[..n - 2].join("/"), ModelRoute::Completions));
    }
    if n >= 3 && segments[n - 2] == "pipeline" {
        let task = segments[n - 1];
        let Some(served) = PIPELINES.iter().copied().find(|p| *p == task) else {
            return Err(not_found(format!(
                "no pipeline route {task:?}: this proxy serves /models/{{model}}/pipeline/{}",
                PIPELINES.join(" and /pipeline/")
            )));
        };
        return Ok((segments[..n - 2].join("/"), ModelRoute::Pipeline(served)));
    }
    Ok((rest.to_owned(), ModelRoute::Task))
}

/// The `model` string of a request body parsed by the runtime (`None`: the
/// body is not UTF-8 JSON); `kind` names the request in messages.
fn body_model<D: Document>(body: Option<&D>, kind: &str) -> Result<String, Error> {
    let refuse = |problem: String| Error::invalid_input("model", &problem).with_status(400);
    let body = body.ok_or_else(|| refuse(format!("the {kind} request body is not UTF-8 JSON")))?;
    body.member("model")
        .and_then(|m| m.as_text())
        .ok_or_else(|| refuse(format!("the {kind} request has no \"model\" string")))
}

/// Reads and checks the model of a chat or images request body, parsed by
/// the runtime (`None`: the body is not UTF-8 JSON); returns the full model
/// (with any `:provider` suffix) and the id the allow-list is matched on.
/// Only the model is judged here: the rest of the request is upstream's to judge.
pub fn gateway_model<D: Document>(
    body: Option<&D>,
    gateway: Gateway,
) -> Result<(String, String), Error> {
    let model = body_model(body, gateway.kind())?;
    validate_chat_model(&model, "model").map_err(|e| e.with_status(400))?;
    let id = model.split(':').next().unwrap_or(&model).to_owned();
    Ok((model, id))
}

/// Longest provider model id accepted.
const MAX_PROVIDER_MODEL_CHARS: usize = 256;

/// Reads the model of a provider request body: the provider's own id, in the
/// provider's spelling (it may have several `/`, or a `:version`), so it is
/// only bounded (1 to 256 characters, none of them a control character).
pub fn provider_model<D: Document>(body: Option<&D>) -> Result<String, Error> {
    let model = body_model(body, "provider")?;
    if model.is_empty()
        || model.chars().count() > MAX_PROVIDER_MODEL_CHARS
        || model.chars().any(char::is_control)
    {
        return Err(Error::invalid_input(
            "model",
            "must be the provider's model id: 1 to 256 characters, none of them a control character",
        )
        .with_status(400));
    }
    Ok(model)
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
    "x-compute-time, x-compute-type, x-request-id, x-inference-provider, x-cache, x-usage-cost, retry-after";

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

/// The client a rate limit and usage count: the name of its verified
/// client key (never the key or its hash), else its address, an IPv6
/// address by its /64 (one subscriber's block: counting each address apart
/// would hand every client 2^64 budgets). The two cannot meet: a key's name
/// is `key#N` or letters, digits, `.`, `_` and `-`, never `ip:`.
pub fn rate_limit_key(client_key: Option<&str>, client_ip: Option<&str>) -> String {
    match (client_key, client_ip) {
        (Some(name), _) => name.to_owned(),
        (_, Some(ip)) => match ip.trim().parse::<std::net::Ipv6Addr>() {
            Ok(v6) if v6.to_ipv4_mapped().is_none() => {
                let [a, b, c, d, ..] = v6.segments();
                format!("ip:{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
            Ok(v6) => format!(
                "ip:{}",
                v6.to_ipv4_mapped()
                    .map_or_else(String::new, |v4| v4.to_string())
            ),
            Err(_) => format!("ip:{ip}"),
        },
        _ => "ip:unknown".to_owned(),
    }
}

/// The refusal of a request without a valid client key.
pub fn missing_client_key() -> Error {
    Error::new(
        ErrorCode::Unauthorized,
        "a valid client key is required in the x-api-key header",
    )
    .with_status(401)
}

/// The refusal of a model outside the client key's `models`: it names the
/// model, never the key.
pub fn outside_key_scope(model: &str) -> Error {
    Error::new(
        ErrorCode::Forbidden,
        format!("model {model} is not among this client key's models (CLIENT_KEYS)"),
    )
    .with_status(403)
}

/// The Cache API key of an answer: a GET URL naming the model and the route
/// after it (`suffix`, empty for the task pipeline), the SHA-256 of the body
/// (in hex) and the content negotiation that shaped the answer.
/// The two header values are percent-encoded byte by byte (by hand: the
/// crate has no URL encoder among its dependencies, and the key only needs
/// to be unambiguous, which escaping every byte but `[A-Za-z0-9._-]` makes it).
pub fn cache_key(
    model: &str,
    suffix: &str,
    body_sha256: &[u8],
    content_type: &str,
    accept: &str,
) -> String {
    let mut key = format!("https://hf-inference-proxy.cache/models/{model}{suffix}?body=");
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

    fn call(call: Call) -> Result<Route, Error> {
        Ok(Route::Call(call))
    }

    fn post(path: &str) -> Result<Route, Error> {
        route("POST", path, &[])
    }

    fn refused(result: Result<Route, Error>) -> (ErrorCode, Option<u16>, String) {
        let e = result.unwrap_err();
        (e.code(), e.status(), e.message().to_owned())
    }

    /// A request body as the runtime would have parsed it.
    fn parsed(text: &str) -> Option<serde_json::Value> {
        serde_json::from_str(text).ok()
    }

    fn assert_invalid<T: std::fmt::Debug>(result: Result<T, Error>, message: &str, shown: &str) {
        let e = result.unwrap_err();
        assert_eq!(
            (e.code(), e.status(), e.message()),
            (ErrorCode::InvalidInput, Some(400), message),
            "{shown}"
        );
    }

    fn not_found(message: &str) -> (ErrorCode, Option<u16>, String) {
        (ErrorCode::NotFound, Some(404), message.to_owned())
    }

    #[test]
    fn routes() {
        assert_eq!(route("GET", "/healthz", &[]), Ok(Route::Health));
        assert_eq!(
            post("/models/google/vit"),
            call(Call::Model("google/vit".into(), ModelRoute::Task))
        );
        assert_eq!(route("OPTIONS", "/models/gpt2", &[]), Ok(Route::Preflight));
        assert_eq!(
            refused(route("GET", "/models/gpt2", &[])),
            (
                ErrorCode::MethodNotAllowed,
                Some(405),
                "GET is not allowed here; use POST".to_owned()
            )
        );
        assert_eq!(refused(post("/healthz")).1, Some(405));
        assert_eq!(
            refused(post("/admin")),
            not_found("no route for /admin; task calls are POST /models/{model}")
        );
        assert_eq!(refused(post("/models")).1, Some(404));
        assert_eq!(refused(post("")).1, Some(404));
    }

    #[test]
    fn model_routes_and_the_hf_inference_alias() {
        for prefix in ["/models/", "/hf-inference/models/"] {
            let at = |rest: &str| post(&format!("{prefix}{rest}"));
            assert_eq!(
                at("BAAI/bge-small-en-v1.5/pipeline/feature-extraction"),
                call(Call::Model(
                    "BAAI/bge-small-en-v1.5".into(),
                    ModelRoute::Pipeline("feature-extraction")
                ))
            );
            assert_eq!(
                at("sentence-transformers/all-MiniLM-L6-v2/pipeline/sentence-similarity"),
                call(Call::Model(
                    "sentence-transformers/all-MiniLM-L6-v2".into(),
                    ModelRoute::Pipeline("sentence-similarity")
                ))
            );
            assert_eq!(
                at("gpt2/v1/completions"),
                call(Call::Model("gpt2".into(), ModelRoute::Completions))
            );
            assert_eq!(
                at("openai-community/gpt2/v1/completions"),
                call(Call::Model(
                    "openai-community/gpt2".into(),
                    ModelRoute::Completions
                ))
            );
            assert_eq!(
                at("gpt2"),
                call(Call::Model("gpt2".into(), ModelRoute::Task))
            );
            // A lone `pipeline/x` is a model id, checked as one.
            assert_eq!(
                at("pipeline/feature-extraction"),
                call(Call::Model(
                    "pipeline/feature-extraction".into(),
                    ModelRoute::Task
                ))
            );
            assert_eq!(
                refused(at("gpt2/pipeline/text-classification")),
                not_found("no pipeline route \"text-classification\": this proxy serves /models/{model}/pipeline/feature-extraction and /pipeline/sentence-similarity")
            );
            assert_eq!(
                route("OPTIONS", &format!("{prefix}gpt2/v1/completions"), &[]),
                Ok(Route::Preflight)
            );
            assert_eq!(
                refused(at("meta-llama/Llama-3.1-8B-Instruct/v1/chat/completions")),
                not_found("no route /models/{model}/v1/chat/completions: chat is POST /v1/chat/completions, the model in the body (with a :provider suffix for a provider)")
            );
        }
        assert_eq!(ModelRoute::Task.suffix(), "");
        assert_eq!(
            ModelRoute::Pipeline("feature-extraction").suffix(),
            "/pipeline/feature-extraction"
        );
        assert_eq!(ModelRoute::Completions.suffix(), "/v1/completions");
        assert!(ModelRoute::Task.cacheable() && ModelRoute::Pipeline("x").cacheable());
        assert!(!ModelRoute::Completions.cacheable());
    }

    #[test]
    fn provider_routes() {
        for (path, provider, served) in [
            ("/together/v1/completions", "together", "v1/completions"),
            (
                "/together/v1/images/generations",
                "together",
                "v1/images/generations",
            ),
            ("/scaleway/v1/embeddings", "scaleway", "v1/embeddings"),
            (
                "/fireworks-ai/v1/chat/completions",
                "fireworks-ai",
                "v1/chat/completions",
            ),
            (
                "/groq/openai/v1/chat/completions",
                "groq",
                "openai/v1/chat/completions",
            ),
            (
                "/hf-inference/v1/chat/completions",
                "hf-inference",
                "v1/chat/completions",
            ),
        ] {
            assert_eq!(
                post(path),
                call(Call::Provider {
                    provider: provider.into(),
                    route: served
                }),
                "{path}"
            );
        }
        assert_eq!(
            route("OPTIONS", "/groq/openai/v1/chat/completions", &[]),
            Ok(Route::Preflight)
        );
        assert_eq!(
            refused(route("GET", "/together/v1/completions", &[])).1,
            Some(405)
        );
        let others = "provider routes are POST /{provider}/v1/chat/completions, /{provider}/v1/completions, /{provider}/v1/embeddings, /{provider}/v1/images/generations and /groq/openai/v1/chat/completions";
        for path in [
            "/together/v1/models",
            "/together/openai/v1/chat/completions",
            "/together/v1/chat/completions/x",
            "/hf-inference/v1/embeddings/x",
        ] {
            assert_eq!(
                refused(post(path)),
                not_found(&format!("no route for {path}; {others}")),
                "{path}"
            );
        }
        assert_eq!(
            refused(post("/auto/v1/chat/completions")),
            not_found("no route for /auto/v1/chat/completions: auto names no provider; a client resolves it to one through GET /api/models/{model}?expand[]=inferenceProviderMapping")
        );
        // Not provider names, or reserved: the plain 404.
        for path in [
            "/v1/models",
            "/a.b/v1/completions",
            "/healthz/v1/completions",
        ] {
            assert_eq!(
                refused(post(path)),
                not_found(&format!(
                    "no route for {path}; task calls are POST /models/{{model}}"
                )),
                "{path}"
            );
        }
    }

    #[test]
    fn the_hub_route_answers_the_mapping_query_only() {
        let mapping = [("expand[]".to_owned(), "inferenceProviderMapping".to_owned())];
        assert_eq!(
            route("GET", "/api/models/google/gemma-2b", &mapping),
            call(Call::Hub("google/gemma-2b".into()))
        );
        assert_eq!(
            route("OPTIONS", "/api/models/gpt2", &mapping),
            Ok(Route::Preflight)
        );
        assert_eq!(
            refused(route("POST", "/api/models/gpt2", &mapping)),
            (
                ErrorCode::MethodNotAllowed,
                Some(405),
                "POST is not allowed here; use GET".to_owned()
            )
        );
        let other = [("expand[]".to_owned(), "downloads".to_owned())];
        let twice = [mapping[0].clone(), other[0].clone()];
        for (path, query) in [
            ("/api/models/gpt2", &[][..]),
            ("/api/models/gpt2", &other[..]),
            ("/api/models/gpt2", &twice[..]),
            ("/api/whoami-v2", &mapping[..]),
            ("/api/", &[][..]),
        ] {
            assert_eq!(
                refused(route("GET", path, query)),
                not_found(&format!("no route for {path}; under /api this proxy answers only GET /api/models/{{model}}?expand[]=inferenceProviderMapping")),
                "{path} {query:?}"
            );
        }
    }

    #[test]
    fn gateway_routes_and_models() {
        assert_eq!(
            post("/v1/chat/completions"),
            call(Call::Gateway(Gateway::Chat))
        );
        assert_eq!(
            post("/v1/images/generations"),
            call(Call::Gateway(Gateway::Images))
        );
        assert_eq!(
            route("OPTIONS", "/v1/images/generations", &[]),
            Ok(Route::Preflight)
        );
        assert_eq!(
            refused(route("GET", "/v1/chat/completions", &[])).1,
            Some(405)
        );
        assert_eq!(
            (Gateway::Chat.path(), Gateway::Images.path()),
            ("/chat/completions", "/images/generations")
        );
        let read = |text: &str, gateway| gateway_model(parsed(text).as_ref(), gateway);
        assert_eq!(
            read(
                r#"{"model":"meta-llama/Llama-3.1-8B-Instruct:fireworks-ai","messages":[]}"#,
                Gateway::Chat
            )
            .unwrap(),
            (
                "meta-llama/Llama-3.1-8B-Instruct:fireworks-ai".to_owned(),
                "meta-llama/Llama-3.1-8B-Instruct".to_owned()
            )
        );
        assert_eq!(
            read(
                r#"{"model":"black-forest-labs/FLUX.1-schnell","prompt":"a cat"}"#,
                Gateway::Images
            )
            .unwrap()
            .1,
            "black-forest-labs/FLUX.1-schnell"
        );
        for (body, gateway, message) in [
            (
                "not json",
                Gateway::Chat,
                "model: the chat request body is not UTF-8 JSON",
            ),
            (
                "not json",
                Gateway::Images,
                "model: the images request body is not UTF-8 JSON",
            ),
            (
                r#"{"messages":[]}"#,
                Gateway::Chat,
                "model: the chat request has no \"model\" string",
            ),
            (
                r#"{"prompt":"x"}"#,
                Gateway::Images,
                "model: the images request has no \"model\" string",
            ),
            (
                r#"{"model":5}"#,
                Gateway::Chat,
                "model: the chat request has no \"model\" string",
            ),
            (
                r#"["model"]"#,
                Gateway::Chat,
                "model: the chat request has no \"model\" string",
            ),
            (
                r#"{"model":"../x"}"#,
                Gateway::Chat,
                "model: has a '.' or '..' segment",
            ),
            (
                r#"{"model":"gpt2:"}"#,
                Gateway::Images,
                "model: has a malformed provider suffix (expected \"owner/name:provider\")",
            ),
        ] {
            assert_invalid(read(body, gateway), message, body);
        }
    }

    #[test]
    fn provider_models_are_the_providers_spelling() {
        let read = |text: &str| provider_model(parsed(text).as_ref());
        for id in [
            "accounts/fireworks/models/llama-v3p1-8b-instruct",
            "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
            "llama-3.1-8b-instant",
            "black-forest-labs/flux-schnell:5599ed30",
        ] {
            let body = serde_json::json!({ "model": id, "prompt": "x" }).to_string();
            assert_eq!(read(&body).as_deref(), Ok(id));
        }
        let bounded = "model: must be the provider's model id: 1 to 256 characters, none of them a control character";
        for (body, message) in [
            (
                "{".to_owned(),
                "model: the provider request body is not UTF-8 JSON",
            ),
            (
                r#"{"input":"x"}"#.to_owned(),
                "model: the provider request has no \"model\" string",
            ),
            (r#"{"model":""}"#.to_owned(), bounded),
            (r#"{"model":"a\nb"}"#.to_owned(), bounded),
            (
                serde_json::json!({ "model": "x".repeat(257) }).to_string(),
                bounded,
            ),
        ] {
            assert_invalid(read(&body), message, &body);
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
            let Ok(Route::Call(Call::Model(model, ModelRoute::Task))) = post(path) else {
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
        assert_eq!(rate_limit_key(Some("key#1"), Some("1.2.3.4")), "key#1");
        assert_eq!(
            rate_limit_key(Some("mobile-app"), Some("1.2.3.4")),
            "mobile-app"
        );
        assert_eq!(rate_limit_key(None, Some("1.2.3.4")), "ip:1.2.3.4");
        assert_eq!(rate_limit_key(None, None), "ip:unknown");
        // IPv6 by its /64, however it is written; an IPv4-mapped one as IPv4.
        for ip in [
            "2001:db8:1:2:aaaa::1",
            "2001:0db8:0001:0002:ffff:ffff:ffff:ffff",
        ] {
            assert_eq!(rate_limit_key(None, Some(ip)), "ip:2001:db8:1:2::/64");
        }
        assert_eq!(
            rate_limit_key(None, Some("2001:db8:1:3::1")),
            "ip:2001:db8:1:3::/64"
        );
        assert_eq!(rate_limit_key(None, Some("::ffff:1.2.3.4")), "ip:1.2.3.4");
        let shown = |err: Error| (err.code(), refusal_status(&err), err.message().to_owned());
        assert_eq!(
            shown(missing_client_key()),
            (
                ErrorCode::Unauthorized,
                401,
                "a valid client key is required in the x-api-key header".to_owned()
            )
        );
        assert_eq!(
            shown(outside_key_scope("gpt2")),
            (
                ErrorCode::Forbidden,
                403,
                "model gpt2 is not among this client key's models (CLIENT_KEYS)".to_owned()
            )
        );
        assert_eq!(
            cache_key(
                "facebook/bart-large-mnli",
                "",
                &[0x00, 0x0f, 0xab, 0xff],
                "application/json; charset=utf-8",
                "*/*"
            ),
            "https://hf-inference-proxy.cache/models/facebook/bart-large-mnli?body=000fabff&ct=application%2Fjson%3B%20charset%3Dutf-8&accept=%2A%2F%2A"
        );
        assert_eq!(
            cache_key("gpt2", "", &[], "", ""),
            "https://hf-inference-proxy.cache/models/gpt2?body=&ct=&accept="
        );
        // The route after the model is part of the key: the same body to
        // another route of the same model is another answer.
        assert_eq!(
            cache_key("BAAI/bge-small-en-v1.5", "/pipeline/feature-extraction", &[0xab], "application/json", ""),
            "https://hf-inference-proxy.cache/models/BAAI/bge-small-en-v1.5/pipeline/feature-extraction?body=ab&ct=application%2Fjson&accept="
        );
    }
}
