//! The one conversion of the crate's [`Error`] into JavaScript: an instance
//! of the package's `InferenceError` class (a subclass of `Error`, so
//! `instanceof` works), with `code`, `status`, `model`, `requestId`,
//! `attempts` and `retryAfterMs`.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::client::json::to_js;
use crate::protocol::error::Error;

#[wasm_bindgen(module = "/pkg-template/inference_error.js")]
extern "C" {
    #[wasm_bindgen(js_name = InferenceError)]
    type JsInferenceError;

    #[wasm_bindgen(constructor, js_class = InferenceError)]
    fn new(message: &str, code: &str, details: &JsValue) -> JsInferenceError;
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Details<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    failures: Vec<Failure<'a>>,
}

/// One failed attempt of a call over providers, as `failures` lists it.
#[derive(Serialize)]
struct Failure<'a> {
    provider: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    code: &'a str,
    message: &'a str,
}

/// `error` as a JS `InferenceError`.
pub(crate) fn to_js_error(error: &Error) -> JsValue {
    let details = to_js(&Details {
        status: error.status(),
        model: error.model(),
        request_id: error.request_id(),
        attempts: error.attempts(),
        retry_after_ms: error.retry_after_ms(),
        failures: error
            .failures()
            .iter()
            .map(|f| Failure {
                provider: &f.provider,
                status: f.status,
                code: f.code.as_str(),
                message: &f.message,
            })
            .collect(),
    })
    .unwrap_or(JsValue::UNDEFINED);
    JsInferenceError::new(error.message(), error.code().as_str(), &details).into()
}
