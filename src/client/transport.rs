//! One HTTP attempt: a POST through the runtime's global `fetch` (so the same
//! code runs in pages, Web Workers, Node and workerd), bounded by its time
//! limit and the caller's signals, and the reading of its answer. The client
//! and the proxy both send through here.
//!
//! `fetch(url, init)` is bound here rather than sent through gloo-net, whose
//! `http` module only sends `Request` objects: in Node 20 building a
//! `Request` first costs 30 % of a whole call (docs/architecture.md).
//!
//! An attempt is given an `AbortSignal` only when something may abort it: the
//! caller's signal, an explicit `timeoutMs`, or a stream the caller may
//! cancel. Passing any signal to Node's `fetch` costs about 5 % of a call, so
//! an attempt bounded only by the call's deadline races a shared
//! [`Deadline`] instead, and a late answer is discarded (its body cancelled
//! when it arrives).

use std::cell::Cell;
use std::rc::Rc;

use futures_util::future::{select, Either};
use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, Blob, ReadableStream, RequestInit, Response};

use super::abort::Listeners;
use super::deadline::Deadline;
use super::json;
use super::timer::Timeout;
use crate::policy::retry::{compute_time_ms, retry_after_ms};
use crate::protocol::error::{Error, ErrorAnswer, ErrorBody, ErrorCode};
use crate::protocol::token::{redact_each, Token};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch, catch)]
    fn fetch_with_init(url: &str, init: &RequestInit) -> Result<Promise, JsValue>;

    /// An answer's `Headers`, bound here for a `get` giving the JS value (a
    /// string or null), read by the string reading the wasm has anyway:
    /// web-sys's gives an `Option<String>` through one more copy of the
    /// glue's.
    #[wasm_bindgen(js_name = Headers)]
    type AnswerHeaders;

    // It does not throw for the valid header names it is asked for.
    #[wasm_bindgen(method, js_class = Headers, js_name = get)]
    fn header_value(this: &AnswerHeaders, name: &str) -> JsValue;
}

/// The message of an abort by the caller's signal.
pub(crate) const ABORTED_MESSAGE: &str = "the call was aborted by its signal";

/// Milliseconds since the Unix epoch (`Date.now()`: `SystemTime` panics on
/// wasm32-unknown-unknown).
pub(crate) fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// What one attempt sends: a POST of `body` with these headers (a GET when
/// `body` is `undefined`).
pub(crate) struct Outgoing<'a> {
    /// The full URL.
    pub url: &'a str,
    /// The headers as the JS object `fetch` takes ([`headers_object`]),
    /// already checked.
    pub headers: &'a Object,
    /// A string, `Uint8Array`, `ArrayBuffer` or `Blob`, sent untouched;
    /// `undefined` sends a GET without a body instead.
    pub body: &'a JsValue,
    /// The attempt's time limit.
    pub timeout_ms: Option<u64>,
    /// Whether reaching the limit aborts the request (an explicit timeout)
    /// rather than only ending the attempt (the call's deadline).
    pub abort_on_timeout: bool,
    /// The caller's signals: any of them aborts the attempt.
    pub signals: &'a [AbortSignal],
    /// Whether dropping the answer must be able to abort the request (a
    /// stream, whose body is read after the call returns).
    pub cancellable: bool,
}

/// What ends an attempt early, kept until its answer is read or handed on.
struct Guard {
    url: String,
    timeout_ms: Option<u64>,
    /// When the attempt's limit passes, if it is not enforced by an abort.
    deadline_at: Option<u64>,
    timed_out: Rc<Cell<bool>>,
    signals: Vec<AbortSignal>,
    controller: Option<AbortController>,
    timer: Option<Timeout>,
    _listeners: Option<Listeners>,
}

impl Guard {
    /// The error of an attempt whose limit passed.
    fn timeout(&self) -> Error {
        let ms = self.timeout_ms.unwrap_or_default();
        Error::new(
            ErrorCode::Timeout,
            format!("no answer from {} within {ms} ms", self.url),
        )
    }

    /// How an attempt that failed with `error` (a fetch or body rejection)
    /// failed: it timed out, the caller aborted, or the connection failed.
    fn failure(&self, error: &JsValue) -> Error {
        if self.timed_out.get() {
            return self.timeout();
        }
        if self.signals.iter().any(AbortSignal::aborted) {
            return Error::new(ErrorCode::Aborted, ABORTED_MESSAGE);
        }
        Error::new(
            ErrorCode::Network,
            format!("could not reach {}: {}", self.url, describe(error)),
        )
    }

    /// Awaits `promise` within the attempt's limit.
    async fn settle(&self, promise: Promise, late: fn(JsValue)) -> Result<JsValue, Error> {
        self.within(promise, late)
            .await?
            .map_err(|e| self.failure(&e))
    }

