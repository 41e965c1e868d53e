//! The attempt loop's decisions for JavaScript: an `Engine` per client holds
//! the endpoints, their health, the random source and the calls in flight.
//! For each call it says where each attempt goes and, once the attempt
//! ended, whether to wait and try again. JavaScript only performs what it
//! decides. Calls are numbered slots rather than JS objects of their own, so
//! no state is shared behind a `RefCell`.

use wasm_bindgen::prelude::*;

use super::codec::read_result;
use super::wire::{error_json, outcome};
use crate::policy::call::{CallPolicy, Next, Outcome};
use crate::policy::random::SplitMix64;
use crate::policy::retry::RetryConfig;
use crate::policy::route::{BreakerConfig, Router};
use crate::prelude::*;
use crate::protocol::error::{error_from_response, ErrorCode, InferenceError, ResponseMeta};
use crate::protocol::json::{write_decimal, write_string};
use crate::protocol::task::{
    chat_url, task_url, validate_endpoint_url, Token, ROUTER_CHAT, ROUTER_TASKS,
};
use crate::protocol::text::utf8_lossy;

struct Endpoint {
    url: String,
    /// `Bearer …` of this endpoint's own token.
    authorization: Option<String>,
    dedicated: bool,
    name: String,
    weight: f64,
}

/// The endpoints of one route (task or chat) and their health.
#[derive(Default)]
struct Route {
    endpoints: Vec<Endpoint>,
    router: Option<Router>,
}

impl Route {
    /// The router, built once the endpoints are known (the default one if none was given).
    fn router(&mut self, default_url: &str) -> &mut Router {
        if self.endpoints.is_empty() {
            self.endpoints.push(Endpoint {
                url: default_url.to_owned(),
                authorization: None,
                dedicated: false,
                name: default_url.to_owned(),
                weight: 1.0,
            });
        }
        let endpoints = &self.endpoints;
        self.router.get_or_insert_with(|| {
            let weights: Vec<f64> = endpoints.iter().map(|e| e.weight).collect();
            Router::new(&weights, BreakerConfig::default())
        })
    }
}

/// The state of one call: its route, what its answer holds and its attempts.
struct CallState {
    /// The answer's kind (`codec::read_result`); 0: JavaScript reads it.
    kind: u8,
    /// Texts of an array input (0: a single input).
    texts: usize,
    chat: bool,
    model: String,
    policy: CallPolicy,
    last_status: Option<u16>,
}

/// One client's endpoints, their health, its random source and its calls.
#[wasm_bindgen]
pub struct Engine {
    tasks: Route,
    chat: Route,
    /// `Bearer …` of the client-wide token.
    authorization: Option<String>,
    random: SplitMix64,
    /// Calls by number; `None` is a free slot.
    calls: Vec<Option<CallState>>,
}

/// `Bearer …` of a token, refused without echoing it (the message names `argument`).
fn authorization(token: Option<String>, argument: &str) -> Result<Option<String>, InferenceError> {
    token
        .map(|token| Token::named(token, argument).map(|t| t.authorization()))
        .transpose()
}

#[wasm_bindgen]
impl Engine {
    /// A client with no endpoint yet; `seed` varies its jitter from other clients'.
    #[wasm_bindgen(constructor)]
    pub fn new(seed: f64) -> Engine {
        Engine {
            tasks: Route::default(),
            chat: Route::default(),
            authorization: None,
            random: SplitMix64::new(seed as u64),
            calls: Vec::new(),
        }
    }

    /// Sets the client-wide token; refuses one that cannot be a header value
    /// (the output is empty, or the error after `ERROR_MARK`).
    #[wasm_bindgen(js_name = setToken)]
    pub fn set_token(&mut self, token: String) -> String {
        outcome(authorization(Some(token), "token").map(|authorization| {
            self.authorization = authorization;
            String::new()
        }))
    }

