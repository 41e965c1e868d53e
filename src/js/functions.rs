//! The tasks of the JS API, shared by the `InferenceClient` methods and the
//! free functions: read the JS arguments, call the Rust client, return plain
//! JS values. Every call goes through one async function (`run`) over a
//! [`Job`], so the wasm holds one promise adapter, not one per task.

use std::rc::Rc;

use futures_util::future::FutureExt;
use js_sys::Promise;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::error::to_js_error;
use super::read;
use super::stream::stream_of;
use crate::client::json::to_js;
use crate::client::tasks::{Payload, Preserved, QueryAnswer};
use crate::client::Inner;
use crate::protocol::document::Document;
use crate::protocol::error::Error;
use crate::protocol::model::validate_model_id;
use crate::protocol::task::{read_labels, Inputs, Task};

/// One call of the JS API, its arguments as the caller gave them.
pub(crate) enum Job {
    Query {
        model: JsValue,
        payload: JsValue,
    },
    TextClassification {
        model: JsValue,
        text: JsValue,
        params: JsValue,
    },
    TextGeneration {
        model: JsValue,
        prompt: JsValue,
        params: JsValue,
    },
    ClassifyImage {
        model: JsValue,
        image: JsValue,
        params: JsValue,
    },
    ZeroShot {
        model: JsValue,
        text: JsValue,
        labels: JsValue,
        params: JsValue,
    },
    Chat {
        request: JsValue,
    },
}

/// The client a call runs on: a client's own, or one built from a free
/// function's options (whose errors reject the call).
pub(crate) enum Via {
    Client(Rc<Inner>),
    Options(JsValue),
}

impl Via {
    fn client(self) -> Result<Rc<Inner>, Error> {
        match self {
            Via::Client(inner) => Ok(inner),
            Via::Options(options) => Ok(read::client(&options)?.inner),
        }
    }
}

/// `value` as a JS value (lists of `{label, score}`, `{generated_text}`).
fn out<T: Serialize>(value: &T) -> JsValue {
    to_js(value).unwrap_or(JsValue::UNDEFINED)
}

#[derive(Serialize)]
struct GeneratedTextOut<'a> {
    generated_text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Preserved<'a>>,
}

/// The model of a chat request, for tagging its errors (when it has one).
fn chat_model(request: &JsValue) -> Option<String> {
    request.member("model").and_then(|m| m.as_string())
}

/// One list for one text, one list per text for several.
fn lists(mut lists: Vec<Vec<crate::Label>>, many: bool) -> JsValue {
    if many {
        out(&lists)
    } else {
        out(&lists.pop().unwrap_or_default())
    }
}

/// Runs `job`, and names its model in every error after the model id itself.
async fn run(via: Via, job: Job, call_options: JsValue) -> Result<JsValue, Error> {
    let inner = via.client()?;
    let model = match &job {
        Job::Chat { request } => chat_model(request),
        Job::Query { model, .. }
        | Job::TextClassification { model, .. }
        | Job::TextGeneration { model, .. }
        | Job::ClassifyImage { model, .. }
        | Job::ZeroShot { model, .. } => {
            let model = read::model(model)?;
            validate_model_id(&model)?;
            Some(model)
        }
    };
    let id = model.clone().unwrap_or_default();
    let result = perform(&inner, &id, job, call_options).await;
    result.map_err(|e| match &model {
        Some(model) => e.with_model(model),
        None => e,
    })
}

async fn perform(
    inner: &Rc<Inner>,
    model: &str,
    job: Job,
    call_options: JsValue,
) -> Result<JsValue, Error> {
    Ok(match job {
        Job::TextClassification { text, params, .. } => {
            let inputs = Inputs::read(&text, "text")?;
            let params = read::params(&params)?;
            let options = read::call_options(&call_options)?;
            let many = inputs.is_many();
            let found = inner
                .text_classification(model, inputs, params, options.as_ref())
                .await?;
            lists(found, many)
        }
        Job::ZeroShot {
            text,
            labels,
            params,
            ..
        } => {
            let inputs = Inputs::read(&text, "text")?;
            let labels = read_labels(&labels)?;
            let params = read::params(&params)?;
            let options = read::call_options(&call_options)?;
            let many = inputs.is_many();
            let found = inner
                .zero_shot(model, inputs, labels, params, options.as_ref())
                .await?;
            lists(found, many)
        }
        Job::ClassifyImage { image, params, .. } => {
            let image = read::image(&image)?;
            let params = read::params(&params)?;
            let options = read::call_options(&call_options)?;
            out(&inner
                .classify_image(model, image, params, options.as_ref())
                .await?)
        }
        Job::TextGeneration { prompt, params, .. } => {
            let prompt = read::prompt(&prompt)?;
            let params = read::params(&params)?;
            let options = read::call_options(&call_options)?;
            let generated = inner
                .text_generation(model, &prompt, params, options.as_ref())
                .await?;
            out(&GeneratedTextOut {
                generated_text: &generated.generated_text,
                details: generated.details.as_ref().map(Preserved),
            })
        }
        Job::Query { payload, .. } => {
            let options = read::call_options(&call_options)?;
            if payload.is_undefined() {
                return Err(Error::invalid_input("payload", "is required"));
            }
            let payload = match read::bytes(&payload) {
                Some(bytes) => Payload::Bytes(bytes),
                None => Payload::Json(payload),
            };
            match inner.query(model, payload, options.as_ref()).await? {
                QueryAnswer::Json(doc) => doc,
                QueryAnswer::Text(text) => JsValue::from_str(&text),
                QueryAnswer::Blob(blob) => blob.into(),
            }
        }
        Job::Chat { request } => {
            let options = read::call_options(&call_options)?;
            inner.chat_completion(&request, options.as_ref()).await?
        }
    })
}

