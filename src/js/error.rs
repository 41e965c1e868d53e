//! The one conversion of [`InferenceError`] into a JavaScript `InferenceError`.

use wasm_bindgen::prelude::*;

use crate::protocol::error::InferenceError;

#[wasm_bindgen(raw_module = "./inference_error.js")]
extern "C" {
    /// The exported JS class (a subclass of `Error`, so `instanceof` works).
    #[wasm_bindgen(js_name = InferenceError)]
    type JsInferenceError;

    #[wasm_bindgen(constructor, js_class = "InferenceError")]
    fn new(message: &str, code: &str, details: &js_sys::Object) -> JsInferenceError;
}

impl From<InferenceError> for JsValue {
    fn from(err: InferenceError) -> JsValue {
        let details = js_sys::Object::new();
        let set = |key: &str, value: JsValue| {
            // Setting a property on a fresh plain object cannot fail.
            let _ = js_sys::Reflect::set(&details, &JsValue::from_str(key), &value);
        };
        if let Some(status) = err.status {
            set("status", status.into());
        }
        if let Some(model) = &err.model {
            set("model", model.into());
        }
        if let Some(id) = &err.request_id {
            set("requestId", id.into());
        }
        set("attempts", err.attempts.into());
        if let Some(ms) = err.retry_after_ms {
            set("retryAfterMs", (ms as f64).into());
        }
        JsInferenceError::new(&err.message, err.code.as_str(), &details).into()
    }
}
