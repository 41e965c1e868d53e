//! `InferenceClient` and the free functions: argument checks, one call per
//! task, and the typed results handed back to JavaScript.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::Blob;

use super::convert::{
    generated_text_to_js, label_scores_to_js, model_arg, parameters_arg, per_input_to_js,
    string_array, text_input_arg,
};
use super::fetch::{now_ms, sleep, start, Answer, AnswerBody, BodyStream, HttpRequest, InFlight};
use super::options::{call_options, CallOptions, ClientConfig, Endpoint};
use super::stream::{failed_opening, not_a_stream, open_stream};
use crate::policy::call::{CallPolicy, Next, Outcome};
use crate::policy::random::SplitMix64;
use crate::policy::retry::{retry_after_ms, Failure};
use crate::policy::route::{BreakerConfig, Router};
use crate::protocol::error::{error_from_response, ErrorCode, InferenceError, ResponseMeta};
use crate::protocol::json::Json;
use crate::protocol::response::{
    parse_image_classification, parse_text_classification, parse_text_generation, parse_zero_shot,
};
use crate::protocol::task::{
    chat_body, chat_url, image_json_body, sniff_image_type, task_url, text_body, text_stream_body,
    validate_candidate_labels, validate_model_id, validate_parameters, zero_shot_body, TextInput,
    SNIFF_BYTES,
};

const JSON_TYPE: &str = "application/json";

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

/// A request body and its content type.
struct Payload {
    body: JsValue,
    content_type: Option<String>,
}

impl Payload {
    fn json(text: String) -> Payload {
        Payload {
            body: JsValue::from_str(&text),
            content_type: Some(JSON_TYPE.to_owned()),
        }
    }
}

/// Binary input: a `Blob`, an `ArrayBuffer` or a `Uint8Array` (a Node `Buffer` is one).
enum Bytes {
    Blob(Blob),
    View(Uint8Array),
}

impl Bytes {
    fn from_js(value: &JsValue, argument: &str) -> Option<Result<Bytes, InferenceError>> {
        let bytes = if let Some(blob) = value.dyn_ref::<Blob>() {
            Bytes::Blob(blob.clone())
        } else if let Some(buffer) = value.dyn_ref::<ArrayBuffer>() {
            Bytes::View(Uint8Array::new(buffer))
        } else if let Some(view) = value.dyn_ref::<Uint8Array>() {
            Bytes::View(view.clone())
        } else {
            return None;
        };
        let empty = match &bytes {
            Bytes::Blob(blob) => blob.size() == 0.0,
            Bytes::View(view) => view.length() == 0,
        };
        Some(if empty {
            Err(InferenceError::invalid_input(
                argument,
                "is empty (0 bytes)",
            ))
        } else {
            Ok(bytes)
        })
    }

    /// The declared type of a Blob, else one sniffed from the first bytes.
    async fn content_type(&self) -> Result<Option<String>, InferenceError> {
        let head = match self {
            Bytes::Blob(blob) if !blob.type_().is_empty() => return Ok(Some(blob.type_())),
            Bytes::Blob(blob) => {
                let head = blob
                    .slice_with_i32_and_i32(0, SNIFF_BYTES as i32)
                    .map_err(read_error)?;
                Uint8Array::new(
                    &JsFuture::from(head.array_buffer())
                        .await
                        .map_err(read_error)?,
                )
                .to_vec()
            }
            Bytes::View(view) => view.subarray(0, SNIFF_BYTES as u32).to_vec(),
        };
        Ok(sniff_image_type(&head).map(str::to_owned))
    }

    /// A copy of all the bytes in wasm memory (only for JSON bodies that embed them).
    async fn to_vec(&self) -> Result<Vec<u8>, InferenceError> {
        Ok(match self {
            Bytes::Blob(blob) => Uint8Array::new(
                &JsFuture::from(blob.array_buffer())
                    .await
                    .map_err(read_error)?,
            )
            .to_vec(),
            Bytes::View(view) => view.to_vec(),
        })
    }

    /// The value fetch sends as is: no copy into wasm, no base64.
    fn into_body(self) -> JsValue {
        match self {
            Bytes::Blob(blob) => blob.into(),
            Bytes::View(view) => view.into(),
        }
    }
}

