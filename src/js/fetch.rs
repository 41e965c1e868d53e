//! One HTTP attempt through the global `fetch` (Window, Worker and Node alike),
//! bounded by a timeout and the caller's abort signals.
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
use web_sys::{AbortController, AbortSignal, Blob, Headers, RequestInit, Response};

use super::options::CallOptions;
use crate::protocol::error::{ErrorCode, InferenceError, ResponseMeta};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch, catch)]
    fn global_fetch(url: &str, init: &RequestInit) -> Result<Promise, JsValue>;

    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: u32) -> JsValue;

    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// What one attempt sends.
pub struct HttpRequest<'a> {
    /// Full URL.
    pub url: &'a str,
    /// Request headers, already complete.
    pub headers: Vec<(String, String)>,
    /// A string, `Blob`, `ArrayBuffer` or typed-array view, sent as is.
    pub body: JsValue,
}

/// An answer's body, read whole.
pub enum AnswerBody {
    /// Text (JSON or plain).
    Text(String),
    /// Binary content, left to JavaScript as a `Blob`.
    Blob(Blob),
}

/// What came back from one attempt.
pub struct Answer {
    /// Status and the headers errors report.
    pub meta: ResponseMeta,
    /// `content-type`, lower-cased.
    pub content_type: String,
    /// The body.
    pub body: AnswerBody,
}

impl Answer {
    /// The body as text (empty for a binary body).
    pub fn text(&self) -> &str {
        match &self.body {
            AnswerBody::Text(text) => text,
            AnswerBody::Blob(_) => "",
        }
    }
}

/// Whether an answer of this content type should stay binary.
fn is_binary(content_type: &str) -> bool {
    !(content_type.is_empty()
        || content_type.starts_with("text/")
        || content_type.contains("json")
        || content_type.contains("xml"))
}

/// Clears the timer and detaches the abort listeners when the attempt ends,
/// however it ends, so nothing is left pending.
struct AttemptGuard {
    controller: AbortController,
    timed_out: Rc<Cell<bool>>,
    timer: Option<JsValue>,
    _on_timeout: Option<Closure<dyn FnMut()>>,
    listeners: Vec<(AbortSignal, Closure<dyn FnMut()>)>,
}

impl AttemptGuard {
    fn new(options: &CallOptions) -> Result<AttemptGuard, InferenceError> {
        let controller = AbortController::new().map_err(|_| {
            InferenceError::new(ErrorCode::Network, "AbortController is not available")
        })?;
        let timed_out = Rc::new(Cell::new(false));
        let mut guard = AttemptGuard {
            controller,
            timed_out: timed_out.clone(),
            timer: None,
            _on_timeout: None,
            listeners: Vec::new(),
        };
        for signal in &options.signals {
            let controller = guard.controller.clone();
            let listener = Closure::<dyn FnMut()>::new(move || controller.abort());
            let _ =
                signal.add_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
            guard.listeners.push((signal.clone(), listener));
        }
        if let Some(ms) = options.timeout_ms {
            let controller = guard.controller.clone();
            let on_timeout = Closure::<dyn FnMut()>::new(move || {
                timed_out.set(true);
                controller.abort();
            });
            guard.timer = Some(set_timeout(on_timeout.as_ref().unchecked_ref(), ms));
            guard._on_timeout = Some(on_timeout);
        }
        Ok(guard)
    }

    /// The error for a rejected fetch or body read.
    fn failure(&self, error: &JsValue, url: &str, options: &CallOptions) -> InferenceError {
        if self.timed_out.get() {
            let ms = options.timeout_ms.unwrap_or_default();
            return InferenceError::new(
                ErrorCode::Timeout,
                format!("no answer from {url} within {ms} ms"),
            );
        }
        if options.signals.iter().any(AbortSignal::aborted) {
            return InferenceError::new(ErrorCode::Aborted, "the call was aborted by its signal");
        }
        InferenceError::new(
            ErrorCode::Network,
            format!("could not reach {url}: {}", describe_js_error(error)),
        )
    }
}

impl Drop for AttemptGuard {
    fn drop(&mut self) {
        if let Some(timer) = self.timer.take() {
            clear_timeout(&timer);
        }
        for (signal, listener) in self.listeners.drain(..) {
            let _ = signal
                .remove_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
        }
    }
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

/// Sends one attempt and reads its answer whole.
pub async fn send(
    request: HttpRequest<'_>,
    options: &CallOptions,
) -> Result<Answer, InferenceError> {
    if options.signals.iter().any(AbortSignal::aborted) {
        return Err(InferenceError::new(
            ErrorCode::Aborted,
            "the call was aborted by its signal",
        ));
    }
    let headers = Headers::new()
        .map_err(|_| InferenceError::new(ErrorCode::Network, "Headers is not available"))?;
    for (name, value) in &request.headers {
        headers.set(name, value).map_err(|_| {
            InferenceError::invalid_input(
                &format!("headers.{name}"),
                "is not a valid HTTP header name or value",
            )
        })?;
    }
    let guard = AttemptGuard::new(options)?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&request.body);
    init.set_signal(Some(&guard.controller.signal()));

    let fail = |error: JsValue| guard.failure(&error, request.url, options);
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
        retry_after: header(&response, "retry-after"),
    };
    let body = if response.ok() && is_binary(&content_type) {
        let blob = JsFuture::from(response.blob().map_err(fail)?)
            .await
            .map_err(fail)?;
        AnswerBody::Blob(blob.unchecked_into())
    } else {
        let text = JsFuture::from(response.text().map_err(fail)?)
            .await
            .map_err(fail)?;
        AnswerBody::Text(text.as_string().unwrap_or_default())
    };
    Ok(Answer {
        meta,
        content_type,
        body,
    })
}
