//! The Worker's request handler, on workers-rs: reads the request and the
//! environment, applies the pure rules in the order that refuses cheapest
//! first (route, origin, client key, what the path names, size, rate limit,
//! what the body names), then forwards (`forward`) or answers a Hub
//! look-up (`lookup`), and logs one line.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, JsString, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, ResponseInit, Url};
use worker::{event, Cache, Context, Env, RateLimiter as Limiter};

use super::account::{self, Charge};
use super::config::{ProxyConfig, Setting};
use super::forward::{Forward, Upstreams};
use super::hub::HubCache;
use super::keys::{ClientKey, ClientKeys, Digest};
use super::log::LogLine;
use super::lookup::{map_back, mapping};
use super::meter::{
    self, ClientAsk, ClientsAsk, ClientsPage, Held, LeftAnswer, NotHeld, ReportAsk,
};
use super::patterns::any_matches;
use super::pricing::RouterPricing;
use super::ratelimit::RateLimiter;
use super::relay::{relay, tee, Reading};
use super::rules::{
    cache_key, gateway_model, missing_client_key, model_from_path, outside_key_scope,
    provider_model, rate_limit_key, refusal_body, refusal_status, route, Call, Cors, Gateway,
    ModelRoute, Route, FORWARDED_RESPONSE_HEADERS, PREFLIGHT_HEADERS,
};
use super::usage::budgets::Budgets;
use super::usage::budgets::Refusal as BudgetRefusal;
use super::usage::cost::{cost, Answer, Cost};
use super::usage::ledger::Ledger;
use super::usage::money::usd_text;
use super::usage::prices::RouterPrices;
use super::usage::tokens::{
    prompt_estimate, stream_usage, usage_insertion, StreamUsage, USAGE_MEMBER,
};
use crate::client::transport::now_ms;
use crate::policy::random::SplitMix64;
use crate::policy::retry::RetryConfig;
use crate::protocol::error::{Error, ErrorCode};

