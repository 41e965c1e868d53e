//! The Worker's request handler, on workers-rs: reads the request and the
//! environment, applies the pure rules, forwards through the client's own
//! attempt loop and transport (`client::attempts`, `client::transport`) and
//! streams the answer back.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Uint8Array;
use sha2::{Digest, Sha256};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::Request;
use worker::{
    event, Cache, Context, Env, Headers, RateLimiter as Limiter, Response, ResponseBuilder,
};

use super::config::{ProxyConfig, Upstream};
use super::log::LogLine;
use super::patterns::any_matches;
use super::ratelimit::RateLimiter;
use super::rules::{
    cache_key, chat_model_from_body, check_raw_task_path, cors_headers, model_from_path,
    preflight_headers, rate_limit_key, refusal_body, refusal_status, route, Route,
    FORWARDED_RESPONSE_HEADERS,
};
use crate::client::attempts::{run, AttemptEnd, Facts, Route as Upstreams, Setup};
use crate::client::options::EndpointTarget;
use crate::client::transport::{now_ms, send, Outgoing};
use crate::policy::random::SplitMix64;
use crate::policy::retry::RetryConfig;
use crate::protocol::error::{error_from_answer, Error, ErrorAnswer, ErrorCode};
use crate::protocol::model::{chat_url, task_url};

/// Attempts per forwarded request, within the client's own deadline.
const PROXY_RETRY: RetryConfig = RetryConfig {
    max_attempts: 3,
    base_delay_ms: 250,
    max_delay_ms: 5_000,
    deadline_ms: 60_000,
};

