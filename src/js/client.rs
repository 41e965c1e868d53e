//! `InferenceClient` and the free functions: argument checks, one call per
//! task, and the typed results handed back to JavaScript.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::convert::{
    generated_text_to_js, is_absent, label_scores_to_js, model_arg, per_input_to_js, string_array,
    text_input_arg,
};
use super::fetch::{Answer, AnswerBody, BodyStream};
use super::options::{call_options, CallOptions, ClientConfig};
use super::payload::{checked_parameters, image_payload, query_payload, Payload};
use super::stream::{failed_opening, not_a_stream, open_stream};
use super::transport::{Delivery, Route, Shared};
use crate::protocol::error::{embedded_error, ErrorCode, InferenceError};
use crate::protocol::json::Json;
use crate::protocol::response::{
    parse_image_classification, parse_text_classification, parse_text_generation, parse_zero_shot,
};
use crate::protocol::task::{
    chat_body, text_body, text_stream_body, validate_candidate_labels, validate_model_id,
    zero_shot_body, TextInput,
};

thread_local! {
    static TOKEN_WARNING_SHOWN: Cell<bool> = const { Cell::new(false) };
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn console_warn(message: &str);
}

/// A token in a page's script is readable by anyone who opens the page: say
/// so once per page. Workers and Node have no `document`, so stay quiet there.
fn warn_if_token_in_page(config: &ClientConfig) {
    let in_page =
        js_sys::Reflect::has(&js_sys::global(), &JsValue::from_str("document")).unwrap_or(false);
    if config.has_token() && in_page && !TOKEN_WARNING_SHOWN.with(|shown| shown.replace(true)) {
        console_warn(
            "hf-inference-wasm: the access token given to InferenceClient is visible to anyone who can \
             open this page. Keep it server-side: deploy the proxy worker and set `endpoint` to its URL \
             with no token.",
        );
    }
}

/// Wraps a call into a Promise whose rejection is always an `InferenceError`.
///
/// Boxed, so that every method shares one copy of the promise machinery
/// instead of one monomorphised per method.
fn promise(call: impl Future<Output = Result<JsValue, InferenceError>> + 'static) -> Promise {
    spawn_promise(Box::pin(call))
}

fn spawn_promise(call: Pin<Box<dyn Future<Output = Result<JsValue, InferenceError>>>>) -> Promise {
    future_to_promise(async move { call.await.map_err(JsValue::from) })
}

/// Gives every error of a call its model, and the status and request id of
/// the answer a result could not be read from.
fn tag<T>(
    result: Result<T, InferenceError>,
    model: &str,
    answer: Option<&Answer>,
) -> Result<T, InferenceError> {
    result.map_err(|mut err| {
        err.model = Some(model.to_owned());
        if let Some(answer) = answer {
            err.status = err.status.or(Some(answer.meta.status));
            err.request_id = err.request_id.or_else(|| answer.meta.request_id.clone());
            err.attempts = err.attempts.max(1);
        }
        err
    })
}

fn checked_model(value: &JsValue) -> Result<String, InferenceError> {
    let model = model_arg(value)?;
    validate_model_id(&model)?;
    Ok(model)
}

/// A Hugging Face inference client.
#[wasm_bindgen]
pub struct InferenceClient {
    shared: Rc<Shared>,
}

impl InferenceClient {
    fn build(options: &JsValue) -> Result<InferenceClient, InferenceError> {
        let config = ClientConfig::from_js(options)?;
        warn_if_token_in_page(&config);
        Ok(InferenceClient {
            shared: Rc::new(Shared::new(config)),
        })
    }
}

/// Turns a delivered stream answer into its body stream. A 2xx that is not
/// an event stream (a JSON error, a model that does not stream) is read and
/// reported instead of ending the stream silently.
async fn into_stream(delivery: Delivery) -> Result<BodyStream, InferenceError> {
    let in_flight = match delivery {
        Delivery::Stream(in_flight) => in_flight,
        Delivery::Whole(_) => return Err(not_a_stream()),
    };
    if in_flight.content_type.contains("event-stream") {
        return in_flight.into_body_stream();
    }
    let answer = in_flight.read_whole().await?;
    let embedded = Json::parse(answer.text())
        .ok()
        .and_then(|json| embedded_error(&json));
    let mut err = match embedded {
        Some(err) => err,
        None => InferenceError::new(
            ErrorCode::BadResponse,
            format!(
                "expected an event stream, got {}",
                if answer.content_type.is_empty() {
                    "no content type"
                } else {
                    answer.content_type.as_str()
                }
            ),
        ),
    };
    err.status = Some(answer.meta.status);
    err.request_id = answer.meta.request_id.clone();
    Err(err)
}

