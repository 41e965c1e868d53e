//! The Worker's request handler, on workers-rs: reads the request and the
//! environment, applies the pure rules, forwards through the client's own
//! attempt loop and transport (`client::attempts`, `client::transport`) and
//! streams the answer back.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, JsString, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, ResponseInit, Url};
use worker::{event, Cache, Context, Env, RateLimiter as Limiter, Response};

use super::config::{ProxyConfig, Setting};
use super::log::LogLine;
use super::patterns::any_matches;
use super::ratelimit::RateLimiter;
use super::rules::{
    cache_key, chat_model, model_from_path, rate_limit_key, refusal_body, refusal_status, route,
    Cors, Route, FORWARDED_RESPONSE_HEADERS, PREFLIGHT_HEADERS,
};
use crate::client::attempts::{run, AttemptEnd, Facts, Route as Targets, Setup};
use crate::client::options::EndpointTarget;
use crate::client::transport::{now_ms, send, Outgoing};
use crate::policy::random::SplitMix64;
use crate::policy::retry::RetryConfig;
use crate::protocol::error::{error_from_answer, Error, ErrorAnswer, ErrorCode};
use crate::protocol::model::{chat_url, task_url};
use crate::protocol::token::Token;

#[wasm_bindgen]
extern "C" {
    /// The runtime's Web Crypto, for the cache key's SHA-256.
    #[wasm_bindgen(thread_local_v2, js_name = crypto)]
    static CRYPTO: web_sys::Crypto;

    /// The runtime's `TextDecoder`, bound here because web-sys' `decode`
    /// returns a Rust `String`: it would copy a chat body into the wasm.
    type TextDecoder;

    #[wasm_bindgen(constructor, catch)]
    fn new(label: &str, options: &JsValue) -> Result<TextDecoder, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn decode(this: &TextDecoder, input: &Uint8Array) -> Result<JsString, JsValue>;

    /// `JSON.parse` of a JS string (js-sys' takes a Rust `&str`).
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn parse_json(text: &JsString) -> Result<JsValue, JsValue>;
}

/// Attempts per forwarded request, within the client's own deadline.
const PROXY_RETRY: RetryConfig = RetryConfig {
    max_attempts: 3,
    base_delay_ms: 250,
    max_delay_ms: 5_000,
    deadline_ms: 60_000,
};

/// The answer of `GET /healthz`.
const HEALTH_BODY: &str = concat!(
    "{\"ok\":true,\"version\":\"",
    env!("CARGO_PKG_VERSION"),
    "\"}"
);

/// The settings of this isolate, read from its environment once: a
/// Worker's bindings are fixed for the life of an isolate (new settings or
/// secrets make a new deployment version, served by new isolates), and
/// reading and checking them on every request cost a tenth of a proxied call.
struct Settings {
    config: ProxyConfig,
    /// The `LIMITER` rate-limit binding, when bound.
    limiter: Option<Limiter>,
    tasks: Upstreams,
    chat: Upstreams,
    /// `PROXY_RETRY`, its deadline stretched to fit one attempt's timeout.
    retry: RetryConfig,
    /// The `cache-control` of a stored answer (`CACHE_TTL_SECONDS`).
    cache_control: String,
}

/// A route's upstreams with their health, and the `Authorization` header
/// each one sends, formatted once. Deliberately without `Debug`: the header
/// holds the token.
struct Upstreams {
    targets: Targets,
    /// One per target, in the targets' order.
    authorization: Vec<(String, String)>,
}

impl Upstreams {
    fn new(targets: &[EndpointTarget]) -> Upstreams {
        Upstreams {
            authorization: targets
                .iter()
                .map(|t| {
                    let value = t.token.as_ref().map(Token::authorization);
                    ("authorization".to_owned(), value.unwrap_or_default())
                })
                .collect(),
            targets: Targets::new(targets.to_vec()),
        }
    }

    /// The `Authorization` header of `target`, one of this route's targets
    /// (the attempt loop plans with references into them).
    fn authorization(&self, target: &EndpointTarget) -> &(String, String) {
        let index = self
            .targets
            .targets
            .iter()
            .position(|t| std::ptr::eq(t, target))
            .expect("an attempt's target is one of its route's");
        &self.authorization[index]
    }
}

