//! The attempt loop's decisions for JavaScript: an `Engine` per client holds
//! the endpoints, their health and the random source; a `Call` per request
//! says where each attempt goes and, once it ended, whether to wait and try
//! again. JavaScript only performs what they decide.

use alloc::rc::Rc;
use core::cell::RefCell;

use wasm_bindgen::prelude::*;

use super::wire::error_json;
use crate::policy::call::{CallPolicy, Next, Outcome};
use crate::policy::random::SplitMix64;
use crate::policy::retry::{retry_after_ms, RetryConfig};
use crate::policy::route::{BreakerConfig, Router};
use crate::prelude::*;
use crate::protocol::error::{error_from_response, ErrorCode, InferenceError, ResponseMeta};
use crate::protocol::json::{write_decimal, write_string};
use crate::protocol::task::{chat_url, task_url, validate_endpoint_url, Token};

/// Where task calls go by default.
const DEFAULT_ENDPOINT: &str = "https://router.huggingface.co/hf-inference";
/// Where chat calls go by default (an OpenAI-compatible base).
const DEFAULT_CHAT_ENDPOINT: &str = "https://router.huggingface.co/v1";

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

struct State {
    tasks: Route,
    chat: Route,
    /// `Bearer …` of the client-wide token.
    authorization: Option<String>,
    random: SplitMix64,
}

/// One client's endpoints, their health and its random source.
#[wasm_bindgen]
pub struct Engine {
    state: Rc<RefCell<State>>,
}

fn thrown(err: InferenceError) -> String {
    error_json(&err)
}

/// `Bearer …` of a token, refused without echoing it (the message names `argument`).
fn authorization(token: Option<String>, argument: &str) -> Result<Option<String>, String> {
    token
        .map(|token| {
            Token::new(token)
                .map(|t| t.authorization())
                .map_err(|mut err| {
                    err.message = err.message.replacen("token", argument, 1);
                    thrown(err)
                })
        })
        .transpose()
}

#[wasm_bindgen]
impl Engine {
    /// A client with no endpoint yet; `seed` varies its jitter from other clients'.
    #[wasm_bindgen(constructor)]
    pub fn new(seed: f64) -> Engine {
        Engine {
            state: Rc::new(RefCell::new(State {
                tasks: Route::default(),
                chat: Route::default(),
                authorization: None,
                random: SplitMix64::new(seed as u64),
            })),
        }
    }

    /// Sets the client-wide token; refuses one that cannot be a header value.
    #[wasm_bindgen(js_name = setToken)]
    pub fn set_token(&self, token: String) -> Result<(), String> {
        self.state.borrow_mut().authorization = authorization(Some(token), "token")?;
        Ok(())
    }

    /// Adds an endpoint to the task route (or the chat route); errors name
    /// the argument that held the URL or token (`endpoint[1].url`).
    /// `weight` was checked by JavaScript.
    #[wasm_bindgen(js_name = addEndpoint)]
    #[allow(clippy::too_many_arguments)]
    pub fn add_endpoint(
        &self,
        chat: bool,
        url_argument: &str,
        token_argument: &str,
        url: String,
        token: Option<String>,
        dedicated: bool,
        weight: f64,
        name: Option<String>,
    ) -> Result<(), String> {
        validate_endpoint_url(&url, url_argument).map_err(thrown)?;
        let endpoint = Endpoint {
            authorization: authorization(token, token_argument)?,
            name: name.unwrap_or_else(|| url.clone()),
            url,
            dedicated,
            weight,
        };
        let mut state = self.state.borrow_mut();
        let route = if chat {
            &mut state.chat
        } else {
            &mut state.tasks
        };
        route.endpoints.push(endpoint);
        route.router = None;
        Ok(())
    }

    /// Starts a call to `model` (task route) or to the chat route. Retry
    /// settings left `NaN` take their defaults; `max_attempts == 0` is
    /// `retry: false`. `timeout_ms` is per attempt (`NaN`: none).
    #[wasm_bindgen]
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        &self,
        chat: bool,
        model: String,
        max_attempts: f64,
        base_delay_ms: f64,
        max_delay_ms: f64,
        deadline_ms: f64,
        timeout_ms: f64,
        now_ms: f64,
    ) -> Call {
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
        Call {
            state: self.state.clone(),
            chat,
            model,
            policy: CallPolicy::new(retry, timeout, now_ms as u64),
            endpoint: 0,
            last_status: None,
        }
    }
}

