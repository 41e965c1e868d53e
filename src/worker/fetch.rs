//! The proxy's fetch. One HTTP attempt through the global `fetch` (Window, Worker and Node alike),
//! bounded by a timeout and the caller's abort signals, and the abortable
//! sleep between attempts. Every timer and listener is removed when the
//! attempt or sleep ends, however it ends.
//!
//! The crate binds `fetch` itself rather than through gloo-net: the calls need
//! only a URL, headers, a body that may be a `Blob` or a byte view passed
//! through untouched, and an `AbortSignal`, and gloo-net's request builder would
//! add its serde-based JSON layer and error types to the browser download.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, Headers, RequestInit, Response};

use crate::policy::retry::retry_after_ms;
use crate::protocol::error::{compute_time_ms, ErrorCode, InferenceError, ResponseMeta};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch, catch)]
    fn global_fetch(url: &str, init: &RequestInit) -> Result<Promise, JsValue>;

    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;

    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// Longest delay `setTimeout` takes without firing at once.
const MAX_TIMER_MS: u64 = 0x7FFF_FFFF;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

fn aborted() -> InferenceError {
    InferenceError::new(ErrorCode::Aborted, "the call was aborted by its signal")
}

/// A timer that is cleared when dropped.
pub struct Timer {
    id: JsValue,
    _callback: Closure<dyn FnMut()>,
}

impl Timer {
    /// Calls `callback` after `ms`, unless dropped first.
    pub fn start(ms: u64, callback: impl FnMut() + 'static) -> Timer {
        let callback = Closure::<dyn FnMut()>::new(callback);
        let id = set_timeout(
            callback.as_ref().unchecked_ref(),
            ms.min(MAX_TIMER_MS) as f64,
        );
        Timer {
            id,
            _callback: callback,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        clear_timeout(&self.id);
    }
}

/// `abort` listeners on the caller's signals, detached when dropped.
struct AbortListeners {
    attached: Vec<(AbortSignal, Closure<dyn FnMut()>)>,
}

impl AbortListeners {
    fn attach(signals: &[AbortSignal], on_abort: impl Fn() + Clone + 'static) -> AbortListeners {
        let attached = signals
            .iter()
            .map(|signal| {
                let on_abort = on_abort.clone();
                let listener = Closure::<dyn FnMut()>::new(on_abort);
                let _ = signal
                    .add_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
                (signal.clone(), listener)
            })
            .collect();
        AbortListeners { attached }
    }
}

impl Drop for AbortListeners {
    fn drop(&mut self) {
        for (signal, listener) in self.attached.drain(..) {
            let _ = signal
                .remove_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
        }
    }
}

/// Waits `ms`, or less if a signal aborts (then fails with ABORTED).
pub async fn sleep(ms: u64, signals: &[AbortSignal]) -> Result<(), InferenceError> {
    if signals.iter().any(AbortSignal::aborted) {
        return Err(aborted());
    }
    if ms == 0 {
        return Ok(());
    }
    let mut settle: Option<(Function, Function)> = None;
    let promise = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
    let Some((resolve, reject)) = settle else {
        return Err(aborted());
    };
    let _timer = Timer::start(ms, move || {
        let _ = resolve.call0(&JsValue::UNDEFINED);
    });
    let _listeners = AbortListeners::attach(signals, move || {
        let _ = reject.call0(&JsValue::UNDEFINED);
    });
    JsFuture::from(promise)
        .await
        .map(|_| ())
        .map_err(|_| aborted())
}

/// What one attempt sends.
pub struct HttpRequest<'a> {
    /// Full URL.
    pub url: &'a str,
    /// Request headers, already complete.
    pub headers: Vec<(String, String)>,
    /// A string, `Blob`, `ArrayBuffer` or typed-array view, sent as is.
    pub body: &'a JsValue,
}

/// An error answer's body, read whole.
pub struct Answer {
    /// `content-type`, lower-cased.
    pub content_type: String,
    /// The body as text.
    pub text: String,
}

/// `message (cause)` of a JS error, e.g. `fetch failed (ECONNREFUSED)`.
fn describe_js_error(error: &JsValue) -> String {
    let field = |target: &JsValue, key: &str| {
        Reflect::get(target, &JsValue::from_str(key))
            .ok()
            .and_then(|v| v.as_string())
    };
    let message = field(error, "message").unwrap_or_else(|| "the request failed".to_owned());
    let cause = Reflect::get(error, &JsValue::from_str("cause")).unwrap_or(JsValue::UNDEFINED);
    match field(&cause, "code").or_else(|| field(&cause, "message")) {
        Some(cause) => format!("{message} ({cause})"),
        None => message,
    }
}

