//! One HTTP attempt: the `web_sys::Request` built once and sent through
//! gloo-net (which binds the global `fetch`, so the same code runs in pages,
//! Web Workers, Node and workerd), bounded by a timeout and the caller's
//! signals, and the reading of its answer. The client and the proxy both
//! send through here.

use std::cell::Cell;
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, Blob, ReadableStream, RequestInit, Response};

use super::abort::Listeners;
use super::json;
use crate::policy::retry::{compute_time_ms, retry_after_ms};
use crate::protocol::error::{Error, ErrorAnswer, ErrorBody, ErrorCode};

/// The message of an abort by the caller's signal.
pub(crate) const ABORTED_MESSAGE: &str = "the call was aborted by its signal";

/// Longest wait `setTimeout` takes without firing at once.
const MAX_TIMER_MS: u64 = 0x7FFF_FFFF;

/// Milliseconds since the Unix epoch (`Date.now()`: `SystemTime` panics on
/// wasm32-unknown-unknown).
pub(crate) fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// What one attempt sends: a POST of `body` with these headers.
pub(crate) struct Outgoing<'a> {
    /// The full URL.
    pub url: &'a str,
    /// Header names and values, already checked.
    pub headers: &'a [(String, String)],
    /// A string, `Uint8Array`, `ArrayBuffer` or `Blob`, sent untouched.
    pub body: &'a JsValue,
    /// The attempt's time limit.
    pub timeout_ms: Option<u64>,
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
    timed_out: Rc<Cell<bool>>,
    signals: Vec<AbortSignal>,
    controller: Option<AbortController>,
    timer: Option<Timeout>,
    _listeners: Option<Listeners>,
}

impl Guard {
    /// How an attempt that failed with `error` (a fetch or body rejection)
    /// failed: it timed out, the caller aborted, or the connection failed.
    fn failure(&self, error: &JsValue) -> Error {
        if self.timed_out.get() {
            let ms = self.timeout_ms.unwrap_or_default();
            return Error::new(
                ErrorCode::Timeout,
                format!("no answer from {} within {ms} ms", self.url),
            );
        }
        if self.signals.iter().any(AbortSignal::aborted) {
            return Error::new(ErrorCode::Aborted, ABORTED_MESSAGE);
        }
        Error::new(
            ErrorCode::Network,
            format!("could not reach {}: {}", self.url, describe(error)),
        )
    }
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

/// An answer whose headers have come and whose body is still to read. Until
/// it is read (or handed on as a stream), its timeout and the caller's
/// signals still end it.
pub(crate) struct Incoming {
    response: Response,
    /// Its HTTP status.
    pub status: u16,
    guard: Guard,
}

/// Sends one attempt and waits for the answer's headers.
pub(crate) async fn send(outgoing: Outgoing<'_>) -> Result<Incoming, Error> {
    let timed_out = Rc::new(Cell::new(false));
    // A controller only when something can abort the attempt. With one
    // signal and no timeout, the caller's signal goes to fetch itself.
    let (controller, signal, listeners) = match (outgoing.timeout_ms, outgoing.signals) {
        (None, []) if !outgoing.cancellable => (None, None, None),
        (None, [one]) if !outgoing.cancellable => (None, Some(one.clone()), None),
        (_, signals) => {
            let controller = AbortController::new()
                .map_err(|_| Error::new(ErrorCode::Network, "AbortController is not available"))?;
            let listeners = (!signals.is_empty()).then(|| Listeners::forward(signals, &controller));
            let signal = controller.signal();
            (Some(controller), Some(signal), listeners)
        }
    };
    let timer = match (outgoing.timeout_ms, &controller) {
        (Some(ms), Some(controller)) => {
            let (controller, timed_out) = (controller.clone(), timed_out.clone());
            Some(Timeout::new(ms.min(MAX_TIMER_MS) as u32, move || {
                timed_out.set(true);
                controller.abort();
            }))
        }
        _ => None,
    };
    let guard = Guard {
        url: outgoing.url.to_owned(),
        timeout_ms: outgoing.timeout_ms,
        timed_out,
        signals: outgoing.signals.to_vec(),
        controller,
        timer,
        _listeners: listeners,
    };
    if guard.signals.iter().any(AbortSignal::aborted) {
        return Err(Error::new(ErrorCode::Aborted, ABORTED_MESSAGE));
    }

    let init = RequestInit::new();
    init.set_method("POST");
    if !outgoing.headers.is_empty() {
        let headers = Object::new();
        for (name, value) in outgoing.headers {
            let _ = Reflect::set(
                &headers,
                &JsValue::from_str(name),
                &JsValue::from_str(value),
            );
        }
        init.set_headers(&headers);
    }
    init.set_body(outgoing.body);
    if let Some(signal) = &signal {
        init.set_signal(Some(signal));
    }
    let request = web_sys::Request::new_with_str_and_init(outgoing.url, &init)
        .map_err(|e| guard.failure(&e))?;
    let response: Response = match gloo_net::http::Request::from(request).send().await {
        Ok(response) => response.into(),
        Err(error) => {
            let error = match error {
                gloo_net::Error::JsError(e) => JsValue::from(js_sys::Error::new(&e.message)),
                other => JsValue::from_str(&other.to_string()),
            };
            return Err(guard.failure(&error));
        }
    };
    Ok(Incoming {
        status: response.status(),
        response,
        guard,
    })
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
        self.response.headers().get(name).ok().flatten()
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

    /// `content-type`, lower-cased ("" without one).
    pub fn content_type(&self) -> String {
        self.header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase()
    }

    async fn read(&self, promise: Result<js_sys::Promise, JsValue>) -> Result<JsValue, Error> {
        let promise = promise.map_err(|e| self.guard.failure(&e))?;
        JsFuture::from(promise)
            .await
            .map_err(|e| self.guard.failure(&e))
    }

    /// Reads the body as JSON (`Response.json()`, which skips a byte-order
    /// mark as the Fetch standard's UTF-8 decoding does).
    pub async fn json(&self) -> Result<JsValue, JsonFailure> {
        let promise = self
            .response
            .json()
            .map_err(|e| JsonFailure::Io(self.guard.failure(&e)))?;
        match JsFuture::from(promise).await {
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
    pub async fn error_answer(&self) -> Result<ErrorAnswer, Error> {
        let text = self.text().await?;
        let json = json::parse(&text)
            .filter(crate::protocol::document::Document::is_object)
            .and_then(|v| serde_wasm_bindgen::from_value::<ErrorBody>(v).ok());
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
    /// it. The timeout covered the wait for the answer's headers and ends here.
    pub fn into_body(mut self) -> (Option<ReadableStream>, BodyGuard) {
        if let Some(timer) = self.guard.timer.take() {
            timer.cancel();
        }
        let body = self.response.body();
        (body, BodyGuard { guard: self.guard })
    }
}

/// Keeps a streamed body's abort wiring alive; dropping it aborts the
/// request, which closes its connection.
pub(crate) struct BodyGuard {
    guard: Guard,
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