/// State an isolate keeps between requests: its settings (or why they are
/// wrong), the in-isolate rate limit and the random source.
struct IsolateState {
    settings: RefCell<Option<Result<Rc<Settings>, Error>>>,
    limiter: RefCell<RateLimiter>,
    random: RefCell<SplitMix64>,
}

thread_local! {
    static STATE: Rc<IsolateState> = Rc::new(IsolateState {
        settings: RefCell::new(None),
        limiter: RefCell::new(RateLimiter::default()),
        random: RefCell::new(SplitMix64::new(
            (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64,
        )),
    });
}

fn state() -> Rc<IsolateState> {
    STATE.with(Rc::clone)
}

/// A setting of `env` (a var or a secret) as it is bound: wrangler binds a
/// `[vars]` number as a JS number, which is read by its text, and other
/// non-strings as their JSON values, which the settings refuse.
fn setting(env: &Env, name: &str) -> Option<Setting> {
    let value = Reflect::get(env, &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined())?;
    if let Some(text) = value.as_string() {
        return Some(Setting::Text(text));
    }
    if value.as_f64().is_some() {
        let text = value
            .unchecked_into::<js_sys::Number>()
            .to_string_with_radix(10);
        return Some(Setting::Number(text.map(String::from).unwrap_or_default()));
    }
    Some(Setting::Other(if value.is_null() {
        "null"
    } else if Array::is_array(&value) {
        "an array"
    } else if value.as_bool().is_some() {
        "a boolean"
    } else if value.is_object() {
        "an object"
    } else {
        "neither a string nor a number"
    }))
}

fn header(request: &Request, name: &str) -> Option<String> {
    request.headers().get(name).ok().flatten()
}

/// A response built here, with a text body (or none), these headers and
/// the request's CORS headers.
fn respond(
    status: u16,
    headers: &[(&str, &str)],
    cors: &Cors,
    body: Option<&str>,
) -> Result<web_sys::Response, JsValue> {
    let h = web_sys::Headers::new()?;
    for (name, value) in headers.iter().copied().chain(cors.headers()) {
        h.set(name, value)?;
    }
    let init = ResponseInit::new();
    init.set_status(status);
    init.set_headers(&h);
    web_sys::Response::new_with_opt_str_and_init(body, &init)
}

fn refusal(err: &Error, cors: &Cors) -> Result<web_sys::Response, JsValue> {
    let retry_after = err.retry_after_ms().map(|ms| ms.div_ceil(1000).to_string());
    let mut headers = vec![("content-type", "application/json")];
    if let Some(seconds) = &retry_after {
        headers.push(("retry-after", seconds));
    }
    respond(
        refusal_status(err),
        &headers,
        cors,
        Some(&refusal_body(err)),
    )
}

/// Handles one request; the entry module calls this (as `fetch`) and turns
/// a trap into a clean 500.
#[event(fetch)]
async fn fetch(request: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let started = now_ms();
    let mut line = LogLine {
        method: request.method(),
        ..LogLine::default()
    };
    let response = match serve(&request, &env, &ctx, &mut line).await {
        Ok(response) => response,
        Err((err, cors)) => {
            line.code = Some(err.code().as_str());
            refusal(&err, &cors)?
        }
    };
    line.status = response.status();
    line.duration_ms = now_ms().saturating_sub(started);
    web_sys::console::log_1(&JsValue::from_str(&line.to_json()));
    Ok(response.into())
}

type Refusal = (Error, Cors);

async fn serve(
    request: &Request,
    env: &Env,
    ctx: &Context,
    line: &mut LogLine,
) -> Result<web_sys::Response, Refusal> {
    let bare = |err: Error| (err, Cors::default());
    let could_not = |what: &str| {
        Error::new(
            ErrorCode::UpstreamError,
            format!("the proxy could not {what}"),
        )
    };
    // The runtime's own URL parser (it already parsed this URL once).
    let url = Url::new(&request.url()).map_err(|_| bare(could_not("read the request URL")))?;
    line.path = url.pathname();
    let route = route(&line.method, &line.path).map_err(bare)?;
    let settings = settings(env).map_err(bare)?;
    let config = &settings.config;
    let cors = Cors::of(
        header(request, "origin"),
        &url.origin(),
        &config.allowed_origins,
    )
    .map_err(bare)?;
    let refuse = |err: Error| (err, cors.clone());
    let internal = || refuse(could_not("build its answer"));

    let model_path = match route {
        Route::Health => {
            let headers = [("content-type", "application/json")];
            return respond(200, &headers, &cors, Some(HEALTH_BODY)).map_err(|_| internal());
        }
        Route::Preflight => {
            return respond(204, &PREFLIGHT_HEADERS, &cors, None).map_err(|_| internal());
        }
        Route::Task(model) => Some(model),
        Route::Chat => None,
    };

    // The client key, once verified, names the client for the rate limit; an
    // unverified x-api-key names nothing (else every made-up key would get a
    // fresh budget).
    let mut verified_key = None;
    if let Some(keys) = &config.client_keys {
        verified_key = header(request, "x-api-key").and_then(|k| keys.position(&k));
        if verified_key.is_none() {
            return Err(refuse(
                Error::new(
                    ErrorCode::Unauthorized,
                    "a valid client key is required in the x-api-key header",
                )
                .with_status(401),
            ));
        }
    }
    let not_allowed = |model: &str| {
        refuse(
            Error::new(
                ErrorCode::Forbidden,
                format!("model {model} is not allowed by this proxy (ALLOWED_MODELS)"),
            )
            .with_status(403),
        )
    };
    // A task's model is in its path: checked before the body is read.
    if let Some(path_model) = &model_path {
        let model = model_from_path(path_model).map_err(refuse)?;
        let allowed = any_matches(&config.allowed_models, &model);
        line.model = Some(model);
        if !allowed {
            return Err(not_allowed(path_model));
        }
    }
    let too_large = || {
        refuse(
            Error::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "the request body is larger than {} bytes (MAX_BODY_BYTES)",
                    config.max_body_bytes
                ),
            )
            .with_status(413),
        )
    };
    let declared = header(request, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > config.max_body_bytes) {
        return Err(too_large());
    }
    let client = rate_limit_key(verified_key, header(request, "cf-connecting-ip").as_deref());
    if let Err(wait_ms) = rate_limit(
        settings.limiter.as_ref(),
        &client,
        config.rate_limit_per_minute,
    )
    .await
    {
        let err = Error::new(
            ErrorCode::RateLimited,
            "too many requests from this client; slow down",
        )
        .with_status(429)
        .with_retry_after_ms(Some(wait_ms));
        return Err(refuse(err));
    }
    // The body stays in JavaScript memory: it is resent as is by each
    // attempt, and hashed and parsed there too (wasm memory never shrinks,
    // so a body copied in would cost its size for the isolate's life).
    let promise = request.array_buffer().map_err(|_| internal())?;
    let buffer = JsFuture::from(promise)
        .await
        .map_err(|_| refuse(Error::invalid_input("body", "could not be read").with_status(400)))?;
    let body = Uint8Array::new(&buffer);
    if u64::from(body.length()) > config.max_body_bytes {
        return Err(too_large());
    }
    // A chat's model is in its body.
    let is_chat = model_path.is_none();
    if is_chat {
        let (model, id) = chat_model(parse_body(&body).as_ref()).map_err(refuse)?;
        let allowed = any_matches(&config.allowed_models, &id);
        line.model = Some(model);
        if !allowed {
            return Err(not_allowed(line.model.as_deref().unwrap_or_default()));
        }
    }
    let model = line.model.clone().unwrap_or_default();
    let content_type = header(request, "content-type");
    let accept = header(request, "accept");

    let cache = if !is_chat && any_matches(&config.cache_models, &model) {
        let digest = sha256(&body)
            .await
            .ok_or_else(|| refuse(could_not("hash the body")))?;
        let key = cache_key(
            &model,
            &digest,
            content_type.as_deref().unwrap_or(""),
            accept.as_deref().unwrap_or(""),
        );
        if let Ok(Some(hit)) = Cache::default().get(key.as_str(), false).await {
            line.cache = Some("HIT");
            let response = passed_on(&hit.into()).map_err(|_| internal())?;
            add_headers(&response, &cors, line.cache).map_err(|_| internal())?;
            return Ok(response);
        }
        line.cache = Some("MISS");
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
    let forwarded = Forward {
        settings: &settings,
        upstreams: if is_chat {
            &settings.chat
        } else {
            &settings.tasks
        },
        is_chat,
        model: &model,
        headers,
        body: &body,
    };
    let upstream = forwarded.run(line).await.map_err(refuse)?;
    let response = passed_on(&upstream).map_err(|_| internal())?;
    if let (Some(key), 200) = (cache, response.status()) {
        // The stored copy is taken before this request's own headers (CORS,
        // x-cache) are added, so none of them can be cached. (`clone` here
        // is the Fetch API's: it tees the body.)
        let stored = response.clone().map_err(|_| internal())?;
        stored
            .headers()
            .set("cache-control", &settings.cache_control)
            .map_err(|_| internal())?;
        ctx.wait_until(async move {
            let _ = Cache::default().put(key.as_str(), stored.into()).await;
        });
    }
    add_headers(&response, &cors, line.cache).map_err(|_| internal())?;
    Ok(response)
}