/// Sends a streamed call (to the task route of `task`, else the chat route)
/// and hands over its body, with errors tagged with `model`.
async fn stream_body(
    shared: &Shared,
    task: Option<&str>,
    call: &CallOptions,
    body: String,
    model: String,
) -> Result<(BodyStream, String), InferenceError> {
    let route = task.map_or(Route::Chat, Route::Task);
    let delivered = shared.deliver(route, call, Payload::json(body), true).await;
    let body = tag(
        into_stream(tag(delivered, &model, None)?).await,
        &model,
        None,
    )?;
    Ok((body, model))
}

/// Reads an OpenAI chat request object: its model and the body to send.
fn chat_request_arg(request: &JsValue, stream: bool) -> Result<(String, String), InferenceError> {
    let refuse = || {
        InferenceError::invalid_input(
            "request",
            "must be an OpenAI chat request object {model, messages, ...}",
        )
    };
    if !request.is_object() || js_sys::Array::is_array(request) {
        return Err(refuse());
    }
    let text = js_sys::JSON::stringify(request)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| InferenceError::invalid_input("request", "cannot be serialised to JSON"))?;
    let json = Json::parse(&text).map_err(|_| refuse())?;
    chat_body(&json, stream)
}

#[wasm_bindgen]
impl InferenceClient {
    /// Creates a client from `ClientOptions` (all optional).
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<InferenceClient, JsValue> {
        Ok(InferenceClient::build(&options)?)
    }

    /// Sends an OpenAI chat request (model inside) to
    /// `${chatEndpoint}/chat/completions` and returns its answer as sent.
    #[wasm_bindgen(js_name = chatCompletion)]
    pub fn chat_completion(&self, request: JsValue, call_options: JsValue) -> Promise {
        let shared = self.shared.clone();
        promise(async move {
            let (model, body) = chat_request_arg(&request, false)?;
            let call = tag(call_options_arg(&call_options, &shared), &model, None)?;
            let delivered = shared
                .deliver(Route::Chat, &call, Payload::json(body), false)
                .await;
            let Delivery::Whole(answer) = tag(delivered, &model, None)? else {
                return Err(not_a_stream());
            };
            let value = js_sys::JSON::parse(answer.text())
                .ok()
                .filter(|v| js_sys::Reflect::has(v, &JsValue::from_str("choices")).unwrap_or(false))
                .ok_or_else(|| {
                    InferenceError::new(
                        ErrorCode::BadResponse,
                        "the chat answer is not a chat completion ({choices, ...})",
                    )
                });
            tag(value, &model, Some(&answer))
        })
    }

    /// Streams a chat completion: an async iterator of OpenAI chunks.
    #[wasm_bindgen(js_name = chatCompletionStream)]
    pub fn chat_completion_stream(&self, request: JsValue, call_options: JsValue) -> JsValue {
        let shared = self.shared.clone();
        open_stream(move |cancel| {
            Box::pin(async move {
                let (model, body) = chat_request_arg(&request, true)?;
                let mut call = tag(call_options_arg(&call_options, &shared), &model, None)?;
                call.signals.push(cancel);
                stream_body(&shared, None, &call, body, model).await
            })
        })
    }

    /// Streams a text generation (TGI): an async iterator of
    /// `{token, generated_text, details}` chunks.
    #[wasm_bindgen(js_name = textGenerationStream)]
    pub fn text_generation_stream(
        &self,
        model: JsValue,
        prompt: JsValue,
        params: JsValue,
        call_options: JsValue,
    ) -> JsValue {
        let shared = self.shared.clone();
        open_stream(move |cancel| {
            Box::pin(async move {
                let model = checked_model(&model)?;
                let (prompt, params, mut call) = tag(
                    prompt_call_args(&prompt, &params, &call_options, &shared),
                    &model,
                    None,
                )?;
                call.signals.push(cancel);
                let body = text_stream_body(&prompt, params.as_ref());
                let task = model.clone();
                stream_body(&shared, Some(&task), &call, body, model).await
            })
        })
    }

    /// Sends `payload` (JSON-serialisable, or bytes) to the model as is, and
    /// returns parsed JSON, text, or a Blob for a binary answer.
    pub fn query(&self, model: JsValue, payload: JsValue, call_options: JsValue) -> Promise {
        let shared = self.shared.clone();
        promise(async move {
            let model = checked_model(&model)?;
            let call = tag(call_options_arg(&call_options, &shared), &model, None)?;
            let payload = tag(query_payload(&payload).await, &model, None)?;
            let answer = tag(shared.call(&model, &call, payload).await, &model, None)?;
            let value = match &answer.body {
                AnswerBody::Blob(blob) => Ok(blob.into()),
                AnswerBody::Text(text) if answer.content_type.contains("json") => {
                    js_sys::JSON::parse(text).map_err(|_| {
                        InferenceError::new(ErrorCode::BadResponse, "the answer is not valid JSON")
                    })
                }
                AnswerBody::Text(text) => Ok(JsValue::from_str(text)),
            };
            tag(value, &model, Some(&answer))
        })
    }