    /// How `promise` settled, or TIMEOUT at the attempt's deadline. A
    /// promise still pending then is left to `late`, which gets its value
    /// when it comes.
    async fn within(
        &self,
        promise: Promise,
        late: fn(JsValue),
    ) -> Result<Result<JsValue, JsValue>, Error> {
        let answer = JsFuture::from(promise);
        Ok(match self.deadline_at {
            None => answer.await,
            Some(at) => match select(answer, Deadline::at(at)).await {
                Either::Left((settled, _)) => settled,
                Either::Right(((), pending)) => {
                    when_settled(pending, late);
                    return Err(self.timeout());
                }
            },
        })
    }
}

/// Gives `then` the value of `pending` once it resolves (nothing if it
/// rejects), awaited on its own task: the one spawned future type of the
/// client (each type is its own copy of the executor's spawn in the wasm).
pub(crate) fn when_settled(pending: JsFuture, then: fn(JsValue)) {
    wasm_bindgen_futures::spawn_local(async move {
        if let Ok(value) = pending.await {
            then(value);
        }
    });
}

/// `message (cause)` of a JS error, e.g. `fetch failed (ECONNREFUSED)`.
fn describe(error: &JsValue) -> String {
    let text = |target: &JsValue, key: &str| {
        Reflect::get(target, &JsValue::from_str(key))
            .ok()
            .and_then(|v| v.as_string())
    };
    let message = text(error, "message")
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "the request failed".to_owned());
    let cause = Reflect::get(error, &JsValue::from_str("cause")).unwrap_or(JsValue::UNDEFINED);
    match text(&cause, "code").or_else(|| text(&cause, "message")) {
        Some(cause) => format!("{message} ({cause})"),
        None => message,
    }
}

/// A late answer nobody waits for any more: its body is cancelled, which
/// frees its connection.
fn discard_response(value: JsValue) {
    // What `fetch` resolves with is a `Response`.
    if let Some(body) = value.unchecked_ref::<Response>().body() {
        // `cancel()` through the reader's binding, the one streams use (a
        // stream and its reader cancel alike): no second binding.
        let _ = body
            .unchecked_ref::<web_sys::ReadableStreamDefaultReader>()
            .cancel();
    }
}

/// A late body nobody waits for any more.
fn ignore(_: JsValue) {}

/// An answer whose headers have come and whose body is still to read. Until
/// it is read (or handed on as a stream), its time limit and the caller's
/// signals still end it.
pub(crate) struct Incoming {
    response: Response,
    /// Its HTTP status.
    pub status: u16,
    /// Boxed: answers move through several futures, which stay small.
    guard: Box<Guard>,
}

/// Sends one attempt and waits for the answer's headers.
pub(crate) async fn send(outgoing: Outgoing<'_>) -> Result<Incoming, Error> {
    let timed_out = Rc::new(Cell::new(false));
    let abort_timeout = outgoing.timeout_ms.filter(|_| outgoing.abort_on_timeout);
    // A controller only when something can abort the attempt. With one
    // signal and nothing else, the caller's signal goes to fetch itself.
    let needs_controller = abort_timeout.is_some() || outgoing.cancellable;
    let (controller, signal, listeners) = match (needs_controller, outgoing.signals) {
        (false, []) => (None, None, None),
        (false, [one]) => (None, Some(one.clone()), None),
        (_, signals) => {
            let controller = AbortController::new()
                .map_err(|_| Error::new(ErrorCode::Network, "AbortController is not available"))?;
            let listeners = (!signals.is_empty()).then(|| Listeners::forward(signals, &controller));
            let signal = controller.signal();
            (Some(controller), Some(signal), listeners)
        }
    };
    let timer = match (abort_timeout, &controller) {
        (Some(ms), Some(controller)) => {
            let (controller, timed_out) = (controller.clone(), timed_out.clone());
            Some(Timeout::new(
                ms,
                Closure::new(move || {
                    timed_out.set(true);
                    controller.abort();
                }),
            ))
        }
        _ => None,
    };
    let deadline_at = match abort_timeout {
        Some(_) => None,
        None => outgoing.timeout_ms.map(|ms| now_ms().saturating_add(ms)),
    };
    let guard = Box::new(Guard {
        url: outgoing.url.to_owned(),
        timeout_ms: outgoing.timeout_ms,
        deadline_at,
        timed_out,
        signals: outgoing.signals.to_vec(),
        controller,
        timer,
        _listeners: listeners,
    });
    // An already aborted signal never gets here: the attempt loop checks
    // them right before each attempt.
    let init = RequestInit::new();
    // No body (`undefined`) is a GET: the proxy's Hub look-ups.
    init.set_method(if outgoing.body.is_undefined() {
        "GET"
    } else {
        "POST"
    });
    init.set_headers(outgoing.headers);
    init.set_body(outgoing.body);
    if let Some(signal) = &signal {
        init.set_signal(Some(signal));
    }
    let promise = fetch_with_init(outgoing.url, &init).map_err(|e| guard.failure(&e))?;
    let response: Response = guard
        .settle(promise, discard_response)
        .await?
        .unchecked_into();
    Ok(Incoming {
        status: response.status(),
        response,
        guard,
    })
}

/// Headers as the JS object `fetch` takes: each `(name, value)` in order,
/// then `last`, a later one replacing an earlier of the same (lower-case)
/// name.
pub(crate) fn headers_object(headers: &[(&str, &str)], last: Option<(&str, &str)>) -> Object {
    let object = Object::new();
    for (name, value) in headers.iter().copied().chain(last) {
        let _ = Reflect::set(&object, &JsValue::from_str(name), &JsValue::from_str(value));
    }
    object
}