/// A request body parsed as JSON by the runtime, without copying it into the
/// wasm; `None` when it is not UTF-8 or not JSON.
fn parse_body(body: &Uint8Array) -> Option<JsValue> {
    let options = Object::new();
    // Invalid UTF-8 is refused, not replaced.
    Reflect::set(&options, &JsValue::from_str("fatal"), &JsValue::TRUE).ok()?;
    let text = TextDecoder::new("utf-8", &options)
        .ok()?
        .decode(body)
        .ok()?;
    parse_json(&text).ok()
}

/// The SHA-256 of a body, computed by the runtime's Web Crypto.
async fn sha256(body: &Uint8Array) -> Option<Vec<u8>> {
    let promise = CRYPTO
        .with(web_sys::Crypto::subtle)
        .digest_with_str_and_js_u8_array("SHA-256", body)
        .ok()?;
    let digest = JsFuture::from(promise).await.ok()?;
    Some(Uint8Array::new(&digest).to_vec())
}

/// The isolate's settings, read and checked on its first request.
fn settings(env: &Env) -> Result<Rc<Settings>, Error> {
    let state = state();
    if let Some(settings) = state.settings.borrow().as_ref() {
        return settings.clone();
    }
    let read = ProxyConfig::from_env(&|name| setting(env, name)).map(|config| {
        Rc::new(Settings {
            limiter: env.rate_limiter("LIMITER").ok(),
            tasks: Upstreams::new(&config.upstreams),
            chat: Upstreams::new(&config.chat_upstreams),
            retry: RetryConfig {
                deadline_ms: PROXY_RETRY.deadline_ms.max(config.upstream_timeout_ms),
                ..PROXY_RETRY
            },
            cache_control: format!("public, max-age={}", config.cache_ttl_seconds),
            config,
        })
    });
    *state.settings.borrow_mut() = Some(read.clone());
    read
}