#[wasm_bindgen]
extern "C" {
    /// The runtime's Web Crypto, for the SHA-256 of the cache key's body
    /// and of a presented client key.
    #[wasm_bindgen(thread_local_v2, js_name = crypto)]
    static CRYPTO: web_sys::Crypto;

    /// The runtime's `TextDecoder`, bound here because web-sys' `decode`
    /// returns a Rust `String`: it would copy a chat body into the wasm.
    type TextDecoder;

    #[wasm_bindgen(constructor, catch)]
    fn new(label: &str, options: &JsValue) -> Result<TextDecoder, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn decode(this: &TextDecoder, input: &Uint8Array) -> Result<JsString, JsValue>;

    /// The runtime's `TextEncoder`, bound here because web-sys' `encode`
    /// returns a Rust `Vec`: it would copy a rewritten body into the wasm.
    type TextEncoder;

    #[wasm_bindgen(constructor)]
    fn new() -> TextEncoder;

    #[wasm_bindgen(method)]
    fn encode(this: &TextEncoder, input: &JsString) -> Uint8Array;

    /// `JSON.parse` of a JS string (js-sys' takes a Rust `&str`).
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn parse_json(text: &JsString) -> Result<JsValue, JsValue>;

    /// The runtime's `URLSearchParams` (web-sys' needs a feature the crate
    /// does not enable), to read the Hub route's query as a browser would.
    #[wasm_bindgen(js_name = URLSearchParams)]
    type SearchParams;

    #[wasm_bindgen(constructor, js_class = "URLSearchParams", catch)]
    fn new(init: &str) -> Result<SearchParams, JsValue>;
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
pub(super) struct Settings {
    pub config: ProxyConfig,
    /// The `LIMITER` rate-limit binding, when bound.
    limiter: Option<Limiter>,
    /// `UPSTREAMS`, `CHAT_UPSTREAMS`, `ROUTER_UPSTREAMS` and `HUB_URL`.
    tasks: Upstreams,
    chat: Upstreams,
    pub router: Upstreams,
    pub hub: Upstreams,
    /// `PROXY_RETRY`, its deadline stretched to fit one attempt's timeout.
    pub retry: RetryConfig,
    /// The `cache-control` of a stored answer (`CACHE_TTL_SECONDS`).
    cache_control: String,
    /// The Hub answers looked up (`HUB_CACHE_TTL_SECONDS`).
    pub hub_cache: RefCell<HubCache>,
    /// Whether the `USAGE` Durable Object namespace is bound.
    usage_bound: bool,
    /// The router's per-token prices (`GET /v1/models`), fetched when a
    /// settlement needs them.
    pub router_pricing: RouterPricing,
}

/// State an isolate keeps between requests: its settings (or why they are
/// wrong), the in-isolate rate limit and the random source.
pub(super) struct IsolateState {
    settings: RefCell<Option<Result<Rc<Settings>, Error>>>,
    limiter: RefCell<RateLimiter>,
    pub random: RefCell<SplitMix64>,
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

/// This isolate's state.
pub(super) fn state() -> Rc<IsolateState> {
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

fn header(headers: &web_sys::Headers, name: &str) -> Option<String> {
    headers.get(name).ok().flatten()
}

/// A response built here, with a text body (or none), these headers and
/// the request's CORS headers.
pub(super) fn respond(
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
/// a trap into a clean 500. The answer goes back as the `web_sys::Response`
/// it is: a `worker::Response` would be taken apart and built anew on the
/// way out (a second `Response` and its headers, every request).
#[event(fetch)]
async fn fetch(request: Request, env: Env, ctx: Context) -> worker::Result<web_sys::Response> {
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
    Ok(response)
}

type Refusal = (Error, Cors);

/// A route past the checks of its path.
enum Judged {
    /// The Hub look-up of this (allowed) model.
    Hub(String),
    Post(Post),
}

/// A POST route past the checks of its path.
enum Post {
    /// A task route of this (allowed) model.
    Model(String, ModelRoute),
    Gateway(Gateway),
    /// A provider route of this (allowed) provider.
    Provider(String, &'static str),
}

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
    // Taken once: each `request.headers` is a call into the runtime.
    let headers = request.headers();
    line.path = url.pathname();
    let route = route(&line.method, &line.path, &query(&url)).map_err(bare)?;
    let settings = settings(env).map_err(bare)?;
    let config = &settings.config;
    let origin = header(&headers, "origin");
    // The worker's own origin matters only to a request from a browser.
    let own_origin = origin.as_ref().map(|_| url.origin()).unwrap_or_default();
    let cors = Cors::of(origin, &own_origin, &config.allowed_origins).map_err(bare)?;
    let refuse = |err: Error| (err, cors.clone());
    let internal = || refuse(could_not("build its answer"));
    let call = match route {
        Route::Health => {
            let headers = [("content-type", "application/json")];
            return respond(200, &headers, &cors, Some(HEALTH_BODY)).map_err(|_| internal());
        }
        Route::Preflight => {
            return respond(204, &PREFLIGHT_HEADERS, &cors, None).map_err(|_| internal());
        }
        Route::UsageAll { cursor, limit } => {
            return usage_all(request, env, &settings, cursor, limit, &cors)
                .await
                .map_err(refuse);
        }
        // Answered once the client is known.
        Route::UsageMe => None,
        Route::Call(call) => Some(call),
    };

    // The client key, once verified, names the client (for the rate limit
    // and the log line) and bounds its models; an unverified x-api-key names
    // nothing (else every made-up key would get a fresh budget).
    let client = match &config.client_keys {
        None => None,
        Some(keys) => Some(
            verify(keys, header(&headers, "x-api-key"))
                .await
                .map_err(refuse)?,
        ),
    };
    line.client = client.map(|key| key.name().to_owned());
    let Some(call) = call else {
        let me = rate_limit_key(
            client.map(ClientKey::name),
            header(&headers, "cf-connecting-ip").as_deref(),
        );
        return usage_me(env, &settings, &me, client.map(ClientKey::name), &cors)
            .await
            .map_err(refuse);
    };
    // A key's `models`, checked after ALLOWED_MODELS: `model` is the
    // Hugging Face id, `shown` the model as the refusal names it.
    let in_scope = |model: &str, shown: &str| match client {
        Some(key) if !key.allows(model) => Err(refuse(outside_key_scope(shown))),
        _ => Ok(()),
    };
    let not_allowed = |model: &str| {
        refuse(
            Error::new(
                ErrorCode::Forbidden,
                format!("model {model} is not allowed by this proxy (ALLOWED_MODELS)"),
            )
            .with_status(403),
        )
    };
    // What the path names is judged before the body is read.
    let path_model = |raw: &str, line: &mut LogLine| {
        let model = model_from_path(raw).map_err(refuse)?;
        let allowed = any_matches(&config.allowed_models, &model);
        line.model = Some(model.clone());
        if !allowed {
            return Err(not_allowed(raw));
        }
        in_scope(&model, raw)?;
        Ok(model)
    };
    let judged = match call {
        Call::Hub(raw) => Judged::Hub(path_model(&raw, line)?),
        Call::Model(raw, served) => Judged::Post(Post::Model(path_model(&raw, line)?, served)),
        Call::Gateway(gateway) => Judged::Post(Post::Gateway(gateway)),
        Call::Provider { provider, route } => {
            line.provider = Some(provider.clone());
            config
                .allowed_providers
                .check_route(&provider)
                .map_err(refuse)?;
            Judged::Post(Post::Provider(provider, route))
        }
    };
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
    let declared = header(&headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > config.max_body_bytes) {
        return Err(too_large());
    }
    let limited = rate_limit_key(
        client.map(ClientKey::name),
        header(&headers, "cf-connecting-ip").as_deref(),
    );
    if let Err(wait_ms) = rate_limit(
        settings.limiter.as_ref(),
        &limited,
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
    let post = match judged {
        Judged::Hub(model) => return hub_answer(&settings, &model, &cors, line).await,
        Judged::Post(post) => post,
    };
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
    // What the body names: a chat or images model, or a provider's model id.
    let hf_route = matches!(post, Post::Model(..));
    // The Hugging Face id, that usage is counted and priced by.
    let model: String;
    // The body's JSON, for the routes that read it.
    let mut parsed: Option<JsValue> = None;
    // Whether the route speaks the OpenAI protocol, whose answers report
    // their tokens (`usage`): chat, completions, embeddings.
    let (upstreams, path, cacheable, openai) = match post {
        Post::Model(hf_id, served) => {
            model = hf_id.clone();
            let path = format!("/models/{hf_id}{}", served.suffix());
            let cacheable = served.cacheable() && any_matches(&config.cache_models, &hf_id);
            let openai = served == ModelRoute::Completions;
            (
                &settings.tasks,
                path,
                cacheable.then_some((hf_id, served)),
                openai,
            )
        }
        Post::Gateway(gateway) => {
            parsed = parse_body(&body);
            let (shown, id) = gateway_model(parsed.as_ref(), gateway).map_err(refuse)?;
            line.model = Some(shown.clone());
            if !any_matches(&config.allowed_models, &id) {
                return Err(not_allowed(&shown));
            }
            in_scope(&id, &shown)?;
            let provider = config.allowed_providers.check_model(&shown);
            model = id;
            line.provider = Some(provider.map_err(refuse)?);
            let openai = gateway == Gateway::Chat;
            (&settings.chat, gateway.path().to_owned(), None, openai)
        }
        Post::Provider(provider, route) => {
            parsed = parse_body(&body);
            let id = provider_model(parsed.as_ref()).map_err(refuse)?;
            let hf_id = map_back(&settings, &provider, &id, line)
                .await
                .map_err(refuse)?;
            line.model = Some(hf_id.clone());
            // The scope applies to the Hugging Face model the id maps back to.
            in_scope(&hf_id, &hf_id)?;
            model = hf_id;
            let openai = !route.ends_with("/images/generations");
            (
                &settings.router,
                format!("/{provider}/{route}"),
                None,
                openai,
            )
        }
    };
    let content_type = header(&headers, "content-type");
    let accept = header(&headers, "accept");

    let cache = match cacheable {
        Some((model, served)) => {
            let digest = sha256(&body)
                .await
                .ok_or_else(|| refuse(could_not("hash the body")))?;
            let key = cache_key(
                &model,
                &served.suffix(),
                &digest,
                content_type.as_deref().unwrap_or(""),
                accept.as_deref().unwrap_or(""),
            );
            if let Ok(Some(hit)) = Cache::default().get(key.as_str(), false).await {
                line.cache = Some("HIT");
                let response = passed_on(&hit.into(), None).map_err(|_| internal())?;
                add_headers(&response, &cors, line.cache).map_err(|_| internal())?;
                response
                    .headers()
                    .set("x-usage-cost", "0")
                    .map_err(|_| internal())?;
                if settings.usage_bound {
                    ctx.wait_until(account::cache_hit(env.clone(), limited, model));
                }
                return Ok(response);
            }
            line.cache = Some("MISS");
            Some(key)
        }
        None => None,
    };

    // The budget check: the only wait accounting adds before forwarding.
    let held = if settings.usage_bound {
        match meter::reserve(
            env,
            config.budgets.as_ref(),
            &limited,
            client.map(ClientKey::name),
            &model,
        )
        .await
        {
            Ok(held) => Some(held),
            Err(NotHeld::Refused(refusal)) => return Err(refuse(over_budget(&refusal))),
            Err(NotHeld::Unreachable) if config.budgets.is_some() => {
                return Err(refuse(usage_unreachable()))
            }
            // Without budgets, accounting that fails does not stop a request.
            Err(NotHeld::Unreachable) => None,
        }
    } else {
        None
    };
    // An answer of the OpenAI protocol counts its tokens; a stream is asked
    // to count them too, and its prompt is estimated should it be cut short.
    let counts_tokens = held.is_some() && openai;
    let mut keep_usage = false;
    let mut prompt_tokens = 0;
    let mut sent = body;
    // The body as parsed for its model, or now (a completion's).
    let parsed = counts_tokens
        .then(|| parsed.or_else(|| parse_body(&sent)))
        .flatten();
    if let Some(parsed) = parsed {
        prompt_tokens = prompt_estimate(&parsed);
        if stream_usage(&parsed) == StreamUsage::NotAsked {
            if let Some(asked) = ask_for_usage(&sent, &parsed) {
                sent = asked;
                keep_usage = true;
            }
        }
    }

    let mut sent_headers: Vec<(String, String)> = Vec::new();
    for (name, value) in [("content-type", content_type), ("accept", accept)] {
        if let Some(value) = value {
            sent_headers.push((name.to_owned(), value));
        }
    }
    if let Some(bill_to) = &config.bill_to {
        sent_headers.push(("x-hf-bill-to".to_owned(), bill_to.clone()));
    }
    let isolate = state();
    let forward = Forward {
        upstreams,
        random: &isolate.random,
        retry: settings.retry,
        timeout_ms: config.upstream_timeout_ms,
        path,
        headers: sent_headers,
        body: sent.into(),
        whole: false,
    };
    let forwarded = forward.run(line).await;
    let mut reading = Reading::Nothing;
    let mut answer_body = None;
    let (status, priced, provider, compute_type) = match &forwarded {
        Ok(upstream) => {
            let from = upstream.headers();
            let provider = if hf_route {
                None
            } else {
                from.get("x-inference-provider")
                    .ok()
                    .flatten()
                    .or_else(|| line.provider.clone())
            };
            let compute_type = from.get("x-compute-type").ok().flatten();
            let answer = Answer {
                provider: provider.as_deref(),
                compute_type: compute_type.as_deref(),
                compute_ms: line.compute_time_ms,
                tokens: None,
                tokens_estimated: false,
            };
            let status = upstream.status();
            let priced = cost(&config.prices, &RouterPrices::default(), &model, &answer);
            if counts_tokens && (200..300).contains(&status) {
                if let Some(body) = upstream.body() {
                    let content_type = from.get("content-type").ok().flatten();
                    let streams = content_type
                        .is_some_and(|c| c.to_ascii_lowercase().starts_with("text/event-stream"));
                    let split = if streams {
                        relay(&body, keep_usage).map(|(b, r)| (b, Reading::Stream(r)))
                    } else {
                        tee(&body).map(|(b, read)| (b, Reading::Json(read)))
                    };
                    if let Some((passed, read)) = split {
                        answer_body = Some(passed);
                        reading = read;
                    }
                }
            }
            // An error answer without compute time is not billed.
            let unbilled = Cost {
                micro_usd: 0,
                estimated: true,
            };
            let priced = priced.or((status >= 400).then_some(unbilled));
            (status, priced, provider, compute_type)
        }
        Err(_) => (
            0,
            Some(Cost {
                micro_usd: 0,
                estimated: true,
            }),
            None,
            None,
        ),
    };
    let shown = priced
        .map(|p| p.micro_usd)
        .or(held.as_ref().and_then(Held::estimate))
        .unwrap_or_else(|| Ledger::default().estimate(&model, &config.prices));
    if let Some(held) = held {
        let charge = Charge {
            held,
            model,
            provider,
            compute_type,
            compute_ms: line.compute_time_ms,
            attempts: line.attempts,
            error: !(200..400).contains(&status),
            cost: priced,
            prompt_estimate: prompt_tokens,
        };
        ctx.wait_until(account::settle(
            env.clone(),
            settings.clone(),
            charge,
            reading,
        ));
    }
    // Should the answer not go out after all, the stream a relay fills is
    // cancelled, which ends the relay (and upstream's stream with it).
    let mut unsent = Unsent(answer_body.clone());
    let upstream = forwarded.map_err(refuse)?;
    let response = passed_on(&upstream, answer_body.as_ref()).map_err(|_| internal())?;
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
    // The cost known now: compute time for hf-inference, else the estimate.
    response
        .headers()
        .set("x-usage-cost", &usd_text(shown))
        .map_err(|_| internal())?;
    unsent.0 = None;
    Ok(response)
}

/// A stream meant for an answer, cancelled when dropped unless taken out.
struct Unsent(Option<web_sys::ReadableStream>);

impl Drop for Unsent {
    fn drop(&mut self) {
        if let Some(body) = self.0.take() {
            let cancelled = JsFuture::from(body.cancel());
            wasm_bindgen_futures::spawn_local(async move {
                let _ = cancelled.await;
            });
        }
    }
}

/// A stream request's body (`parsed`, its own parse) asking for the usage
/// too, built in JavaScript memory (a chat body may carry images, and wasm
/// memory never shrinks): [`USAGE_MEMBER`] put after the opening brace of
/// the client's bytes, or, when the body has `stream_options` of its own,
/// `include_usage` set in them and the body written again.
fn ask_for_usage(body: &Uint8Array, parsed: &JsValue) -> Option<Uint8Array> {
    let key = JsValue::from_str("stream_options");
    let options = Reflect::get(parsed, &key).ok()?;
    if options.is_undefined() {
        let head = body.subarray(0, body.length().min(1024)).to_vec();
        let at = u32::try_from(usage_insertion(&head)?).ok()?;
        let member = Uint8Array::from(USAGE_MEMBER);
        let asked = Uint8Array::new_with_length(body.length() + member.length());
        asked.set(&body.subarray(0, at), 0);
        asked.set(&member, at);
        asked.set(&body.subarray(at, body.length()), at + member.length());
        return Some(asked);
    }
    let options = if options.is_object() && !Array::is_array(&options) {
        options
    } else {
        let own = JsValue::from(Object::new());
        Reflect::set(parsed, &key, &own).ok()?;
        own
    };
    Reflect::set(
        &options,
        &JsValue::from_str("include_usage"),
        &JsValue::TRUE,
    )
    .ok()?;
    let text = js_sys::JSON::stringify(parsed).ok()?;
    Some(TextEncoder::new().encode(&text))
}

/// The answer of `/usage` routes while usage is not accounted.
fn usage_off() -> Error {
    Error::new(
        ErrorCode::NotFound,
        "usage is not accounted by this proxy (no USAGE Durable Object binding)",
    )
    .with_status(404)
}

fn json_answer(body: &str, cors: &Cors) -> Result<web_sys::Response, Error> {
    let headers = [
        ("content-type", "application/json"),
        ("cache-control", "no-store"),
    ];
    respond(200, &headers, cors, Some(body)).map_err(|_| {
        Error::new(
            ErrorCode::UpstreamError,
            "the proxy could not build its answer",
        )
    })
}

/// `GET /usage/me`: the caller's own totals and what its budgets leave.
async fn usage_me(
    env: &Env,
    settings: &Settings,
    client: &str,
    key: Option<&str>,
    cors: &Cors,
) -> Result<web_sys::Response, Error> {
    if !settings.usage_bound {
        return Err(usage_off());
    }
    let budgets = settings.config.budgets.as_ref();
    let ask = ReportAsk {
        caps: budgets.map(Budgets::total_caps).unwrap_or_default(),
    };
    let others: LeftAnswer = meter::call(env, meter::TOTAL, "left", &ask)
        .await
        .ok_or_else(usage_unreachable)?;
    let own = client_usage(env, budgets, client, key, others).await?;
    json_answer(&own.to_string(), cors)
}

/// The `/usage/me` object of `client` (its key's name `key`), from its
/// object; `others` is what the total's caps leave.
async fn client_usage(
    env: &Env,
    budgets: Option<&Budgets>,
    client: &str,
    key: Option<&str>,
    others: LeftAnswer,
) -> Result<serde_json::Value, Error> {
    let ask = ClientAsk {
        client: client.to_owned(),
        caps: budgets.map(|b| b.client_caps(key)).unwrap_or_default(),
        others,
    };
    meter::call(env, &meter::client_object(client), "client", &ask)
        .await
        .ok_or_else(usage_unreachable)
}

/// `GET /usage` with `authorization: Bearer <ADMIN_KEY>`: every client's
/// totals, a page at a time, and the proxy's. Without ADMIN_KEY the route
/// does not exist (404); a wrong or missing key is 401.
async fn usage_all(
    request: &Request,
    env: &Env,
    settings: &Settings,
    cursor: Option<String>,
    limit: usize,
    cors: &Cors,
) -> Result<web_sys::Response, Error> {
    let Some(admin) = &settings.config.admin_key else {
        return Err(Error::new(ErrorCode::NotFound, "no route for /usage").with_status(404));
    };
    let presented = header(&request.headers(), "authorization")
        .and_then(|value| value.strip_prefix("Bearer ").map(str::to_owned))
        .unwrap_or_default();
    // Compared by their SHA-256 digests, byte by byte in constant time.
    let presented = sha256(&Uint8Array::from(presented.as_bytes())).await;
    let expected = sha256(&Uint8Array::from(admin.0.as_bytes())).await;
    let same = match (presented, expected) {
        (Some(a), Some(b)) if a.len() == b.len() => {
            a.iter().zip(&b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
        }
        _ => false,
    };
    if !same {
        return Err(Error::new(
            ErrorCode::Unauthorized,
            "GET /usage needs authorization: Bearer <ADMIN_KEY>",
        )
        .with_status(401));
    }
    if !settings.usage_bound {
        return Err(usage_off());
    }
    let budgets = settings.config.budgets.as_ref();
    let page: ClientsPage =
        meter::call(env, meter::TOTAL, "clients", &ClientsAsk { cursor, limit })
            .await
            .ok_or_else(usage_unreachable)?;
    let ask = ReportAsk {
        caps: budgets.map(Budgets::total_caps).unwrap_or_default(),
    };
    let total: serde_json::Value = meter::call(env, meter::TOTAL, "total", &ask)
        .await
        .ok_or_else(usage_unreachable)?;
    let others: LeftAnswer = meter::call(env, meter::TOTAL, "left", &ask)
        .await
        .ok_or_else(usage_unreachable)?;
    let mut clients = Vec::with_capacity(page.clients.len());
    for name in &page.clients {
        clients.push(client_usage(env, budgets, name, Some(name), others).await?);
    }
    let body = serde_json::json!({
        "clients": clients,
        "total": total,
        "next_cursor": page.next_cursor,
    });
    json_answer(&body.to_string(), cors)
}

/// The refusal of a request that would pass a budget cap (402, with
/// `Retry-After` until the cap's period resets).
fn over_budget(refusal: &BudgetRefusal) -> Error {
    Error::new(ErrorCode::BudgetExceeded, refusal.message())
        .with_retry_after_ms(Some(refusal.retry_after_seconds.saturating_mul(1000)))
}

/// The refusal of a request whose budget could not be checked: with
/// budgets set, the proxy fails closed.
fn usage_unreachable() -> Error {
    Error::new(
        ErrorCode::UpstreamError,
        "the proxy could not reach its usage accounting (the USAGE Durable Object), so it cannot check the budgets (BUDGETS); try again later",
    )
    .with_status(503)
}

/// The answer of `GET /api/models/{model}?expand[]=inferenceProviderMapping`
/// for an allowed model: the Hub's, as it sent it, from the isolate's cache
/// (`x-cache: HIT`) or fetched now (`MISS`).
async fn hub_answer(
    settings: &Settings,
    model: &str,
    cors: &Cors,
    line: &mut LogLine,
) -> Result<web_sys::Response, Refusal> {
    let refuse = |err: Error| (err, cors.clone());
    let (answer, hit) = mapping(settings, model, settings.retry, line)
        .await
        .map_err(refuse)?;
    line.cache = Some(if hit { "HIT" } else { "MISS" });
    let mut headers = vec![("x-cache", if hit { "HIT" } else { "MISS" })];
    if !answer.content_type.is_empty() {
        headers.push(("content-type", &answer.content_type));
    }
    respond(answer.status, &headers, cors, Some(&answer.body)).map_err(|_| {
        refuse(Error::new(
            ErrorCode::UpstreamError,
            "the proxy could not build its answer",
        ))
    })
}

/// The query's pairs, decoded by the runtime's `URLSearchParams`.
fn query(url: &Url) -> Vec<(String, String)> {
    let search = url.search();
    // Most requests have no query: no `URLSearchParams` to build for them.
    if search.is_empty() {
        return Vec::new();
    }
    let Ok(params) = SearchParams::new(&search) else {
        return Vec::new();
    };
    Array::from(&params)
        .iter()
        .filter_map(|pair| {
            let pair: Array = pair.dyn_into().ok()?;
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect()
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

/// The client whose key is `presented` (the `x-api-key` header): the key's
/// SHA-256, taken by the runtime's Web Crypto, is compared with the hashes
/// of `CLIENT_KEYS`. 401 without a valid key.
async fn verify(keys: &ClientKeys, presented: Option<String>) -> Result<&ClientKey, Error> {
    let presented = presented
        .filter(|key| !key.is_empty())
        .ok_or_else(missing_client_key)?;
    let digest: Digest = sha256(&Uint8Array::from(presented.as_bytes()))
        .await
        .and_then(|digest| digest.try_into().ok())
        .ok_or_else(|| {
            Error::new(
                ErrorCode::UpstreamError,
                "the proxy could not hash the client key",
            )
        })?;
    keys.find(&presented, &digest)
        .ok_or_else(missing_client_key)
}

/// The SHA-256 of some bytes, computed by the runtime's Web Crypto.
async fn sha256(body: &Uint8Array) -> Option<Vec<u8>> {
    let promise = CRYPTO
        .with(web_sys::Crypto::subtle)
        .digest_with_str_and_js_u8_array("SHA-256", body)
        .ok()?;
    let digest = JsFuture::from(promise).await.ok()?;
    Some(Uint8Array::new(&digest).to_vec())
}

/// The isolate's settings, read and checked on its first request.
pub(super) fn settings(env: &Env) -> Result<Rc<Settings>, Error> {
    let state = state();
    if let Some(settings) = state.settings.borrow().as_ref() {
        return settings.clone();
    }
    let usage_bound = env.durable_object(meter::BINDING).is_ok();
    let read = ProxyConfig::from_env(&|name| setting(env, name)).and_then(|config| {
        if config.budgets.is_some() && !usage_bound {
            return Err(Error::new(
                ErrorCode::Config,
                "BUDGETS is set but the USAGE Durable Object binding is missing: add it to wrangler.toml (docs/proxy.md)",
            ));
        }
        Ok(Rc::new(Settings {
            usage_bound,
            limiter: env.rate_limiter("LIMITER").ok(),
            tasks: Upstreams::new(&config.upstreams),
            chat: Upstreams::new(&config.chat_upstreams),
            router: Upstreams::new(&config.router_upstreams),
            hub: Upstreams::new(std::slice::from_ref(&config.hub)),
            hub_cache: RefCell::new(HubCache::new(
                u64::from(config.hub_cache_ttl_seconds) * 1000,
            )),
            retry: RetryConfig {
                deadline_ms: PROXY_RETRY.deadline_ms.max(config.upstream_timeout_ms),
                ..PROXY_RETRY
            },
            cache_control: format!("public, max-age={}", config.cache_ttl_seconds),
            router_pricing: RouterPricing::default(),
            config,
        }))
    });
    *state.settings.borrow_mut() = Some(read.clone());
    read
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
fn passed_on(
    upstream: &web_sys::Response,
    body: Option<&web_sys::ReadableStream>,
) -> Result<web_sys::Response, JsValue> {
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
    let own = upstream.body();
    web_sys::Response::new_with_opt_readable_stream_and_init(body.or(own.as_ref()), &init)
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