/// The settings of this isolate, read from its environment once: a
/// Worker's bindings are fixed for the life of an isolate (new settings or
/// secrets make a new deployment version, served by new isolates), and
/// reading and checking them on every request cost a tenth of a proxied call.
struct Settings {
    config: Rc<ProxyConfig>,
    /// The `LIMITER` rate-limit binding, when bound.
    limiter: Option<Limiter>,
    /// The upstreams' health, per route.
    tasks: Rc<Upstreams>,
    chat: Rc<Upstreams>,
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

/// A string setting of `env` (a var or a secret); empty counts as unset.
fn setting(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .ok()
        .map(|v| v.to_string().trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn header(request: &Request, name: &str) -> Option<String> {
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
    compute_time_ms: Option<u64>,
}

type Cors = Vec<(&'static str, String)>;

/// A response built here, with a text body (or none).
fn respond(
    status: u16,
    headers: &[(&str, String)],
    body: Option<&str>,
) -> worker::Result<Response> {
    let h = Headers::new();
    for (name, value) in headers {
        h.set(name, value)?;
    }
    let builder = ResponseBuilder::new().with_status(status).with_headers(h);
    Ok(match body {
        Some(text) => builder.fixed(text.as_bytes().to_vec()),
        None => builder.empty(),
    })
}

fn refusal(err: &Error, cors: &Cors, trace: &mut Trace) -> worker::Result<Response> {
    trace.code = Some(err.code().as_str());
    let mut headers: Vec<(&str, String)> = vec![("content-type", "application/json".to_owned())];
    if let Some(ms) = err.retry_after_ms() {
        headers.push(("retry-after", ms.div_ceil(1000).to_string()));
    }
    headers.extend(cors.iter().map(|(k, v)| (*k, v.clone())));
    respond(refusal_status(err), &headers, Some(&refusal_body(err)))
}

/// Handles one request; the entry module calls this (as `fetch`) and turns
/// a trap into a clean 500.
#[event(fetch)]
async fn fetch(request: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let started = now_ms();
    let url = request.url();
    let path = path_of(&url).to_owned();
    let method = request.method();
    let mut trace = Trace::default();
    let response = match serve(&request, &env, &ctx, &mut trace).await {
        Ok(response) => response,
        Err((err, cors)) => refusal(&err, &cors, &mut trace)?,
    };
    let line = LogLine {
        method: &method,
        path: &path,
        model: trace.model.as_deref(),
        status: response.status_code(),
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

type Refusal = (Error, Cors);

/// The path of a URL (as the runtime normalised it), without its query.
fn path_of(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    let path = url[after..]
        .find('/')
        .map_or("/", |slash| &url[after + slash..]);
    path.split(['?', '#']).next().unwrap_or("/")
}

/// The origin (`scheme://host[:port]`) of a URL.
fn origin_of(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    url[after..]
        .find('/')
        .map_or(url, |slash| &url[..after + slash])
}

async fn serve(
    request: &Request,
    env: &Env,
    ctx: &Context,
    trace: &mut Trace,
) -> Result<Response, Refusal> {
    let bare = |err: Error| (err, Vec::new());
    let raw_url = request.url();
    let route = route(&request.method(), path_of(&raw_url)).map_err(bare)?;
    if matches!(route, Route::Task(_)) {
        check_raw_task_path(&raw_url).map_err(bare)?;
    }
    let settings = settings(env).map_err(bare)?;
    let config = &*settings.config;
    let origin = header(request, "origin");
    let cors = cors_headers(
        origin.as_deref(),
        origin_of(&raw_url),
        &config.allowed_origins,
    )
    .map_err(bare)?;
    let refuse = |err: Error| (err, cors.clone());
    let internal = || {
        refuse(Error::new(
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
            return respond(200, &headers, Some(&body)).map_err(|_| internal());
        }
        Route::Preflight => {
            let mut headers: Vec<(&str, String)> = cors.to_vec();
            headers.extend(
                preflight_headers()
                    .iter()
                    .map(|(k, v)| (*k, (*v).to_owned())),
            );
            return respond(204, &headers, None).map_err(|_| internal());
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
        trace.model = Some(model.clone());
        if !any_matches(&config.allowed_models, &model) {
            return Err(not_allowed(&model));
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
    // The body stays in JavaScript memory: it is resent as is by each attempt.
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
    let content_type = header(request, "content-type");
    let accept = header(request, "accept");

    let cache = if !is_chat && any_matches(&config.cache_models, &model) {
        let hash = Sha256::digest(body.to_vec());
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        let key = cache_key(
            &model,
            &hex,
            content_type.as_deref().unwrap_or(""),
            accept.as_deref().unwrap_or(""),
        );
        if let Ok(Some(hit)) = Cache::default().get(key.as_str(), false).await {
            trace.cache = Some("HIT");
            return with_headers(hit.into(), &cors, Some("HIT"))
                .map(Into::into)
                .map_err(|_| internal());
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
    let forwarded = Forward {
        config,
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
    let upstream = forwarded.run(trace).await.map_err(refuse)?;
    let response = with_headers(upstream, &cors, trace.cache).map_err(|_| internal())?;
    match (cache, response.status()) {
        (Some(key), 200) => {
            let copy = response.clone().map_err(|_| internal())?;
            let ttl = config.cache_ttl_seconds;
            ctx.wait_until(async move {
                if let Ok(stored) = cacheable(copy, ttl) {
                    let _ = Cache::default().put(key.as_str(), stored).await;
                }
            });
            Ok(response.into())
        }
        _ => Ok(response.into()),
    }
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
            tasks: upstreams(&config.upstreams, &config),
            chat: upstreams(&config.chat_upstreams, &config),
            config: Rc::new(config),
        })
    });
    *state.settings.borrow_mut() = Some(read.clone());
    read
}

/// The endpoints of a route's upstreams, each with its token.
fn upstreams(upstreams: &[Upstream], config: &ProxyConfig) -> Rc<Upstreams> {
    let targets = upstreams
        .iter()
        .map(|u| EndpointTarget {
            url: u.url.clone(),
            name: u.name.clone(),
            token: Some(u.token.clone().unwrap_or_else(|| config.token.clone())),
            dedicated: false,
            weight: u.weight,
        })
        .collect();
    Rc::new(Upstreams::new(targets))
}

/// One forwarded request.
struct Forward<'a> {
    config: &'a ProxyConfig,
    upstreams: &'a Rc<Upstreams>,
    is_chat: bool,
    model: &'a str,
    headers: Vec<(String, String)>,
    body: &'a Uint8Array,
}

impl Forward<'_> {
    /// Forwards under the shared attempt loop; returns the answer to pass
    /// back (a 2xx, or upstream's own final error answer).
    async fn run(&self, trace: &mut Trace) -> Result<web_sys::Response, Error> {
        let state = state();
        let setup = Setup {
            route: self.upstreams,
            random: &state.random,
            retry: RetryConfig {
                deadline_ms: PROXY_RETRY.deadline_ms.max(self.config.upstream_timeout_ms),
                ..PROXY_RETRY
            },
            timeout_ms: Some(self.config.upstream_timeout_ms),
            signals: &[],
            on_attempt: None,
        };
        let body: JsValue = self.body.into();
        let last = RefCell::new((None::<String>, None::<u64>));
        let outcome = run(setup, |plan| {
            let mut headers = self.headers.clone();
            let token = plan.target.token.as_ref().unwrap_or(&self.config.token);
            headers.push(("authorization".to_owned(), token.authorization()));
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
                // attempt does better.
                // An upstream that echoes what it got must not hand our token on.
                match incoming.error_answer(std::slice::from_ref(token)).await {
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
        trace.upstream = upstream;
        trace.compute_time_ms = compute_time_ms;
        match outcome {
            Ok((response, attempts)) => {
                trace.attempts = attempts;
                Ok(response)
            }
            Err(gave_up) => {
                trace.attempts = gave_up.error.attempts();
                match gave_up.answer {
                    Some(response) => Ok(response),
                    // No answer came: its status is the refusal's (504 TIMEOUT, 502 NETWORK).
                    None => Err(gave_up.error),
                }
            }
        }
    }
}

/// Upstream's final error answer, rebuilt from the text already read.
fn upstream_error_response(answer: &ErrorAnswer, content_type: &str) -> Option<web_sys::Response> {
    let mut headers = Vec::new();
    if !content_type.is_empty() {
        headers.push(("content-type", content_type.to_owned()));
    }
    if let Some(id) = &answer.request_id {
        headers.push(("x-request-id", id.clone()));
    }
    if let Some(wait) = answer.retry_after_ms {
        headers.push(("retry-after", wait.div_ceil(1000).to_string()));
    }
    respond(answer.status, &headers, Some(&answer.text))
        .ok()
        .map(Into::into)
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

/// A copy of an answer as the Cache API should keep it: `cache-control` set
/// to the TTL, without the headers of this one request (CORS, `x-cache`).
fn cacheable(copy: web_sys::Response, ttl: u32) -> worker::Result<Response> {
    let headers = Headers(copy.headers());
    headers.set("cache-control", &format!("public, max-age={ttl}"))?;
    for name in [
        "access-control-allow-origin",
        "access-control-expose-headers",
        "vary",
        "x-cache",
    ] {
        headers.delete(name)?;
    }
    let builder = ResponseBuilder::new()
        .with_status(copy.status())
        .with_headers(headers);
    Ok(match copy.body() {
        Some(body) => builder.stream(body),
        None => builder.empty(),
    })
}

/// Upstream's answer with only the headers worth passing on, plus CORS and
/// `x-cache`; the body streams through untouched.
fn with_headers(
    upstream: web_sys::Response,
    cors: &Cors,
    cache: Option<&str>,
) -> Result<web_sys::Response, JsValue> {
    let headers = web_sys::Headers::new()?;
    let from = upstream.headers();
    for name in FORWARDED_RESPONSE_HEADERS {
        if let Ok(Some(value)) = from.get(name) {
            headers.set(name, &value)?;
        }
    }
    for (name, value) in cors {
        headers.set(name, value)?;
    }
    if let Some(cache) = cache {
        headers.set("x-cache", cache)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(upstream.status());
    init.set_headers(&headers);
    web_sys::Response::new_with_opt_readable_stream_and_init(upstream.body().as_ref(), &init)
}