/// One forwarded request.
struct Forward<'a> {
    settings: &'a Settings,
    upstreams: &'a Upstreams,
    is_chat: bool,
    model: &'a str,
    /// The request's own headers, without `Authorization`.
    headers: Vec<(String, String)>,
    body: &'a Uint8Array,
}

impl Forward<'_> {
    /// Forwards under the shared attempt loop; returns the answer to pass
    /// back (a 2xx, or upstream's own final error answer).
    async fn run(&self, line: &mut LogLine) -> Result<web_sys::Response, Error> {
        let state = state();
        let setup = Setup {
            route: &self.upstreams.targets,
            random: &state.random,
            retry: self.settings.retry,
            timeout_ms: Some(self.settings.config.upstream_timeout_ms),
            signals: &[],
            on_attempt: None,
            providers: false,
        };
        let body: JsValue = self.body.into();
        let last = RefCell::new((None::<String>, None::<u64>));
        let outcome = run(setup, |plan| {
            let mut headers = Vec::with_capacity(self.headers.len() + 1);
            headers.extend_from_slice(&self.headers);
            headers.push(self.upstreams.authorization(plan.target).clone());
            let url = if self.is_chat {
                chat_url(&plan.target.url)
            } else {
                task_url(&plan.target.url, self.model, false)
            };
            *last.borrow_mut() = (Some(plan.target.name.clone()), None);
            let body = &body;
            let last = &last;
            async move {
                let sent = send(Outgoing {
                    url: &url,
                    headers: &headers,
                    body,
                    timeout_ms: plan.timeout_ms,
                    abort_on_timeout: true,
                    signals: &[],
                    cancellable: false,
                })
                .await;
                let incoming = match sent {
                    Ok(incoming) => incoming,
                    Err(error) => {
                        return AttemptEnd::Failed {
                            error,
                            header_wait_ms: None,
                            facts: Facts::default(),
                            answer: None,
                        }
                    }
                };
                last.borrow_mut().1 = incoming.compute_time_ms();
                let facts = Facts {
                    status: Some(incoming.status),
                    ..Facts::default()
                };
                if incoming.ok() {
                    // Passed on as it streams.
                    return AttemptEnd::Done(incoming.into_response(), facts);
                }
                // An error answer (small) is read whole: it says whether and
                // how long to wait, and it is what the caller gets if no
                // attempt does better. An upstream that echoes what it got
                // must not hand its token on.
                match incoming.error_answer(plan.target.token.as_slice()).await {
                    Ok(answer) => {
                        let error = error_from_answer(&answer);
                        let passed_on = upstream_error_response(&answer, &incoming.content_type());
                        AttemptEnd::Failed {
                            error,
                            header_wait_ms: answer.retry_after_ms,
                            facts,
                            answer: passed_on,
                        }
                    }
                    Err(error) => AttemptEnd::Failed {
                        error,
                        header_wait_ms: None,
                        facts,
                        answer: None,
                    },
                }
            }
        })
        .await;
        let (upstream, compute_time_ms) = last.into_inner();
        line.upstream = upstream;
        line.compute_time_ms = compute_time_ms;
        match outcome {
            Ok((response, attempts)) => {
                line.attempts = attempts;
                Ok(response)
            }
            Err(gave_up) => {
                line.attempts = gave_up.error.attempts();
                match gave_up.answer {
                    Some(response) => Ok(response),
                    // No answer came: its status is the refusal's (504 TIMEOUT, 502 NETWORK).
                    None => Err(gave_up.error),
                }
            }
        }
    }
}