/// Why a body could not be read as JSON.
pub(crate) enum JsonFailure {
    /// The body came whole but is not JSON.
    NotJson,
    /// The body did not come (timeout, abort, dropped connection).
    Io(Error),
}

impl Incoming {
    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A header of the answer.
    pub fn header(&self, name: &str) -> Option<String> {
        self.response
            .headers()
            .unchecked_into::<AnswerHeaders>()
            .header_value(name)
            .as_string()
    }

    /// `x-request-id`.
    pub fn request_id(&self) -> Option<String> {
        self.header("x-request-id")
    }

    /// `x-compute-time`, in milliseconds.
    pub fn compute_time_ms(&self) -> Option<u64> {
        self.header("x-compute-time")
            .and_then(|seconds| compute_time_ms(js_sys::parse_float(&seconds)))
    }

    /// `x-usage-cost`: what the proxy counted the answer as costing, in USD
    /// (a finite, non-negative number; anything else is ignored).
    pub fn usage_cost_usd(&self) -> Option<f64> {
        self.header("x-usage-cost")
            .map(|usd| js_sys::parse_float(&usd))
            .filter(|usd| usd.is_finite() && *usd >= 0.0)
    }

    /// `content-type`, lower-cased ("" without one).
    pub fn content_type(&self) -> String {
        self.header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase()
    }

    async fn read(&self, promise: Result<Promise, JsValue>) -> Result<JsValue, Error> {
        let promise = promise.map_err(|e| self.guard.failure(&e))?;
        self.guard.settle(promise, ignore).await
    }

    /// Reads the body as JSON (`Response.json()`, which skips a byte-order
    /// mark as the Fetch standard's UTF-8 decoding does).
    pub async fn json(&self) -> Result<JsValue, JsonFailure> {
        let promise = self
            .response
            .json()
            .map_err(|e| JsonFailure::Io(self.guard.failure(&e)))?;
        match self
            .guard
            .within(promise, ignore)
            .await
            .map_err(JsonFailure::Io)?
        {
            Ok(value) => Ok(value),
            Err(e) if e.is_instance_of::<js_sys::SyntaxError>() => Err(JsonFailure::NotJson),
            Err(e) => Err(JsonFailure::Io(self.guard.failure(&e))),
        }
    }

    /// Reads the body as text.
    pub async fn text(&self) -> Result<String, Error> {
        let text = self.read(self.response.text()).await?;
        Ok(text.as_string().unwrap_or_default())
    }

    /// Reads the body as a `Blob` (of the answer's content type).
    pub async fn blob(&self) -> Result<Blob, Error> {
        Ok(self.read(self.response.blob()).await?.unchecked_into())
    }

    /// Reads a non-2xx answer whole: status, request id, the wait
    /// `Retry-After` asks for, and the body as text and as JSON.
    /// Every one of `secrets` is redacted from the text before anything
    /// reads it: an upstream may echo the token it was sent.
    pub async fn error_answer(&self, secrets: &[Token]) -> Result<ErrorAnswer, Error> {
        let text = redact_each(secrets, self.text().await?);
        let json = json::parse(&text).and_then(|doc| ErrorBody::read(&doc));
        Ok(ErrorAnswer {
            status: self.status,
            request_id: self.request_id(),
            retry_after_ms: self
                .header("retry-after")
                .and_then(|value| retry_after_ms(&value, now_ms())),
            text,
            json,
        })
    }

    /// The answer itself, for a caller that passes it on (the proxy). The
    /// timeout covered the wait for its headers and ends here.
    #[cfg_attr(not(all(feature = "worker", target_arch = "wasm32")), allow(dead_code))]
    pub fn into_response(self) -> Response {
        self.response
    }

    /// The body as a stream, and what keeps the caller's signals attached to
    /// it. The time limit covered the wait for the answer's headers and ends
    /// here.
    pub fn into_body(mut self) -> (Option<ReadableStream>, BodyGuard) {
        // Dropped, the timer is cleared.
        self.guard.timer = None;
        self.guard.deadline_at = None;
        let body = self.response.body();
        (body, BodyGuard { guard: self.guard })
    }
}

/// Keeps a streamed body's abort wiring alive; dropping it aborts the
/// request, which closes its connection.
pub(crate) struct BodyGuard {
    guard: Box<Guard>,
}

impl BodyGuard {
    /// How a failed read of the body failed.
    pub fn failure(&self, error: &JsValue) -> Error {
        self.guard.failure(error)
    }

    /// The URL the stream comes from.
    pub fn url(&self) -> &str {
        &self.guard.url
    }

    /// Whether a caller's signal has aborted.
    pub fn aborted(&self) -> bool {
        self.guard.signals.iter().any(AbortSignal::aborted)
    }
}

impl Drop for BodyGuard {
    fn drop(&mut self) {
        if let Some(controller) = &self.guard.controller {
            controller.abort();
        }
    }
}