/// The attempts of one request.
#[wasm_bindgen]
pub struct Call {
    state: Rc<RefCell<State>>,
    chat: bool,
    model: String,
    policy: CallPolicy,
    endpoint: usize,
    last_status: Option<u16>,
}

#[wasm_bindgen]
impl Call {
    /// Starts the next attempt: `{url, endpoint, authorization?, timeoutMs?}`
    /// as JSON, `endpoint` being the name reports use.
    pub fn start(&mut self, now_ms: f64) -> String {
        let mut state = self.state.borrow_mut();
        let State {
            tasks,
            chat,
            authorization,
            random,
        } = &mut *state;
        let (route, default) = if self.chat {
            (chat, DEFAULT_CHAT_ENDPOINT)
        } else {
            (tasks, DEFAULT_ENDPOINT)
        };
        let router = route.router(default);
        let (index, timeout) = self.policy.start_attempt(router, now_ms as u64, random);
        self.endpoint = index;
        let endpoint = &route.endpoints[index];
        let url = if self.chat {
            chat_url(&endpoint.url)
        } else {
            task_url(&endpoint.url, &self.model, endpoint.dedicated)
        };
        let mut out = String::from("{\"url\":");
        write_string(&url, &mut out);
        out.push_str(",\"endpoint\":");
        write_string(&endpoint.name, &mut out);
        if let Some(auth) = endpoint.authorization.as_ref().or(authorization.as_ref()) {
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

    /// Ends the attempt and says what next, as JSON: `{attempt}` when it
    /// succeeded, `{attempt, code, delayMs}` to wait and try again, or
    /// `{attempt, code, error}` to give up with `error`.
    ///
    /// An answer has its `status` (non-2xx: `body`, `retry_after` and
    /// `request_id` are read for the error); with no answer, `status` is 0
    /// and `code`/`message` say how the attempt failed (NETWORK, TIMEOUT, ABORTED).
    #[allow(clippy::too_many_arguments)]
    pub fn finish(
        &mut self,
        now_ms: f64,
        status: u16,
        body: &str,
        retry_after: Option<String>,
        request_id: Option<String>,
        code: &str,
        message: &str,
    ) -> String {
        let now = now_ms as u64;
        let failure = if (200..300).contains(&status) {
            None
        } else if status == 0 {
            let code = ErrorCode::from_name(code).unwrap_or(ErrorCode::Network);
            Some((InferenceError::new(code, message), None))
        } else {
            let meta = ResponseMeta {
                status,
                request_id,
                retry_after_ms: retry_after.and_then(|value| retry_after_ms(&value, now)),
                compute_time_ms: None,
            };
            Some((error_from_response(&meta, body), meta.retry_after_ms))
        };
        let outcome = match &failure {
            None => Outcome::Success,
            Some((err, header_wait)) => Outcome::of_error(err, *header_wait),
        };
        if status != 0 {
            self.last_status = Some(status);
        }
        let next = {
            let mut state = self.state.borrow_mut();
            let State {
                tasks,
                chat,
                random,
                ..
            } = &mut *state;
            let route = if self.chat { chat } else { tasks };
            let router = route.router(DEFAULT_ENDPOINT);
            self.policy.finish_attempt(router, now, &outcome, random)
        };
        let mut out = String::from("{\"attempt\":");
        write_decimal(self.policy.attempts().into(), &mut out);
        if let Some((mut err, _)) = failure {
            out.push_str(",\"code\":");
            write_string(err.code.as_str(), &mut out);
            match next {
                Next::Wait(ms) => {
                    out.push_str(",\"delayMs\":");
                    write_decimal(ms, &mut out);
                }
                _ => {
                    err.attempts = self.policy.attempts();
                    err.status = err.status.or(self.last_status);
                    out.push_str(",\"error\":");
                    out.push_str(&error_json(&err));
                }
            }
        }
        out.push('}');
        out
    }
}
