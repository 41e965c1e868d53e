//! The one conversion of the crate's [`Error`] into JavaScript: an instance
//! of the package's `InferenceError` class (a subclass of `Error`, so
//! `instanceof` works), with `code`, `status`, `model`, `requestId`,
//! `attempts` and `retryAfterMs`.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::client::json::{safe_some, Members};
use crate::protocol::error::Error;

#[wasm_bindgen(module = "/pkg-template/inference_error.js")]
extern "C" {
    #[wasm_bindgen(js_name = InferenceError)]
    type JsInferenceError;

    #[wasm_bindgen(constructor, js_class = InferenceError)]
    fn new(message: &str, code: &str, details: &JsValue) -> JsInferenceError;
}

/// `error` as a JS `InferenceError`.
pub(crate) fn to_js_error(error: &Error) -> JsValue {
    let details = details(error).unwrap_or(JsValue::UNDEFINED);
    JsInferenceError::new(error.message(), error.code().as_str(), &details).into()
}

/// The details of `error`: `{status?, model?, requestId?, attempts,
/// retryAfterMs?, failures?}`, each failure `{provider, status?, code,
/// message}`; `Err` for a wait past `Number.MAX_SAFE_INTEGER`, which leaves
/// out the details as serde-wasm-bindgen's serializer did.
fn details(error: &Error) -> Result<JsValue, ()> {
    let details = Members::new();
    details.some_number("status", error.status().map(f64::from));
    details.some_text("model", error.model());
    details.some_text("requestId", error.request_id());
    details.number("attempts", f64::from(error.attempts()));
    details.some_number("retryAfterMs", safe_some(error.retry_after_ms())?);
    if !error.failures().is_empty() {
        // Pushed in a loop: each `collect::<Array>()` is its own copy of
        // js-sys's `Extend` in the wasm.
        let failures = Array::new();
        for f in error.failures() {
            let failure = Members::new();
            failure.text("provider", &f.provider);
            failure.some_number("status", f.status.map(f64::from));
            failure.text("code", f.code.as_str());
            failure.text("message", &f.message);
            failures.push(&failure.into_value());
        }
        details.set("failures", &failures);
    }
    Ok(details.into_value())
}