/// Upstream's final error answer, rebuilt from the text already read (its
/// CORS headers are added with the rest of the answer's, later).
fn upstream_error_response(answer: &ErrorAnswer, content_type: &str) -> Option<web_sys::Response> {
    let retry_after = answer
        .retry_after_ms
        .map(|ms| ms.div_ceil(1000).to_string());
    let headers: Vec<(&str, &str)> = [
        ("content-type", Some(content_type).filter(|c| !c.is_empty())),
        ("x-request-id", answer.request_id.as_deref()),
        ("retry-after", retry_after.as_deref()),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name, value?)))
    .collect();
    respond(
        answer.status,
        &headers,
        &Cors::default(),
        Some(&answer.text),
    )
    .ok()
}

/// The `LIMITER` binding when bound (its limit and period live in
/// wrangler.toml), else the in-isolate bucket. `Err(ms)`: refused, retry then.
async fn rate_limit(limiter: Option<&Limiter>, client: &str, per_minute: u32) -> Result<(), u64> {
    if let Some(limiter) = limiter {
        // A binding that fails leaves the request to the bucket below.
        if let Ok(outcome) = limiter.limit(client.to_owned()).await {
            return if outcome.success { Ok(()) } else { Err(60_000) };
        }
    }
    state()
        .limiter
        .borrow_mut()
        .check(client, per_minute, now_ms())
}

/// An answer with only the headers of upstream's worth passing on; the body
/// streams through untouched.
fn passed_on(upstream: &web_sys::Response) -> Result<web_sys::Response, JsValue> {
    let headers = web_sys::Headers::new()?;
    let from = upstream.headers();
    for name in FORWARDED_RESPONSE_HEADERS {
        if let Some(value) = from.get(name)? {
            headers.set(name, &value)?;
        }
    }
    let init = ResponseInit::new();
    init.set_status(upstream.status());
    init.set_headers(&headers);
    web_sys::Response::new_with_opt_readable_stream_and_init(upstream.body().as_ref(), &init)
}

/// Adds this request's own headers (CORS, `x-cache`) to its answer.
fn add_headers(
    response: &web_sys::Response,
    cors: &Cors,
    cache: Option<&str>,
) -> Result<(), JsValue> {
    let headers = response.headers();
    for (name, value) in cors.headers() {
        headers.set(name, value)?;
    }
    if let Some(cache) = cache {
        headers.set("x-cache", cache)?;
    }
    Ok(())
}
