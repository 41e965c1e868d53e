//! The proxy's fetch: one upstream attempt through the Worker's global
//! `fetch`, bounded by a timeout, and the sleep between attempts. The timer
//! is cleared when the attempt ends, however it ends.
//!
//! `fetch` is bound here rather than through gloo-net: an attempt needs only a
//! URL, headers, the body as received and an `AbortSignal` for its timeout.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, RequestInit, Response};

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

/// Waits `ms`.
pub async fn sleep(ms: u64) {
    if ms == 0 {
        return;
    }
    let mut resolve = None;
    let promise = Promise::new(&mut |done, _| resolve = Some(done));
    let Some(resolve) = resolve else { return };
    let _timer = Timer::start(ms, move || {
        let _ = resolve.call0(&JsValue::UNDEFINED);
    });
    let _ = JsFuture::from(promise).await;
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
/// Until it is read or handed on, the timeout stays armed.
pub struct InFlight {
    response: Response,
    /// Status and the headers errors and reports use.
    pub meta: ResponseMeta,
    /// `content-type`, lower-cased.
    pub content_type: String,
    url: String,
    timeout_ms: Option<u64>,
    timed_out: Rc<Cell<bool>>,
    _timer: Option<Timer>,
}

impl InFlight {
    fn failure(&self, error: &JsValue) -> InferenceError {
        failure(error, &self.url, self.timeout_ms, self.timed_out.get())
    }

    /// Reads the body whole as text (still within the attempt's timeout).
    pub async fn read_text(&self) -> Result<String, InferenceError> {
        let promise = self.response.text().map_err(|e| self.failure(&e))?;
        let text = JsFuture::from(promise)
            .await
            .map_err(|e| self.failure(&e))?;
        Ok(text.as_string().unwrap_or_default())
    }

    /// Hands the response on with its body unread, for streaming: the timeout
    /// covered the wait for the answer's headers and ends here.
    pub fn into_response(self) -> Response {
        self.response
    }
}

fn failure(error: &JsValue, url: &str, timeout_ms: Option<u64>, timed_out: bool) -> InferenceError {
    if timed_out {
        let ms = timeout_ms.unwrap_or_default();
        InferenceError::new(
            ErrorCode::Timeout,
            format!("no answer from {url} within {ms} ms"),
        )
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
    timeout_ms: Option<u64>,
) -> Result<InFlight, InferenceError> {
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

    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(request.body);
    init.set_signal(Some(&controller.signal()));

    let fail = |error: JsValue| failure(&error, request.url, timeout_ms, timed_out.get());
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
        _timer: timer,
    })
}