    /// Adds an endpoint to the task route (or the chat route); errors name
    /// the argument that held the URL or token (`endpoint[1].url`).
    /// `weight` was checked by JavaScript. The output is empty, or the error
    /// after `ERROR_MARK`.
    #[wasm_bindgen(js_name = addEndpoint)]
    #[allow(clippy::too_many_arguments)]
    pub fn add_endpoint(
        &mut self,
        chat: bool,
        url_argument: &str,
        token_argument: &str,
        url: String,
        token: Option<String>,
        dedicated: bool,
        weight: f64,
        name: Option<String>,
    ) -> String {
        let checked = validate_endpoint_url(&url, url_argument)
            .and_then(|()| authorization(token, token_argument));
        outcome(checked.map(|authorization| {
            let route = if chat {
                &mut self.chat
            } else {
                &mut self.tasks
            };
            route.endpoints.push(Endpoint {
                authorization,
                name: name.unwrap_or_else(|| url.clone()),
                url,
                dedicated,
                weight,
            });
            route.router = None;
            String::new()
        }))
    }

    /// Starts a call to `model` (task route) or to the chat route, and its
    /// first attempt (see `start`). `kind` and `texts` say how to read its
    /// 2xx answer (as `codec::read_result` takes them; kind 0: not here). Retry
    /// settings left `NaN` take their defaults; `max_attempts == 0` is
    /// `retry: false`. `timeout_ms` is per attempt (`NaN`: none). The call's
    /// number, `call` in the output, is freed by its final `finish` or by `end`.
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        &mut self,
        kind: u8,
        texts: usize,
        chat: bool,
        model: String,
        max_attempts: f64,
        base_delay_ms: f64,
        max_delay_ms: f64,
        deadline_ms: f64,
        timeout_ms: f64,
        now_ms: f64,
    ) -> String {
        let retry = if max_attempts == 0.0 {
            RetryConfig::disabled()
        } else {
            let default = RetryConfig::default();
            let or = |value: f64, default: u64| {
                if value.is_nan() {
                    default
                } else {
                    value as u64
                }
            };
            RetryConfig {
                max_attempts: or(max_attempts, default.max_attempts.into()) as u32,
                base_delay_ms: or(base_delay_ms, default.base_delay_ms),
                max_delay_ms: or(max_delay_ms, default.max_delay_ms),
                deadline_ms: or(deadline_ms, default.deadline_ms),
            }
        };
        let timeout = (!timeout_ms.is_nan()).then_some(timeout_ms as u64);
        let call = CallState {
            kind,
            texts,
            chat,
            model,
            policy: CallPolicy::new(retry, timeout, now_ms as u64),
            last_status: None,
        };
        let id = match self.calls.iter().position(Option::is_none) {
            Some(free) => {
                self.calls[free] = Some(call);
                free
            }
            None => {
                self.calls.push(Some(call));
                self.calls.len() - 1
            }
        };
        self.start(id, now_ms)
    }

    /// Frees call `id`'s slot.
    pub fn end(&mut self, id: usize) {
        if let Some(slot) = self.calls.get_mut(id) {
            *slot = None;
        }
    }

    /// Starts the next attempt of call `id`: `{call, url, endpoint,
    /// authorization?, timeoutMs?}` as JSON, `endpoint` being the name
    /// reports use.
    pub fn start(&mut self, id: usize, now_ms: f64) -> String {
        let Some(Some(call)) = self.calls.get_mut(id) else {
            return String::new();
        };
        let (route, default) = if call.chat {
            (&mut self.chat, ROUTER_CHAT)
        } else {
            (&mut self.tasks, ROUTER_TASKS)
        };
        let router = route.router(default);
        let (index, timeout) = call
            .policy
            .start_attempt(router, now_ms as u64, &mut self.random);
        let endpoint = &route.endpoints[index];
        let url = if call.chat {
            chat_url(&endpoint.url)
        } else {
            task_url(&endpoint.url, &call.model, endpoint.dedicated)
        };
        let mut out = String::with_capacity(url.len() + endpoint.name.len() + 160);
        out.push_str("{\"call\":");
        write_decimal(id as u64, &mut out);
        out.push_str(",\"url\":");
        write_string(&url, &mut out);
        out.push_str(",\"endpoint\":");
        write_string(&endpoint.name, &mut out);
        if let Some(auth) = endpoint
            .authorization
            .as_ref()
            .or(self.authorization.as_ref())
        {
            out.push_str(",\"authorization\":");
            write_string(auth, &mut out);
        }
        if let Some(ms) = timeout {
            out.push_str(",\"timeoutMs\":");
            write_decimal(ms, &mut out);
        }
        out.push('}');
        out
    }

    /// Ends the current attempt of call `id` and says what next, as JSON:
    /// `{attempt}` when it succeeded, followed by a newline and the result
    /// its kind reads from `body` (JavaScript parses the two apart, and the
    /// result once per caller); `{attempt, code, delayMs}` to wait and try
    /// again; or `{attempt, code?, error}` to give up with `error` (without
    /// `code` when a 2xx answer could not be read). A final verdict frees `id`.
    ///
    /// An answer has its `status` and its `body` bytes (empty when the
    /// call's kind leaves a 2xx answer to JavaScript); a non-2xx answer's
    /// `retry_after_ms` (the wait its `Retry-After` asks for, `NaN` without
    /// one) and `request_id` go into its error. With no answer, `status` is 0
    /// and `code`/`message` say how the attempt failed (NETWORK, TIMEOUT,
    /// ABORTED).
    #[allow(clippy::too_many_arguments)]
    pub fn finish(
        &mut self,
        id: usize,
        now_ms: f64,
        status: u16,
        body: &[u8],
        retry_after_ms: f64,
        request_id: Option<String>,
        code: &str,
        message: &str,
    ) -> String {
        let Some(Some(call)) = self.calls.get_mut(id) else {
            return String::new();
        };
        // The body comes as bytes (no decoding to a JS string and back); an
        // invalid sequence reads as U+FFFD.
        let lossy;
        let body = match core::str::from_utf8(body) {
            Ok(text) => text,
            Err(_) => {
                lossy = utf8_lossy(body);
                lossy.as_str()
            }
        };
        let now = now_ms as u64;
        let failure = if (200..300).contains(&status) {
            None
        } else if status == 0 {
            let code = ErrorCode::from_name(code).unwrap_or(ErrorCode::Network);
            Some((InferenceError::new(code, message), None))
        } else {
            let meta = ResponseMeta {
                status,
                request_id: request_id.clone(),
                // JavaScript reads the header (an HTTP date is `Date.parse`'s).
                retry_after_ms: (!retry_after_ms.is_nan()).then_some(retry_after_ms as u64),
                compute_time_ms: None,
            };
            Some((error_from_response(&meta, body), meta.retry_after_ms))
        };
        let outcome = match &failure {
            None => Outcome::Success,
            Some((err, header_wait)) => Outcome::of_error(err, *header_wait),
        };
        if status != 0 {
            call.last_status = Some(status);
        }
        let (route, default) = if call.chat {
            (&mut self.chat, ROUTER_CHAT)
        } else {
            (&mut self.tasks, ROUTER_TASKS)
        };
        let router = route.router(default);
        let next = call
            .policy
            .finish_attempt(router, now, &outcome, &mut self.random);
        let attempts = call.policy.attempts();
        let mut out = String::with_capacity(body.len() + 64);
        out.push_str("{\"attempt\":");
        write_decimal(attempts.into(), &mut out);
        let mut error = None;
        let mut result = None;
        match (failure, next) {
            (Some((err, _)), next) => {
                out.push_str(",\"code\":");
                write_string(err.code.as_str(), &mut out);
                match next {
                    Next::Wait(ms) => {
                        out.push_str(",\"delayMs\":");
                        write_decimal(ms, &mut out);
                    }
                    _ => error = Some(err),
                }
            }
            (None, _) if call.kind == 0 => {}
            (None, _) => match read_result(call.kind, call.texts, body) {
                Ok(text) => result = Some(text),
                Err(mut err) => {
                    err.request_id = request_id;
                    error = Some(err);
                }
            },
        }
        if let Some(mut err) = error {
            err.attempts = attempts;
            err.status = err.status.or(call.last_status);
            out.push_str(",\"error\":");
            out.push_str(&error_json(&err));
        }
        if !matches!(next, Next::Wait(_)) {
            self.calls[id] = None;
        }
        out.push('}');
        if let Some(result) = result {
            out.push('\n');
            out.push_str(&result);
        }
        out
    }
}
