//! The Worker's request handler: reads the request and the environment,
//! applies the pure rules, forwards under the shared retry/failover policy and
//! streams the answer back. The only module of the proxy that touches JS.

use std::cell::RefCell;

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, Response, ResponseInit, Url};

use super::config::{ProxyConfig, Upstream};
use super::fetch::{now_ms, sleep, start, HttpRequest};
use super::log::LogLine;
use super::patterns::any_matches;
use super::ratelimit::RateLimiter;
use super::rules::{
    cache_key, chat_model_from_body, check_raw_task_path, cors_headers, model_from_path,
    preflight_headers, rate_limit_key, refusal_body, refusal_status, route, Route,
    FORWARDED_RESPONSE_HEADERS,
};
use crate::policy::call::{CallPolicy, Next, Outcome};
use crate::policy::random::SplitMix64;
use crate::policy::retry::RetryConfig;
use crate::policy::route::{BreakerConfig, Router};
use crate::protocol::error::{error_from_response, ErrorCode, InferenceError, ResponseMeta};
use crate::protocol::task::{chat_url, task_url};

/// Attempts per forwarded request, within the client's own deadline.
const PROXY_RETRY: RetryConfig = RetryConfig {
    max_attempts: 3,
    base_delay_ms: 250,
    max_delay_ms: 5_000,
    deadline_ms: 60_000,
};

/// State an isolate keeps between requests: endpoint health, the in-isolate
/// rate limit and the random source.
struct IsolateState {
    routers: Vec<(String, Router)>,
    limiter: RateLimiter,
    random: SplitMix64,
}

thread_local! {
    static STATE: RefCell<IsolateState> = RefCell::new(IsolateState {
        routers: Vec::new(),
        limiter: RateLimiter::default(),
        random: SplitMix64::new((js_sys::Math::random() * 9_007_199_254_740_992.0) as u64),
    });
}

fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// A string setting of `env`; empty counts as unset.
fn env_string(env: &JsValue, name: &str) -> Option<String> {
    get(env, name)
        .as_string()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn request_header(request: &Request, name: &str) -> Option<String> {
    request.headers().get(name).ok().flatten()
}

/// What the log line of a request gathers along the way.
#[derive(Default)]
struct Trace {
    model: Option<String>,
    code: Option<&'static str>,
    cache: Option<&'static str>,
    upstream: Option<String>,
    attempts: u32,
    compute_time_ms: Option<f64>,
}

/// A response built here: status, headers and a body (text or a stream).
fn respond(
    status: u16,
    headers: &[(&str, String)],
    body: Option<&JsValue>,
) -> Result<Response, JsValue> {
    let init = ResponseInit::new();
    init.set_status(status);
    let h = Headers::new()?;
    for (name, value) in headers {
        h.set(name, value)?;
    }
    init.set_headers(&h);
    match body {
        None => Response::new_with_opt_str_and_init(None, &init),
        Some(body) if body.is_string() => {
            Response::new_with_opt_str_and_init(body.as_string().as_deref(), &init)
        }
        Some(body) => {
            Response::new_with_opt_readable_stream_and_init(Some(body.unchecked_ref()), &init)
        }
    }
}

fn refusal(
    err: &InferenceError,
    cors: &[(&'static str, String)],
    trace: &mut Trace,
) -> Result<Response, JsValue> {
    trace.code = Some(err.code.as_str());
    let mut headers: Vec<(&str, String)> = vec![("content-type", "application/json".to_owned())];
    if let Some(ms) = err.retry_after_ms {
        headers.push(("retry-after", ms.div_ceil(1000).to_string()));
    }
    headers.extend(cors.iter().map(|(k, v)| (*k, v.clone())));
    respond(
        refusal_status(err),
        &headers,
        Some(&JsValue::from_str(&refusal_body(err))),
    )
}

/// Handles one request; the entry module calls this and turns a trap into a 500.
#[wasm_bindgen(js_name = handleRequest)]
pub async fn handle_request(
    request: Request,
    env: JsValue,
    ctx: JsValue,
) -> Result<Response, JsValue> {
    let started = now_ms();
    let url = Url::new(&request.url())?;
    let path = url.pathname();
    let method = request.method();
    let mut trace = Trace::default();
    let response = match serve(&request, &url, &env, &ctx, &mut trace).await {
        Ok(response) => response,
        Err((err, cors)) => refusal(&err, &cors, &mut trace)?,
    };
    let line = LogLine {
        method: &method,
        path: &path,
        model: trace.model.as_deref(),
        status: response.status(),
        code: trace.code,
        duration_ms: now_ms().saturating_sub(started),
        cache: trace.cache,
        upstream: trace.upstream.as_deref(),
        attempts: trace.attempts,
        compute_time_ms: trace.compute_time_ms,
    };
    web_sys::console::log_1(&JsValue::from_str(&line.to_json()));
    Ok(response)
}

type Refusal = (InferenceError, Vec<(&'static str, String)>);

/// Where a request goes on an upstream: its task route or its chat route.
type UrlFor<'a> = dyn Fn(&Upstream) -> String + 'a;

async fn serve(
    request: &Request,
    url: &Url,
    env: &JsValue,
    ctx: &JsValue,
    trace: &mut Trace,
) -> Result<Response, Refusal> {
    let bare = |err: InferenceError| (err, Vec::new());
    let route = route(&request.method(), &url.pathname()).map_err(bare)?;
    if matches!(route, Route::Task(_)) {
        check_raw_task_path(&request.url()).map_err(bare)?;
    }
    let config = ProxyConfig::from_env(&|name| env_string(env, name)).map_err(bare)?;
    let origin = request_header(request, "origin");
    let cors =
        cors_headers(origin.as_deref(), &url.origin(), &config.allowed_origins).map_err(bare)?;
    let refuse = |err: InferenceError| (err, cors.clone());
    let internal = |_: JsValue| {
        refuse(InferenceError::new(
            ErrorCode::UpstreamError,
            "the proxy could not build its answer",
        ))
    };

    let model_path = match route.clone() {
        Route::Health => {
            let body = format!(
                "{{\"ok\":true,\"version\":\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            );
            let mut headers = vec![("content-type", "application/json".to_owned())];
            headers.extend(cors.iter().cloned());
            return respond(200, &headers, Some(&JsValue::from_str(&body))).map_err(internal);
        }
        Route::Preflight => {
            let mut headers: Vec<(&str, String)> = cors.to_vec();
            headers.extend(
                preflight_headers()
                    .iter()
                    .map(|(k, v)| (*k, (*v).to_owned())),
            );
            return respond(204, &headers, None).map_err(internal);
        }
        Route::Task(model) => Some(model),
        Route::Chat => None,
    };

    // The client key, once verified, names the client for the rate limit; an
    // unverified x-api-key names nothing (else every made-up key would get a
    // fresh budget).
    let mut verified_key = None;
    if let Some(keys) = &config.client_keys {
        verified_key = request_header(request, "x-api-key").and_then(|k| keys.position(&k));
        if verified_key.is_none() {
            return Err(refuse(
                InferenceError::new(
                    ErrorCode::Unauthorized,
                    "a valid client key is required in the x-api-key header",
                )
                .with_status(401),
            ));
        }
    }
    let not_allowed = |model: &str| {
        refuse(
            InferenceError::new(
                ErrorCode::Forbidden,
                format!("model {model} is not allowed by this proxy (ALLOWED_MODELS)"),
            )
            .with_status(403),
        )
    };
    // A task's model is in its path: checked before the body is read.
    if let Some(path_model) = &model_path {
        let model = model_from_path(path_model).map_err(refuse)?;
        trace.model = Some(model.clone());
        if !any_matches(&config.allowed_models, &model) {
            return Err(not_allowed(&model));
        }
    }
    let too_large = || {
        refuse(
            InferenceError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "the request body is larger than {} bytes (MAX_BODY_BYTES)",
                    config.max_body_bytes
                ),
            )
            .with_status(413),
        )
    };
    let declared =
        request_header(request, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > config.max_body_bytes) {
        return Err(too_large());
    }
    let client = rate_limit_key(
        verified_key,
        request_header(request, "cf-connecting-ip").as_deref(),
    );
    if let Err(wait_ms) = rate_limit(env, &client, config.rate_limit_per_minute).await {
        let mut err = InferenceError::new(
            ErrorCode::RateLimited,
            "too many requests from this client; slow down",
        )
        .with_status(429);
        err.retry_after_ms = Some(wait_ms);
        return Err(refuse(err));
    }
    let buffer = JsFuture::from(request.array_buffer().map_err(internal)?)
        .await
        .map_err(|_| {
            refuse(InferenceError::invalid_input("body", "could not be read").with_status(400))
        })?;
    let body = Uint8Array::new(&buffer);
    if u64::from(body.length()) > config.max_body_bytes {
        return Err(too_large());
    }
    // A chat's model is in its body.
    let model = match model_path {
        Some(_) => trace.model.clone().unwrap_or_default(),
        None => {
            let (model, id) = chat_model_from_body(&body.to_vec()).map_err(refuse)?;
            trace.model = Some(model.clone());
            if !any_matches(&config.allowed_models, &id) {
                return Err(not_allowed(&model));
            }
            model
        }
    };
    let content_type = request_header(request, "content-type");
    let accept = request_header(request, "accept");

    let is_chat = matches!(route, Route::Chat);
    let cache = if !is_chat && any_matches(&config.cache_models, &model) {
        let hash = sha256_hex(&body).await.map_err(internal)?;
        let key = cache_key(
            &model,
            &hash,
            content_type.as_deref().unwrap_or(""),
            accept.as_deref().unwrap_or(""),
        );
        if let Some(hit) = cache_match(&key).await {
            trace.cache = Some("HIT");
            return with_headers(&hit, &cors, Some("HIT")).map_err(internal);
        }
        trace.cache = Some("MISS");
        Some(key)
    } else {
        None
    };

    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, value) in [("content-type", content_type), ("accept", accept)] {
        if let Some(value) = value {
            headers.push((name.to_owned(), value));
        }
    }
    if let Some(bill_to) = &config.bill_to {
        headers.push(("x-hf-bill-to".to_owned(), bill_to.clone()));
    }
    let task_url_for = |u: &Upstream| task_url(&u.url, &model, false);
    let chat_url_for = |u: &Upstream| chat_url(&u.url);
    let url_for: &UrlFor<'_> = if is_chat {
        &chat_url_for
    } else {
        &task_url_for
    };
    let upstream = forward(&config, is_chat, url_for, headers, &body, trace)
        .await
        .map_err(refuse)?;
    let response = with_headers(&upstream, &cors, trace.cache).map_err(internal)?;
    if let (Some(key), 200) = (cache, response.status()) {
        cache_put(ctx, &key, &response, config.cache_ttl_seconds).map_err(internal)?;
    }
    Ok(response)
}

/// Forwards to the upstreams under the shared policy; returns the answer to
/// pass back (a 2xx, or upstream's own final error answer).
async fn forward(
    config: &ProxyConfig,
    is_chat: bool,
    url_for: &UrlFor<'_>,
    headers: Vec<(String, String)>,
    body: &Uint8Array,
    trace: &mut Trace,
) -> Result<Response, InferenceError> {
    let retry = RetryConfig {
        deadline_ms: PROXY_RETRY.deadline_ms.max(config.upstream_timeout_ms),
        ..PROXY_RETRY
    };
    let mut policy = CallPolicy::new(retry, Some(config.upstream_timeout_ms), now_ms());
    let upstreams = if is_chat {
        &config.chat_upstreams
    } else {
        &config.upstreams
    };
    let key = router_key(is_chat, upstreams);
    loop {
        let (index, timeout) = with_router(&key, upstreams, |router, random| {
            policy.start_attempt(router, now_ms(), random)
        });
        let upstream = &upstreams[index];
        trace.upstream = Some(upstream.name.clone());
        trace.attempts = policy.attempts();
        let mut attempt_headers = headers.clone();
        let token = upstream.token.as_ref().unwrap_or(&config.token);
        attempt_headers.push(("authorization".to_owned(), token.authorization()));
        let url = url_for(upstream);
        let request = HttpRequest {
            url: &url,
            headers: attempt_headers,
            body: body.as_ref(),
        };
        let (outcome, answer, last_error) = match start(request, timeout).await {
            Ok(in_flight) => {
                let status = in_flight.meta.status;
                trace.compute_time_ms = in_flight.meta.compute_time_ms;
                if (200..300).contains(&status) {
                    // Passed on as it streams.
                    with_router(&key, upstreams, |router, random| {
                        policy.finish_attempt(router, now_ms(), &Outcome::Success, random)
                    });
                    return Ok(in_flight.into_response());
                }
                // An error answer (small) is read whole: it says whether and
                // how long to wait, and it is what the caller gets if none of
                // the attempts does better.
                let meta = in_flight.meta.clone();
                // An upstream that echoes what it received must not hand our token on.
                let text = token.redact(&in_flight.read_text().await.unwrap_or_default());
                let err = error_from_response(&meta, &text);
                let passed_on = upstream_error_response(&meta, &in_flight.content_type, &text);
                (Outcome::of_error(&err, meta.retry_after_ms), passed_on, err)
            }
            Err(err) => (Outcome::of_error(&err, None), None, err),
        };
        let next = with_router(&key, upstreams, |router, random| {
            policy.finish_attempt(router, now_ms(), &outcome, random)
        });
        match next {
            Next::Wait(ms) => sleep(ms).await,
            _ => {
                return match answer {
                    Some(response) => Ok(response),
                    // No answer came: its status is the refusal's (504 TIMEOUT, 502 NETWORK).
                    None => Err(last_error),
                };
            }
        }
    }
}

/// Upstream's final error answer, rebuilt from the text already read.
fn upstream_error_response(
    meta: &ResponseMeta,
    content_type: &str,
    text: &str,
) -> Option<Response> {
    let mut headers = Vec::new();
    if !content_type.is_empty() {
        headers.push(("content-type", content_type.to_owned()));
    }
    if let Some(id) = &meta.request_id {
        headers.push(("x-request-id", id.clone()));
    }
    if let Some(wait) = meta.retry_after_ms {
        headers.push(("retry-after", wait.div_ceil(1000).to_string()));
    }
    respond(meta.status, &headers, Some(&JsValue::from_str(text))).ok()
}

/// The key of the isolate's router for one route's upstreams. Tasks and chat
/// keep their own health even when their lists are equal, and a changed list
/// (a new deployment's settings) gets a fresh router.
fn router_key(is_chat: bool, upstreams: &[Upstream]) -> String {
    let mut key = String::from(if is_chat { "chat" } else { "tasks" });
    for upstream in upstreams {
        // The weight's bits: no float formatting on every request.
        key.push_str(&format!(
            "\n{} {:x}",
            upstream.url,
            upstream.weight.to_bits()
        ));
    }
    key
}

/// Runs `f` with the isolate's router of `key` (built over `upstreams` on
/// first use) and its random source.
fn with_router<T>(
    key: &str,
    upstreams: &[Upstream],
    f: impl FnOnce(&mut Router, &mut SplitMix64) -> T,
) -> T {
    STATE.with(|state| {
        let mut state = state.borrow_mut();
        let state = &mut *state;
        let index = match state.routers.iter().position(|(k, _)| k == key) {
            Some(index) => index,
            None => {
                let weights: Vec<f64> = upstreams.iter().map(|u| u.weight).collect();
                state.routers.push((
                    key.to_owned(),
                    Router::new(&weights, BreakerConfig::default()),
                ));
                state.routers.len() - 1
            }
        };
        f(&mut state.routers[index].1, &mut state.random)
    })
}

/// The `LIMITER` binding when bound (its limit and period live in
/// wrangler.toml), else the in-isolate bucket. `Err(ms)`: refused, retry then.
async fn rate_limit(env: &JsValue, client: &str, per_minute: u32) -> Result<(), u64> {
    let limiter = get(env, "LIMITER");
    if let Ok(limit) = get(&limiter, "limit").dyn_into::<Function>() {
        let options = Object::new();
        let _ = Reflect::set(
            &options,
            &JsValue::from_str("key"),
            &JsValue::from_str(client),
        );
        let verdict = match limit.call1(&limiter, &options) {
            Ok(promise) => JsFuture::from(Promise::resolve(&promise)).await,
            Err(e) => Err(e),
        };
        // A binding that fails leaves the request to the bucket below.
        if let Ok(verdict) = verdict {
            return if get(&verdict, "success").is_truthy() {
                Ok(())
            } else {
                Err(60_000)
            };
        }
    }
    STATE.with(|state| {
        state
            .borrow_mut()
            .limiter
            .check(client, per_minute, now_ms())
    })
}

/// SHA-256 of the body, hex, through the runtime's Web Crypto.
async fn sha256_hex(body: &Uint8Array) -> Result<String, JsValue> {
    let subtle = get(&get(&js_sys::global(), "crypto"), "subtle");
    let digest: Function = get(&subtle, "digest").dyn_into()?;
    let promise: Promise = digest
        .call2(&subtle, &JsValue::from_str("SHA-256"), body)?
        .dyn_into()?;
    let bytes = Uint8Array::new(&JsFuture::from(promise).await?).to_vec();
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn default_cache() -> JsValue {
    get(&get(&js_sys::global(), "caches"), "default")
}

async fn cache_match(key: &str) -> Option<Response> {
    let cache = default_cache();
    let matcher: Function = get(&cache, "match").dyn_into().ok()?;
    let promise: Promise = matcher
        .call1(&cache, &JsValue::from_str(key))
        .ok()?
        .dyn_into()
        .ok()?;
    JsFuture::from(promise)
        .await
        .ok()?
        .dyn_into::<Response>()
        .ok()
}

/// Stores a copy of `response` for `ttl` seconds, after the answer is sent.
fn cache_put(ctx: &JsValue, key: &str, response: &Response, ttl: u32) -> Result<(), JsValue> {
    let cache = default_cache();
    let Ok(put) = get(&cache, "put").dyn_into::<Function>() else {
        return Ok(());
    };
    let copy = response.clone()?;
    let headers = Headers::new_with_headers(&copy.headers())?;
    headers.set("cache-control", &format!("public, max-age={ttl}"))?;
    for name in [
        "access-control-allow-origin",
        "access-control-expose-headers",
        "vary",
        "x-cache",
    ] {
        headers.delete(name)?;
    }
    let init = ResponseInit::new();
    init.set_status(copy.status());
    init.set_headers(&headers);
    let stored = Response::new_with_opt_readable_stream_and_init(copy.body().as_ref(), &init)?;
    let promise = put.call2(&cache, &JsValue::from_str(key), &stored)?;
    if let Ok(wait_until) = get(ctx, "waitUntil").dyn_into::<Function>() {
        wait_until.call1(ctx, &promise)?;
    }
    Ok(())
}

/// Upstream's answer with only the headers worth passing on, plus CORS and
/// `x-cache`; the body streams through untouched.
fn with_headers(
    upstream: &Response,
    cors: &[(&'static str, String)],
    cache: Option<&str>,
) -> Result<Response, JsValue> {
    let mut headers: Vec<(&str, String)> = Vec::new();
    for name in FORWARDED_RESPONSE_HEADERS {
        if let Ok(Some(value)) = upstream.headers().get(name) {
            headers.push((name, value));
        }
    }
    headers.extend(cors.iter().cloned());
    if let Some(cache) = cache {
        headers.push(("x-cache", cache.to_owned()));
    }
    let init = ResponseInit::new();
    init.set_status(upstream.status());
    let h = Headers::new()?;
    for (name, value) in &headers {
        h.set(name, value)?;
    }
    init.set_headers(&h);
    Response::new_with_opt_readable_stream_and_init(upstream.body().as_ref(), &init)
}