fn read_error(_: JsValue) -> InferenceError {
    InferenceError::invalid_input("image", "could not be read")
}

/// Wraps a call into a Promise whose rejection is always an `InferenceError`.
fn promise(call: impl Future<Output = Result<JsValue, InferenceError>> + 'static) -> Promise {
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

fn checked_parameters(value: &JsValue) -> Result<Option<Json>, InferenceError> {
    let parameters = parameters_arg(value)?;
    validate_parameters(parameters.as_ref())?;
    Ok(parameters)
}

/// The client state every call shares: its settings, endpoint health and
/// the random source of jitter and weighted choice.
struct Shared {
    config: ClientConfig,
    router: RefCell<Router>,
    chat_router: RefCell<Router>,
    random: RefCell<SplitMix64>,
}

/// What one attempt reports to `onAttempt`.
struct AttemptReport<'a> {
    endpoint: &'a str,
    attempt: u32,
    status: Option<u16>,
    code: Option<ErrorCode>,
    delay_ms: Option<u64>,
    duration_ms: u64,
    compute_time_ms: Option<f64>,
    request_id: Option<&'a str>,
}

impl AttemptReport<'_> {
    /// Calls `onAttempt` with an `AttemptInfo`; an observer that throws does
    /// not change the call's outcome.
    fn send_to(&self, on_attempt: Option<&Function>) {
        let Some(on_attempt) = on_attempt else { return };
        let info = Object::new();
        let set = |key: &str, value: JsValue| {
            let _ = Reflect::set(&info, &JsValue::from_str(key), &value);
        };
        set("endpoint", self.endpoint.into());
        set("attempt", self.attempt.into());
        if let Some(status) = self.status {
            set("status", status.into());
        }
        if let Some(code) = self.code {
            set("code", code.as_str().into());
        }
        if let Some(delay) = self.delay_ms {
            set("delayMs", (delay as f64).into());
        }
        set("durationMs", (self.duration_ms as f64).into());
        if let Some(compute) = self.compute_time_ms {
            set("computeTimeMs", compute.into());
        }
        if let Some(id) = self.request_id {
            set("requestId", id.into());
        }
        let _ = on_attempt.call1(&JsValue::UNDEFINED, &info);
    }
}

/// Where a call goes: a task route on the task endpoints, or the chat route
/// on the chat endpoints.
#[derive(Clone, Copy)]
enum Route<'a> {
    Task(&'a str),
    Chat,
}

/// A 2xx answer: read whole, or with its body still to stream.
enum Delivery {
    Whole(Answer),
    Stream(InFlight),
}

impl Delivery {
    fn meta(&self) -> &ResponseMeta {
        match self {
            Delivery::Whole(answer) => &answer.meta,
            Delivery::Stream(in_flight) => &in_flight.meta,
        }
    }
}

impl Shared {
    fn new(config: ClientConfig) -> Shared {
        let router = |endpoints: &[Endpoint]| {
            let weights: Vec<f64> = endpoints.iter().map(|e| e.weight).collect();
            RefCell::new(Router::new(&weights, BreakerConfig::default()))
        };
        // Jitter only has to differ between clients, not be secret.
        let seed = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64 ^ now_ms();
        Shared {
            router: router(&config.endpoints),
            chat_router: router(&config.chat_endpoints),
            random: RefCell::new(SplitMix64::new(seed)),
            config,
        }
    }

