//! The least a Rust client on this stack can do for one `textClassification`:
//! build the request, `fetch`, `Response.json()`, read each `{label, score}`
//! and write it back as a new object. No options, retries, de-duplication or
//! error mapping: what it costs beyond raw `fetch` is the stack's own cost, the
//! floor under the client's figure. Two forms: an `async fn` awaiting both
//! promises (as the client does), and the same work as a promise chain with no
//! Rust future.

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestInit, Response};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_with_init(url: &str, init: &RequestInit) -> Promise;

    /// `Promise.prototype.then.call(promise, f)`.
    #[wasm_bindgen(js_namespace = ["Promise", "prototype", "then"], js_name = call)]
    fn then(promise: &Promise, f: &JsValue) -> Promise;
}

/// A POST of `{"inputs": text}` as JSON.
fn request(text: String) -> Result<RequestInit, JsValue> {
    let body = Object::new();
    Reflect::set(&body, &"inputs".into(), &text.into())?;
    let headers = Object::new();
    Reflect::set(&headers, &"content-type".into(), &"application/json".into())?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&js_sys::JSON::stringify(&body)?.into());
    Ok(init)
}

/// `[[{label, score}]]` read and written back as new objects.
fn labels(doc: JsValue) -> Result<JsValue, JsValue> {
    let out = Array::new();
    for list in doc.dyn_into::<Array>()?.iter() {
        let labels = Array::new();
        for item in list.dyn_into::<Array>()?.iter() {
            let label = Reflect::get(&item, &"label".into())?
                .as_string()
                .ok_or("label")?;
            let score = Reflect::get(&item, &"score".into())?
                .as_f64()
                .ok_or("score")?;
            let copy = Object::new();
            Reflect::set(&copy, &"label".into(), &label.into())?;
            Reflect::set(&copy, &"score".into(), &score.into())?;
            labels.push(&copy);
        }
        out.push(&labels);
    }
    Ok(out.into())
}

/// One call as an `async fn` awaiting `fetch` and `Response.json()`.
#[wasm_bindgen(js_name = textClassification)]
pub async fn text_classification(url: String, text: String) -> Result<JsValue, JsValue> {
    let init = request(text)?;
    let response: Response = JsFuture::from(fetch_with_init(&url, &init))
        .await?
        .unchecked_into();
    if !response.ok() {
        return Err(JsValue::from_str("not a 2xx answer"));
    }
    labels(JsFuture::from(response.json()?).await?)
}

/// The same call as a promise chain of Rust closures.
#[wasm_bindgen(js_name = textClassificationChain)]
pub fn text_classification_chain(url: String, text: String) -> Result<Promise, JsValue> {
    let init = request(text)?;
    let on_response = Closure::once(|response: JsValue| -> Result<JsValue, JsValue> {
        let response: Response = response.unchecked_into();
        if !response.ok() {
            return Err(JsValue::from_str("not a 2xx answer"));
        }
        Ok(response.json()?.into())
    })
    .into_js_value();
    let on_doc = Closure::once(labels).into_js_value();
    Ok(then(
        &then(&fetch_with_init(&url, &init), &on_response),
        &on_doc,
    ))
}