/// Starts `job`: a promise of its result, rejected with an `InferenceError`.
pub(crate) fn call(via: Via, job: Job, call_options: JsValue) -> Promise {
    future_to_promise(async move {
        run(via, job, call_options)
            .await
            .map_err(|e| to_js_error(&e))
    })
}

/// `chatCompletionStream`: nothing is sent before the first `next()`, and
/// bad options reject it.
pub(crate) fn chat_completion_stream(via: Via, request: JsValue, options: JsValue) -> JsValue {
    stream_of(move |cancel| {
        async move {
            let inner = via.client()?;
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
        }
        .boxed_local()
    })
}

/// `textGenerationStream`: nothing is sent before the first `next()`, and
/// bad options reject it.
pub(crate) fn text_generation_stream(
    via: Via,
    model: JsValue,
    prompt: JsValue,
    params: JsValue,
    options: JsValue,
) -> JsValue {
    stream_of(move |cancel| {
        async move {
            let inner = via.client()?;
            let model = read::model(&model)?;
            let opened = async {
                // The model first, as every task checks it.
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
        }
        .boxed_local()
    })
}

/// Sends a payload as is: parsed JSON back, text, or a `Blob` for a binary answer.
#[wasm_bindgen(js_name = query)]
pub fn query_fn(model: JsValue, payload: JsValue, options: JsValue) -> Promise {
    call(
        Via::Options(options),
        Job::Query { model, payload },
        JsValue::UNDEFINED,
    )
}

/// Text classification: `[{label, score}]` (one list per text for `text[]`).
#[wasm_bindgen(js_name = textClassification)]
pub fn text_classification_fn(
    model: JsValue,
    text: JsValue,
    params: JsValue,
    options: JsValue,
) -> Promise {
    let job = Job::TextClassification {
        model,
        text,
        params,
    };
    call(Via::Options(options), job, JsValue::UNDEFINED)
}

/// Text generation: `{generated_text, details?}`.
#[wasm_bindgen(js_name = textGeneration)]
pub fn text_generation_fn(
    model: JsValue,
    prompt: JsValue,
    params: JsValue,
    options: JsValue,
) -> Promise {
    let job = Job::TextGeneration {
        model,
        prompt,
        params,
    };
    call(Via::Options(options), job, JsValue::UNDEFINED)
}

/// Image classification of raw image bytes: `[{label, score}]`.
#[wasm_bindgen(js_name = classifyImage)]
pub fn classify_image_fn(
    model: JsValue,
    image: JsValue,
    params: JsValue,
    options: JsValue,
) -> Promise {
    let job = Job::ClassifyImage {
        model,
        image,
        params,
    };
    call(Via::Options(options), job, JsValue::UNDEFINED)
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
    let job = Job::ZeroShot {
        model,
        text,
        labels,
        params,
    };
    call(Via::Options(options), job, JsValue::UNDEFINED)
}

/// An OpenAI chat completion.
#[wasm_bindgen(js_name = chatCompletion)]
pub fn chat_completion_fn(request: JsValue, options: JsValue) -> Promise {
    call(
        Via::Options(options),
        Job::Chat { request },
        JsValue::UNDEFINED,
    )
}

/// A streamed OpenAI chat completion; bad options reject the first `next()`.
#[wasm_bindgen(js_name = chatCompletionStream)]
pub fn chat_completion_stream_fn(request: JsValue, options: JsValue) -> JsValue {
    chat_completion_stream(Via::Options(options), request, JsValue::UNDEFINED)
}

/// A streamed text generation; bad options reject the first `next()`.
#[wasm_bindgen(js_name = textGenerationStream)]
pub fn text_generation_stream_fn(
    model: JsValue,
    prompt: JsValue,
    params: JsValue,
    options: JsValue,
) -> JsValue {
    let via = Via::Options(options);
    text_generation_stream(via, model, prompt, params, JsValue::UNDEFINED)
}