    /// Classifies a text, or each text of an array in one request.
    #[wasm_bindgen(js_name = textClassification)]
    pub fn text_classification(
        &self,
        model: JsValue,
        text: JsValue,
        params: JsValue,
        call_options: JsValue,
    ) -> Promise {
        let shared = self.shared.clone();
        promise(async move {
            let model = checked_model(&model)?;
            let (input, params, call) = tag(
                text_call_args(&text, &params, &call_options, &shared),
                &model,
                None,
            )?;
            let own_options = !is_absent(&call_options);
            if let (Some(config), TextInput::One(text), false) =
                (shared.config.batch, &input, own_options)
            {
                // Micro-batching: one request for the texts of a short window.
                let key = format!(
                    "{model}\n{}",
                    params
                        .as_ref()
                        .map(Json::to_json_string)
                        .unwrap_or_default()
                );
                let send = |texts: Vec<String>| {
                    let (shared, model, params, call) =
                        (shared.clone(), model.clone(), params.clone(), call.clone());
                    Box::pin(async move {
                        let many = TextInput::Many(texts);
                        let body = Payload::json(text_body(&many, params.as_ref()));
                        let answer = tag(shared.call(&model, &call, body).await, &model, None)?;
                        tag(
                            parse_text_classification(answer.text(), many.len()),
                            &model,
                            Some(&answer),
                        )
                    }) as Pin<Box<dyn std::future::Future<Output = _>>>
                };
                let list = shared.batches.run(key, text.clone(), config, send).await?;
                return Ok(label_scores_to_js(&list));
            }
            let body = Payload::json(text_body(&input, params.as_ref()));
            let answer = tag(
                shared.call_shared(&model, &call, body, own_options).await,
                &model,
                None,
            )?;
            let lists = tag(
                parse_text_classification(answer.text(), input.len()),
                &model,
                Some(&answer),
            )?;
            Ok(per_input_to_js(&input, lists))
        })
    }

    /// Continues a prompt; unknown parameters (gpt2's `max_length`) pass through.
    #[wasm_bindgen(js_name = textGeneration)]
    pub fn text_generation(
        &self,
        model: JsValue,
        prompt: JsValue,
        params: JsValue,
        call_options: JsValue,
    ) -> Promise {
        let shared = self.shared.clone();
        promise(async move {
            let model = checked_model(&model)?;
            let args = prompt_call_args(&prompt, &params, &call_options, &shared);
            let (prompt, params, call) = tag(args, &model, None)?;
            let input = TextInput::One(prompt);
            let answer = tag(
                shared
                    .call(
                        &model,
                        &call,
                        Payload::json(text_body(&input, params.as_ref())),
                    )
                    .await,
                &model,
                None,
            )?;
            let result = tag(parse_text_generation(answer.text()), &model, Some(&answer))?;
            Ok(generated_text_to_js(&result))
        })
    }

    /// Classifies an image sent as raw bytes (`Blob`, `ArrayBuffer` or `Uint8Array`).
    #[wasm_bindgen(js_name = classifyImage)]
    pub fn classify_image(
        &self,
        model: JsValue,
        image: JsValue,
        params: JsValue,
        call_options: JsValue,
    ) -> Promise {
        let shared = self.shared.clone();
        promise(async move {
            let model = checked_model(&model)?;
            let payload = tag(image_payload(&image, &params).await, &model, None)?;
            let call = tag(call_options_arg(&call_options, &shared), &model, None)?;
            let own_options = !is_absent(&call_options);
            let answer = tag(
                shared
                    .call_shared(&model, &call, payload, own_options)
                    .await,
                &model,
                None,
            )?;
            let list = tag(
                parse_image_classification(answer.text()),
                &model,
                Some(&answer),
            )?;
            Ok(label_scores_to_js(&list))
        })
    }

    /// Scores a text (or each text of an array) against `candidate_labels`,
    /// highest first.
    #[wasm_bindgen(js_name = zeroShot)]
    pub fn zero_shot(
        &self,
        model: JsValue,
        text: JsValue,
        candidate_labels: JsValue,
        params: JsValue,
        call_options: JsValue,
    ) -> Promise {
        let shared = self.shared.clone();
        promise(async move {
            let model = checked_model(&model)?;
            let args = text_call_args(&text, &params, &call_options, &shared).and_then(|args| {
                let labels = string_array(&candidate_labels, "candidate_labels")?;
                validate_candidate_labels(&labels)?;
                Ok((args, labels))
            });
            let ((input, params, call), labels) = tag(args, &model, None)?;
            let body = Payload::json(zero_shot_body(&input, &labels, params.as_ref()));
            let own_options = !is_absent(&call_options);
            let answer = tag(
                shared.call_shared(&model, &call, body, own_options).await,
                &model,
                None,
            )?;
            let lists = tag(
                parse_zero_shot(answer.text(), input.len()),
                &model,
                Some(&answer),
            )?;
            Ok(per_input_to_js(&input, lists))
        })
    }
}

