//! The tasks of the JS API, shared by the `InferenceClient` methods and the
//! free functions: read the JS arguments, call the Rust client, return plain
//! JS values. The free functions build a client from their last argument.

use std::rc::Rc;

use js_sys::Promise;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::error::to_js_error;
use super::read;
use super::stream::{failed_stream, stream_of};
use crate::client::json::to_js;
use crate::client::tasks::{Payload, Preserved, QueryAnswer};
use crate::client::Inner;
use crate::protocol::error::Error;
use crate::protocol::model::validate_model_id;
use crate::protocol::task::{read_labels, Inputs, Task};

/// `value` as a JS value (lists of `{label, score}`, `{generated_text}`).
fn out<T: Serialize>(value: &T) -> JsValue {
    to_js(value).unwrap_or(JsValue::UNDEFINED)
}

/// Runs a task given its model argument: the model is read and checked
/// first, and every later error names it.
async fn with_model<F, Fut>(model: &JsValue, task: F) -> Result<JsValue, JsValue>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<JsValue, Error>>,
{
    let model = read::model(model)
        .and_then(|m| validate_model_id(&m).map(|()| m))
        .map_err(|e| to_js_error(&e))?;
    task(model.clone())
        .await
        .map_err(|e| to_js_error(&e.with_model(&model)))
}

pub(crate) async fn text_classification(
    inner: Rc<Inner>,
    model: JsValue,
    text: JsValue,
    params: JsValue,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    with_model(&model, |model| async move {
        let inputs = Inputs::read(&text, "text")?;
        let params = read::params(&params)?;
        let options = read::call_options(&options)?;
        let many = inputs.is_many();
        let mut lists = inner
            .text_classification(&model, inputs, params, options.as_ref())
            .await?;
        Ok(if many {
            out(&lists)
        } else {
            out(&lists.pop().unwrap_or_default())
        })
    })
    .await
}

pub(crate) async fn zero_shot(
    inner: Rc<Inner>,
    model: JsValue,
    text: JsValue,
    labels: JsValue,
    params: JsValue,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    with_model(&model, |model| async move {
        let inputs = Inputs::read(&text, "text")?;
        let labels = read_labels(&labels)?;
        let params = read::params(&params)?;
        let options = read::call_options(&options)?;
        let many = inputs.is_many();
        let mut lists = inner
            .zero_shot(&model, inputs, labels, params, options.as_ref())
            .await?;
        Ok(if many {
            out(&lists)
        } else {
            out(&lists.pop().unwrap_or_default())
        })
    })
    .await
}

pub(crate) async fn classify_image(
    inner: Rc<Inner>,
    model: JsValue,
    image: JsValue,
    params: JsValue,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    with_model(&model, |model| async move {
        let image = read::image(&image)?;
        let params = read::params(&params)?;
        let options = read::call_options(&options)?;
        let labels = inner
            .classify_image(&model, image, params, options.as_ref())
            .await?;
        Ok(out(&labels))
    })
    .await
}

#[derive(Serialize)]
struct GeneratedTextOut<'a> {
    generated_text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Preserved<'a>>,
}

pub(crate) async fn text_generation(
    inner: Rc<Inner>,
    model: JsValue,
    prompt: JsValue,
    params: JsValue,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    with_model(&model, |model| async move {
        let prompt = read::prompt(&prompt)?;
        let params = read::params(&params)?;
        let options = read::call_options(&options)?;
        let generated = inner
            .text_generation(&model, &prompt, params, options.as_ref())
            .await?;
        Ok(out(&GeneratedTextOut {
            generated_text: &generated.generated_text,
            details: generated.details.as_ref().map(Preserved),
        }))
    })
    .await
}

pub(crate) async fn query(
    inner: Rc<Inner>,
    model: JsValue,
    payload: JsValue,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    with_model(&model, |model| async move {
        let options = read::call_options(&options)?;
        if payload.is_undefined() {
            return Err(Error::invalid_input("payload", "is required"));
        }
        let payload = match read::bytes(&payload) {
            Some(bytes) => Payload::Bytes(bytes),
            None => Payload::Json(payload),
        };
        Ok(
            match inner.query(&model, payload, options.as_ref()).await? {
                QueryAnswer::Json(doc) => doc,
                QueryAnswer::Text(text) => JsValue::from_str(&text),
                QueryAnswer::Blob(blob) => blob.into(),
            },
        )
    })
    .await
}

/// The model of a chat request, for tagging its errors (when it has one).
fn chat_model(request: &JsValue) -> Option<String> {
    crate::protocol::document::Document::member(request, "model").and_then(|m| m.as_string())
}

pub(crate) async fn chat_completion(
    inner: Rc<Inner>,
    request: JsValue,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    let model = chat_model(&request);
    let run = async {
        let options = read::call_options(&options)?;
        inner.chat_completion(&request, options.as_ref()).await
    };
    run.await.map_err(|e| {
        let e = match &model {
            Some(model) => e.with_model(model),
            None => e,
        };
        to_js_error(&e)
    })
}