    /// One attempt at `endpoint`: its 2xx answer, or the error it ended with.
    async fn attempt(
        &self,
        endpoint: &Endpoint,
        route: Route<'_>,
        call: &CallOptions,
        payload: &Payload,
        timeout_ms: Option<u64>,
        stream: bool,
    ) -> Result<Delivery, (InferenceError, Option<ResponseMeta>)> {
        let url = match route {
            Route::Task(model) => task_url(&endpoint.url, model, endpoint.dedicated),
            Route::Chat => chat_url(&endpoint.url),
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        if let Some(content_type) = &payload.content_type {
            headers.push(("content-type".to_owned(), content_type.clone()));
        }
        if stream {
            headers.push(("accept".to_owned(), "text/event-stream".to_owned()));
        }
        for (name, value) in &call.headers {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            headers.push((name.clone(), value.clone()));
        }
        if let Some(bill_to) = &self.config.bill_to {
            headers.push(("x-hf-bill-to".to_owned(), bill_to.clone()));
        }
        if let Some(token) = endpoint.token.as_ref().or(self.config.token.as_ref()) {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
            headers.push(("authorization".to_owned(), token.authorization()));
        }
        let request = HttpRequest {
            url: &url,
            headers,
            body: &payload.body,
        };
        let in_flight = start(request, &call.signals, timeout_ms)
            .await
            .map_err(|e| (e, None))?;
        let ok = (200..300).contains(&in_flight.meta.status);
        if ok && stream {
            return Ok(Delivery::Stream(in_flight));
        }
        let answer = in_flight.read_whole().await.map_err(|e| (e, None))?;
        if ok {
            return Ok(Delivery::Whole(answer));
        }
        let retry_after = answer
            .meta
            .retry_after
            .as_deref()
            .and_then(|value| retry_after_ms(value, now_ms()));
        Err((
            error_from_response(&answer.meta, answer.text(), retry_after),
            Some(answer.meta),
        ))
    }

    /// Sends a task call and reads its whole answer.
    async fn call(
        &self,
        model: &str,
        call: &CallOptions,
        payload: Payload,
    ) -> Result<Answer, InferenceError> {
        match self
            .deliver(Route::Task(model), call, payload, false)
            .await?
        {
            Delivery::Whole(answer) => Ok(answer),
            Delivery::Stream(in_flight) => in_flight.read_whole().await,
        }
    }

    /// Sends a call under the retry policy, across the route's endpoints, and
    /// returns the first 2xx answer or the last error. The decisions are the
    /// pure `CallPolicy`'s; this loop only performs them. A stream is retried
    /// only until its answer starts: once delivered, it is the caller's.
    async fn deliver(
        &self,
        route: Route<'_>,
        call: &CallOptions,
        payload: Payload,
        stream: bool,
    ) -> Result<Delivery, InferenceError> {
        let (endpoints, router) = match route {
            Route::Task(_) => (&self.config.endpoints, &self.router),
            Route::Chat => (&self.config.chat_endpoints, &self.chat_router),
        };
        let mut policy = CallPolicy::new(call.retry, call.timeout_ms, now_ms());
        let mut last_status = None;
        loop {
            let (index, timeout) = {
                let mut random = self.random.borrow_mut();
                policy.start_attempt(&mut router.borrow_mut(), now_ms(), &mut *random)
            };
            let endpoint = &endpoints[index];
            let started = now_ms();
            let result = self
                .attempt(endpoint, route, call, &payload, timeout, stream)
                .await;
            let ended = now_ms();
            let (outcome, meta) = match &result {
                Ok(delivery) => (Outcome::Success, Some(delivery.meta())),
                Err((err, _)) if err.code == ErrorCode::Aborted => (Outcome::Aborted, None),
                Err((err, meta)) => {
                    let header_wait = meta
                        .as_ref()
                        .and_then(|m| m.retry_after.as_deref())
                        .and_then(|v| retry_after_ms(v, ended));
                    let failure = Failure {
                        code: err.code,
                        status: err.status,
                        retry_after_ms: header_wait,
                        // Without the header, an error's wait is a loading model's estimate.
                        estimated_ms: err.retry_after_ms.filter(|_| header_wait.is_none()),
                    };
                    (Outcome::Failed(failure), meta.as_ref())
                }
            };
            let next = {
                let mut random = self.random.borrow_mut();
                policy.finish_attempt(&mut router.borrow_mut(), ended, &outcome, &mut *random)
            };
            if let Some(meta) = meta {
                last_status = Some(meta.status);
            }
            let err = result.as_ref().err().map(|(err, _)| err);
            AttemptReport {
                endpoint: &endpoint.name,
                attempt: policy.attempts(),
                status: meta.map(|m| m.status),
                code: err.map(|e| e.code),
                delay_ms: match next {
                    Next::Wait(ms) => Some(ms),
                    _ => None,
                },
                duration_ms: ended.saturating_sub(started),
                compute_time_ms: meta.and_then(|m| m.compute_time_ms),
                request_id: meta.and_then(|m| m.request_id.as_deref()),
            }
            .send_to(call.on_attempt.as_ref());
            let finish = |mut err: InferenceError| {
                err.attempts = policy.attempts();
                err.status = err.status.or(last_status);
                err
            };
            match (next, result) {
                (Next::Wait(delay), _) => sleep(delay, &call.signals).await.map_err(finish)?,
                (_, Err((err, _))) => return Err(finish(err)),
                (_, Ok(delivery)) => return Ok(delivery),
            }
        }
    }
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
    let status = in_flight.meta.status;
    let answer = in_flight.read_whole().await?;
    let mut err = match Json::parse(answer.text()) {
        Ok(json) if json.get("error").is_some() => {
            error_from_response(&answer.meta, answer.text(), None)
        }
        _ => InferenceError::new(
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
    err.status = Some(status);
    err.request_id = answer.meta.request_id.clone();
    Err(err)
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
                let delivered = shared
                    .deliver(Route::Chat, &call, Payload::json(body), true)
                    .await;
                let body = tag(
                    into_stream(tag(delivered, &model, None)?).await,
                    &model,
                    None,
                )?;
                Ok((body, model))
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
                let (input, params, mut call) = tag(
                    prompt_call_args(&prompt, &params, &call_options, &shared),
                    &model,
                    None,
                )?;
                call.signals.push(cancel);
                let TextInput::One(prompt) = input else {
                    return Err(not_a_stream());
                };
                let body = text_stream_body(&prompt, params.as_ref());
                let delivered = shared
                    .deliver(Route::Task(&model), &call, Payload::json(body), true)
                    .await;
                let body = tag(
                    into_stream(tag(delivered, &model, None)?).await,
                    &model,
                    None,
                )?;
                Ok((body, model))
            })
        })
    }

    /// Sends `payload` (JSON-serialisable, or bytes) to the model as is, and
    /// returns parsed JSON, text, or a Blob for a binary answer.
    pub fn query(&self, model: JsValue, payload: JsValue, call_options: JsValue) -> Promise {
        let shared = self.shared.clone();
        promise(async move {
            let model = checked_model(&model)?;
            let call = call_options_arg(&call_options, &shared)?;
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
            let (input, params, call) = tag(args, &model, None)?;
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
            let answer = tag(shared.call(&model, &call, payload).await, &model, None)?;
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
            let body = zero_shot_body(&input, &labels, params.as_ref());
            let answer = tag(
                shared.call(&model, &call, Payload::json(body)).await,
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

fn prompt_call_args(
    prompt: &JsValue,
    params: &JsValue,
    call_options: &JsValue,
    shared: &Shared,
) -> Result<(TextInput, Option<Json>, CallOptions), InferenceError> {
    prompt
        .as_string()
        .ok_or_else(|| InferenceError::invalid_input("prompt", "must be a non-empty string"))
        .and_then(|p| text_call_args(&JsValue::from_str(&p), params, call_options, shared))
        .map_err(|mut e| {
            e.message = e.message.replacen("text", "prompt", 1);
            e
        })
}

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

async fn image_payload(image: &JsValue, params: &JsValue) -> Result<Payload, InferenceError> {
    let bytes = Bytes::from_js(image, "image").unwrap_or_else(|| {
        Err(InferenceError::invalid_input(
            "image",
            "must be a Blob, an ArrayBuffer or a Uint8Array",
        ))
    })?;
    match checked_parameters(params)? {
        // Parameters only travel in JSON, so the image goes as base64 there.
        Some(parameters) => Ok(Payload::json(image_json_body(
            &bytes.to_vec().await?,
            &parameters,
        ))),
        None => Ok(Payload {
            content_type: bytes.content_type().await?,
            body: bytes.into_body(),
        }),
    }
}

async fn query_payload(payload: &JsValue) -> Result<Payload, InferenceError> {
    if payload.is_undefined() {
        return Err(InferenceError::invalid_input("payload", "is required"));
    }
    if let Some(bytes) = Bytes::from_js(payload, "payload") {
        let bytes = bytes?;
        return Ok(Payload {
            content_type: bytes.content_type().await?,
            body: bytes.into_body(),
        });
    }
    let text = js_sys::JSON::stringify(payload)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| InferenceError::invalid_input("payload", "cannot be serialised to JSON"))?;
    Ok(Payload::json(text))
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