fn call_options_arg(value: &JsValue, shared: &Shared) -> Result<CallOptions, InferenceError> {
    call_options(value, &shared.config.defaults, "callOptions")
}

/// Reads a prompt (one non-empty string), parameters and call options.
fn prompt_call_args(
    prompt: &JsValue,
    params: &JsValue,
    call_options: &JsValue,
    shared: &Shared,
) -> Result<(String, Option<Json>, CallOptions), InferenceError> {
    let prompt = prompt
        .as_string()
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| InferenceError::invalid_input("prompt", "must be a non-empty string"))?;
    Ok((
        prompt,
        checked_parameters(params)?,
        call_options_arg(call_options, shared)?,
    ))
}

/// Reads a text or array of texts, parameters and call options.
fn text_call_args(
    text: &JsValue,
    params: &JsValue,
    call_options: &JsValue,
    shared: &Shared,
) -> Result<(TextInput, Option<Json>, CallOptions), InferenceError> {
    let input = text_input_arg(text, "text")?;
    input.validate("text")?;
    Ok((
        input,
        checked_parameters(params)?,
        call_options_arg(call_options, shared)?,
    ))
}

/// Runs one method on a client built from `options`; bad options reject.
fn with_client(options: JsValue, run: impl FnOnce(&InferenceClient) -> Promise) -> Promise {
    match InferenceClient::build(&options) {
        Ok(client) => run(&client),
        Err(err) => Promise::reject(&err.into()),
    }
}

/// Opens a stream on a client built from `options`; bad options reject the first pull.
fn stream_with_client(options: JsValue, run: impl FnOnce(&InferenceClient) -> JsValue) -> JsValue {
    match InferenceClient::build(&options) {
        Ok(client) => run(&client),
        Err(err) => open_stream(|_| failed_opening(err)),
    }
}

/// `chatCompletion` without a client.
#[wasm_bindgen(js_name = chatCompletion)]
pub fn chat_completion_fn(request: JsValue, options: JsValue) -> Promise {
    with_client(options, |c| c.chat_completion(request, JsValue::UNDEFINED))
}

/// `chatCompletionStream` without a client.
#[wasm_bindgen(js_name = chatCompletionStream)]
pub fn chat_completion_stream_fn(request: JsValue, options: JsValue) -> JsValue {
    stream_with_client(options, |c| {
        c.chat_completion_stream(request, JsValue::UNDEFINED)
    })
}

/// `textGenerationStream` without a client.
#[wasm_bindgen(js_name = textGenerationStream)]
pub fn text_generation_stream_fn(
    model: JsValue,
    prompt: JsValue,
    params: JsValue,
    options: JsValue,
) -> JsValue {
    stream_with_client(options, |c| {
        c.text_generation_stream(model, prompt, params, JsValue::UNDEFINED)
    })
}

/// `query` without a client: `options` are `ClientOptions`.
#[wasm_bindgen(js_name = query)]
pub fn query_fn(model: JsValue, payload: JsValue, options: JsValue) -> Promise {
    with_client(options, |c| c.query(model, payload, JsValue::UNDEFINED))
}

/// `textClassification` without a client.
#[wasm_bindgen(js_name = textClassification)]
pub fn text_classification_fn(
    model: JsValue,
    text: JsValue,
    params: JsValue,
    options: JsValue,
) -> Promise {
    with_client(options, |c| {
        c.text_classification(model, text, params, JsValue::UNDEFINED)
    })
}

/// `textGeneration` without a client.
#[wasm_bindgen(js_name = textGeneration)]
pub fn text_generation_fn(
    model: JsValue,
    prompt: JsValue,
    params: JsValue,
    options: JsValue,
) -> Promise {
    with_client(options, |c| {
        c.text_generation(model, prompt, params, JsValue::UNDEFINED)
    })
}

/// `classifyImage` without a client.
#[wasm_bindgen(js_name = classifyImage)]
pub fn classify_image_fn(
    model: JsValue,
    image: JsValue,
    params: JsValue,
    options: JsValue,
) -> Promise {
    with_client(options, |c| {
        c.classify_image(model, image, params, JsValue::UNDEFINED)
    })
}

/// `zeroShot` without a client.
#[wasm_bindgen(js_name = zeroShot)]
pub fn zero_shot_fn(
    model: JsValue,
    text: JsValue,
    candidate_labels: JsValue,
    params: JsValue,
    options: JsValue,
) -> Promise {
    with_client(options, |c| {
        c.zero_shot(model, text, candidate_labels, params, JsValue::UNDEFINED)
    })
}