fn header(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).ok().flatten()
}

/// An attempt whose answer headers have come and whose body is still unread.
/// Until it is read or handed on, the timeout and abort listeners stay armed.
pub struct InFlight {
    response: Response,
    /// Status and the headers errors and reports use.
    pub meta: ResponseMeta,
    /// `content-type`, lower-cased.
    pub content_type: String,
    url: String,
    timeout_ms: Option<u64>,
    timed_out: Rc<Cell<bool>>,
    signals: Vec<AbortSignal>,
    _timer: Option<Timer>,
    _listeners: AbortListeners,
}

impl InFlight {
    fn failure(&self, error: &JsValue) -> InferenceError {
        failure(
            error,
            &self.url,
            self.timeout_ms,
            self.timed_out.get(),
            &self.signals,
        )
    }

    /// Reads the body whole as text (still within the attempt's timeout).
    pub async fn read_whole(self) -> Result<Answer, InferenceError> {
        let promise = self.response.text().map_err(|e| self.failure(&e))?;
        let text = JsFuture::from(promise)
            .await
            .map_err(|e| self.failure(&e))?;
        Ok(Answer {
            content_type: self.content_type,
            text: text.as_string().unwrap_or_default(),
        })
    }

    /// Hands the response on with its body unread, for streaming: the timeout
    /// covered the wait for the answer's headers and ends here.
    pub fn into_response(self) -> Response {
        self.response
    }
}

fn failure(
    error: &JsValue,
    url: &str,
    timeout_ms: Option<u64>,
    timed_out: bool,
    signals: &[AbortSignal],
) -> InferenceError {
    if timed_out {
        let ms = timeout_ms.unwrap_or_default();
        InferenceError::new(
            ErrorCode::Timeout,
            format!("no answer from {url} within {ms} ms"),
        )
    } else if signals.iter().any(AbortSignal::aborted) {
        aborted()
    } else {
        InferenceError::new(
            ErrorCode::Network,
            format!("could not reach {url}: {}", describe_js_error(error)),
        )
    }
}

/// Sends one attempt and waits for the answer's headers, within `timeout_ms`.
pub async fn start(
    request: HttpRequest<'_>,
    signals: &[AbortSignal],
    timeout_ms: Option<u64>,
) -> Result<InFlight, InferenceError> {
    if signals.iter().any(AbortSignal::aborted) {
        return Err(aborted());
    }
    let unavailable = |what: &str| {
        InferenceError::new(ErrorCode::Network, format!("{what} is not available here"))
    };
    let headers = Headers::new().map_err(|_| unavailable("Headers"))?;
    for (name, value) in &request.headers {
        headers.set(name, value).map_err(|_| {
            InferenceError::invalid_input(
                &format!("headers.{name}"),
                "is not a valid HTTP header name or value",
            )
        })?;
    }
    let controller = AbortController::new().map_err(|_| unavailable("AbortController"))?;
    let timed_out = Rc::new(Cell::new(false));
    let timer = timeout_ms.map(|ms| {
        let (controller, timed_out) = (controller.clone(), timed_out.clone());
        Timer::start(ms, move || {
            timed_out.set(true);
            controller.abort();
        })
    });
    let listeners = AbortListeners::attach(signals, {
        let controller = controller.clone();
        move || controller.abort()
    });

    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(request.body);
    init.set_signal(Some(&controller.signal()));

    let fail = |error: JsValue| failure(&error, request.url, timeout_ms, timed_out.get(), signals);
    let promise = global_fetch(request.url, &init).map_err(fail)?;
    let response: Response = JsFuture::from(promise)
        .await
        .map_err(fail)?
        .unchecked_into();
    let content_type = header(&response, "content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let meta = ResponseMeta {
        status: response.status(),
        request_id: header(&response, "x-request-id"),
        retry_after_ms: header(&response, "retry-after")
            .and_then(|value| retry_after_ms(&value, now_ms())),
        compute_time_ms: header(&response, "x-compute-time")
            .as_deref()
            .and_then(compute_time_ms),
    };
    Ok(InFlight {
        response,
        meta,
        content_type,
        url: request.url.to_owned(),
        timeout_ms,
        timed_out,
        signals: signals.to_vec(),
        _timer: timer,
        _listeners: listeners,
    })
}