/// `chatCompletionStream`: nothing is sent before the first `next()`.
pub(crate) fn chat_completion_stream(
    inner: Rc<Inner>,
    request: JsValue,
    options: JsValue,
) -> JsValue {
    stream_of(move |cancel| async move {
        let model = chat_model(&request);
        let opened = async {
            let (model, body) = Inner::chat_stream_body(&request)?;
            let options = read::stream_options(&options, cancel)?;
            inner
                .open_stream(Task::Chat, model, body, Some(options))
                .await
        };
        opened.await.map_err(|e| match &model {
            Some(model) => e.with_model(model),
            None => e,
        })
    })
}

/// `textGenerationStream`: nothing is sent before the first `next()`.
pub(crate) fn text_generation_stream(
    inner: Rc<Inner>,
    model: JsValue,
    prompt: JsValue,
    params: JsValue,
    options: JsValue,
) -> JsValue {
    stream_of(move |cancel| async move {
        let model = read::model(&model)?;
        let opened = async {
            validate_model_id(&model)?;
            let prompt = read::prompt(&prompt)?;
            let params = read::params(&params)?;
            let options = read::stream_options(&options, cancel)?;
            let body = Inner::generation_stream_body(&model, &prompt, params.as_ref())?;
            inner
                .open_stream(Task::TextGeneration, model.clone(), body, Some(options))
                .await
        };
        opened.await.map_err(|e| e.with_model(&model))
    })
}

/// A client from a free function's options, or the rejection its options earn.
fn client_of(options: &JsValue) -> Result<Rc<Inner>, JsValue> {
    read::client(options)
        .map(|client| client.inner)
        .map_err(|e| to_js_error(&e))
}

/// Runs one task on a client built from `options`; bad options reject.
fn once<F, Fut>(options: JsValue, run: F) -> Promise
where
    F: FnOnce(Rc<Inner>) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<JsValue, JsValue>> + 'static,
{
    future_to_promise(async move { run(client_of(&options)?).await })
}

/// Sends a payload as is: parsed JSON back, text, or a `Blob` for a binary answer.
#[wasm_bindgen(js_name = query)]
pub fn query_fn(model: JsValue, payload: JsValue, options: JsValue) -> Promise {
    once(options, |inner| {
        query(inner, model, payload, JsValue::UNDEFINED)
    })
}

/// Text classification: `[{label, score}]` (one list per text for `text[]`).
#[wasm_bindgen(js_name = textClassification)]
pub fn text_classification_fn(
    model: JsValue,
    text: JsValue,
    params: JsValue,
    options: JsValue,
) -> Promise {
    once(options, |inner| {
        text_classification(inner, model, text, params, JsValue::UNDEFINED)
    })
}

/// Text generation: `{generated_text, details?}`.
#[wasm_bindgen(js_name = textGeneration)]
pub fn text_generation_fn(
    model: JsValue,
    prompt: JsValue,
    params: JsValue,
    options: JsValue,
) -> Promise {
    once(options, |inner| {
        text_generation(inner, model, prompt, params, JsValue::UNDEFINED)
    })
}

/// Image classification of raw image bytes: `[{label, score}]`.
#[wasm_bindgen(js_name = classifyImage)]
pub fn classify_image_fn(
    model: JsValue,
    image: JsValue,
    params: JsValue,
    options: JsValue,
) -> Promise {
    once(options, |inner| {
        classify_image(inner, model, image, params, JsValue::UNDEFINED)
    })
}

/// Zero-shot classification: `[{label, score}]` sorted by score.
#[wasm_bindgen(js_name = zeroShot)]
pub fn zero_shot_fn(
    model: JsValue,
    text: JsValue,
    labels: JsValue,
    params: JsValue,
    options: JsValue,
) -> Promise {
    once(options, |inner| {
        zero_shot(inner, model, text, labels, params, JsValue::UNDEFINED)
    })
}

/// An OpenAI chat completion.
#[wasm_bindgen(js_name = chatCompletion)]
pub fn chat_completion_fn(request: JsValue, options: JsValue) -> Promise {
    once(options, |inner| {
        chat_completion(inner, request, JsValue::UNDEFINED)
    })
}

/// A streamed OpenAI chat completion; bad options reject the first `next()`.
#[wasm_bindgen(js_name = chatCompletionStream)]
pub fn chat_completion_stream_fn(request: JsValue, options: JsValue) -> JsValue {
    match client_of(&options) {
        Ok(inner) => chat_completion_stream(inner, request, JsValue::UNDEFINED),
        Err(error) => failed_stream(error),
    }
}

/// A streamed text generation; bad options reject the first `next()`.
#[wasm_bindgen(js_name = textGenerationStream)]
pub fn text_generation_stream_fn(
    model: JsValue,
    prompt: JsValue,
    params: JsValue,
    options: JsValue,
) -> JsValue {
    match client_of(&options) {
        Ok(inner) => text_generation_stream(inner, model, prompt, params, JsValue::UNDEFINED),
        Err(error) => failed_stream(error),
    }
}
