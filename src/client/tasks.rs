//! The tasks: each checks its arguments, writes its body, sends it (shared
//! or batched where that is safe) and reads its answer. The Rust API's
//! methods and the JS API's functions both call these.

use std::borrow::Cow;
use std::future::{Future, IntoFuture};
use std::rc::Rc;

use futures_util::future::{FutureExt, LocalBoxFuture};
use js_sys::{Array, JsString, Object, Reflect, Uint8Array};
use serde::{Serialize, Serializer};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Blob;

use super::call::{path_of, Answered, Body, Path, Read, Reading, Request};
use super::json::{sort_by_score, stringify, to_js, Members};
use super::options::{CallOptions, Resolved};
use super::params::{GenerationDetails, TextGeneration};
use super::stream::{not_a_stream, EventSource};
use super::{InferenceClient, Inner};
use crate::protocol::answer::{self, GeneratedText, Label};
use crate::protocol::completion::{self, completion_text, CompletionStream};
use crate::protocol::document::Document;
use crate::protocol::error::{embedded, Error, ErrorCode};
use crate::protocol::image::{sniff_audio_type, sniff_image_type, SNIFF_BYTES};
use crate::protocol::model::{model_url, validate_model_id};
use crate::protocol::pipeline::{self as table, read_answer, Pipeline, Shape, Wire};
use crate::protocol::provider::provider_route;
use crate::protocol::task::{
    check_chat_request, check_images_request, check_labels, check_prompt, Inputs, Task,
};
use crate::protocol::text;

/// Task parameters as a JS object, passed through as given: its own
/// enumerable members in their order, each value kept as the JS value it is
/// (so `JSON.stringify` writes the caller's numbers exactly).
#[derive(Clone)]
pub(crate) struct Params(pub JsValue);

/// A JS value serialised as itself (serde-wasm-bindgen only).
pub(crate) struct Preserved<'a>(pub &'a JsValue);

impl Serialize for Preserved<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_wasm_bindgen::preserve::serialize(self.0, serializer)
    }
}

impl Params {
    /// A copy of `params` (or a new object) with member `key` set to
    /// `value`, after the others, as `{...params, key: value}` writes it: a
    /// `key` among them keeps its place and takes the new value.
    pub fn extended(params: Option<&Params>, key: &str, value: &Option<JsValue>) -> Params {
        let object = Object::new();
        if let Some(params) = params {
            Object::assign(&object, params.0.unchecked_ref());
        }
        let value = value.clone().unwrap_or(JsValue::UNDEFINED);
        let _ = Reflect::set(&object, &JsValue::from_str(key), &value);
        Params(object.into())
    }

    /// A copy of its own enumerable members, in order: what goes into a body
    /// (written without serde, which leaves serde-wasm-bindgen's serializer
    /// out of the JS API's wasm).
    pub fn copy(&self) -> JsValue {
        let copy = Object::new();
        for entry in Object::entries(self.0.unchecked_ref()).iter() {
            let (key, value) = super::json::pair_of(&entry);
            let _ = Reflect::set(&copy, &key, &value);
        }
        copy.into()
    }

    /// Its members, in order.
    pub fn entries(&self) -> Vec<(String, JsValue)> {
        self.0.entries()
    }

    /// Typed parameters as a JS object.
    pub fn from_typed<P: Serialize>(params: &P) -> Params {
        Params(to_js(params).unwrap_or_else(|| Object::new().into()))
    }
}

/// An image or any bytes: a `Uint8Array`, `ArrayBuffer` or `Blob` of the caller's.
#[derive(Clone)]
pub(crate) struct Bytes {
    pub value: JsValue,
    /// A `Blob`'s own type, when it has one.
    pub blob_type: Option<String>,
}

impl Bytes {
    /// Bytes of the Rust API (copied into JS memory once).
    pub fn from_slice(bytes: &[u8]) -> Bytes {
        Bytes {
            value: Uint8Array::from(bytes).into(),
            blob_type: None,
        }
    }

    /// How many bytes.
    pub fn len(&self) -> f64 {
        if let Some(blob) = self.value.dyn_ref::<Blob>() {
            return blob.size();
        }
        Reflect::get(&self.value, &JsValue::from_str("byteLength"))
            .ok()
            .and_then(|n| n.as_f64())
            .unwrap_or(0.0)
    }

    /// Refuses no bytes at all, naming `argument`.
    fn check_len(&self, argument: &str) -> Result<(), Error> {
        if self.len() == 0.0 {
            return Err(Error::invalid_input(argument, "is empty (0 bytes)"));
        }
        Ok(())
    }

    /// The first `upto` bytes (all with `None`) as a view in JavaScript
    /// memory; a `Blob` that cannot be read is refused, naming `argument`.
    async fn view(&self, upto: Option<u32>, argument: &str) -> Result<Uint8Array, Error> {
        let unreadable = || Error::invalid_input(argument, "could not be read");
        if let Some(blob) = self.value.dyn_ref::<Blob>() {
            let part = match upto {
                Some(n) => blob
                    .slice_with_i32_and_i32(0, n as i32)
                    .map_err(|_| unreadable())?,
                None => blob.clone(),
            };
            let buffer = wasm_bindgen_futures::JsFuture::from(part.array_buffer())
                .await
                .map_err(|_| unreadable())?;
            return Ok(Uint8Array::new(&buffer));
        }
        let view = if self.value.is_instance_of::<Uint8Array>() {
            self.value.clone().unchecked_into::<Uint8Array>()
        } else {
            Uint8Array::new(&self.value)
        };
        Ok(match upto {
            Some(n) => view.subarray(0, n.min(view.unchecked_ref::<Array>().length())),
            None => view,
        })
    }

    /// The first bytes, to sniff their type.
    async fn head(&self, argument: &str) -> Result<Vec<u8>, Error> {
        Ok(head_of(
            &self.view(Some(SNIFF_BYTES as u32), argument).await?,
        ))
    }

    /// The bytes as standard base64 with padding (the JSON form that
    /// parameters need), encoded by the platform.
    async fn base64(&self, argument: &str) -> Result<js_sys::JsString, Error> {
        Ok(base64_of_bytes(&self.view(None, argument).await?))
    }

    /// The bytes as a raw body, with the content type to send: the
    /// `Blob`'s, else sniffed from the first bytes. Refusals name `argument`.
    async fn into_body(self, argument: &str) -> Result<Body, Error> {
        self.check_len(argument)?;
        let content_type = match self.blob_type {
            Some(own) => Some(own),
            None => {
                let head = self.head(argument).await?;
                let sniffed = sniff_image_type(&head).or_else(|| sniff_audio_type(&head));
                sniffed.map(str::to_owned)
            }
        };
        Ok(Body::Bytes {
            content_type,
            value: self.value,
        })
    }
}

/// The input of a [table](crate::protocol::pipeline) task: a text, texts or
/// an object (sent as JSON), or bytes.
pub(crate) enum TaskInput {
    Value(JsValue),
    Media(Bytes),
}

// The platform's `atob` and `btoa` do base64 (every runtime the client runs
// in has them): the base64 crate would add about 2.3 KB gzipped to the wasm
// for decoding and as much for encoding, and encoding in JavaScript keeps
// the caller's bytes out of wasm memory. `btoa` takes a binary string, built
// in slices so that no call gets more arguments than an engine allows.
#[wasm_bindgen::prelude::wasm_bindgen(inline_js = "export function bytesOfBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
export function base64OfBytes(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}")]
extern "C" {
    #[wasm_bindgen(catch, js_name = bytesOfBase64)]
    fn bytes_of_base64(text: &str) -> Result<Uint8Array, JsValue>;

    #[wasm_bindgen(js_name = base64OfBytes)]
    fn base64_of_bytes(bytes: &Uint8Array) -> js_sys::JsString;
}

/// Whether text generation's parameters ask for `return_full_text`.
fn full_text(params: Option<&Params>) -> bool {
    params
        .and_then(|p| p.0.member("return_full_text"))
        .is_some_and(|f| f.is_truthy())
}

/// A text or object input as it is (bytes are not sent to providers).
fn value_of(input: &TaskInput) -> JsValue {
    match input {
        TaskInput::Value(value) => value.clone(),
        TaskInput::Media(_) => JsValue::UNDEFINED,
    }
}

/// A `Blob` of `bytes`, of type `content_type`.
fn blob_of(bytes: &Uint8Array, content_type: &str) -> Option<Blob> {
    let parts = js_sys::Array::of1(bytes);
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(content_type);
    Blob::new_with_u8_array_sequence_and_options(&parts, &options).ok()
}

/// An image answer as a `Blob`: the binary answer itself, or the first
/// `b64_json` of an OpenAI-style `{data: [...]}` (what providers answer).
fn image_answer(task: Task, answered: &Answered) -> Result<JsValue, Error> {
    let bad = || answered.error(answer::bad_response(task, "an image"));
    let doc = match &answered.read {
        Read::Blob(blob) => return Ok(blob.clone().into()),
        Read::Json(doc) => doc,
        _ => return Err(bad()),
    };
    if let Some(error) = embedded(doc) {
        return Err(answered.error(error));
    }
    let bytes = doc
        .member("data")
        .and_then(|d| d.elements())
        .and_then(|d| d.into_iter().next())
        .and_then(|first| first.member("b64_json"))
        .and_then(|b| b.as_text())
        .and_then(|text| bytes_of_base64(&text).ok())
        .ok_or_else(bad)?;
    let head = head_of(&bytes);
    let kind = sniff_image_type(&head).unwrap_or("image/jpeg");
    blob_of(&bytes, kind).map(JsValue::from).ok_or_else(bad)
}

/// The first bytes of `bytes`, to sniff their type: read one by one, as
/// `Uint8Array::to_vec` checks its copy with an `assert_eq!` whose message
/// brings `usize`'s `Debug` into the wasm. Read through `Array`'s bindings
/// (`length` and indexing are the same in JS): no second pair of them.
fn head_of(bytes: &Uint8Array) -> Vec<u8> {
    let view: &Array = bytes.unchecked_ref();
    let n = view.length().min(SNIFF_BYTES as u32);
    let mut head = Vec::with_capacity(n as usize);
    for i in 0..n {
        head.push(view.get_unchecked(i).as_f64().unwrap_or_default() as u8);
    }
    head
}

/// The route of the providers that serve text generation as chat.
const CHAT_ROUTE: &str = "openai/v1/chat/completions";

/// What a call sends to a provider other than hf-inference, whose body
/// differs (the reference client's forms, docs/wire.md).
#[derive(Clone)]
pub(crate) enum AtProvider {
    /// Nothing but hf-inference serves the task.
    Same,
    /// A completion `{model, prompt, max_tokens, ...}`.
    Generation {
        prompt: String,
        params: Option<Params>,
        stream: bool,
    },
    /// An OpenAI images request `{model, prompt, response_format, ...}`.
    Image {
        prompt: JsValue,
        params: Option<Params>,
    },
    /// An OpenAI embeddings request `{model, input, ...}`.
    Embeddings {
        input: JsValue,
        params: Option<Params>,
    },
    /// A chat request, whose model takes the provider's suffix.
    Chat(Params),
}

impl AtProvider {
    /// The body for `provider`, where the model is `model_id`.
    fn body(&self, provider: &str, model_id: &str) -> Result<Body, Error> {
        let object = Object::new();
        let set = |key: &str, value: &JsValue| {
            let _ = Reflect::set(&object, &JsValue::from_str(key), value);
        };
        let copy = |params: &Option<Params>, renamed: (&str, &str)| {
            for (key, value) in params.as_ref().map(Params::entries).unwrap_or_default() {
                set(if key == renamed.0 { renamed.1 } else { &key }, &value);
            }
        };
        match self {
            // Never asked: no provider has a route of their own for these
            // (`provider_route`), and chat goes by the model's suffix.
            AtProvider::Same | AtProvider::Chat(_) => {}
            AtProvider::Generation {
                prompt,
                params,
                stream,
            } if provider_route(provider, Task::TextGeneration) == Some(CHAT_ROUTE) => {
                // A chat request of one user message, parameters as for a completion.
                let message = Object::new();
                let _ = Reflect::set(&message, &"role".into(), &"user".into());
                let _ = Reflect::set(&message, &"content".into(), &JsValue::from_str(prompt));
                set("messages", &js_sys::Array::of1(&message));
                copy(params, completion::RENAMED);
                if *stream {
                    set("stream", &JsValue::TRUE);
                }
            }
            AtProvider::Generation {
                prompt,
                params,
                stream,
            } => {
                return Inner::generation_bodies(model_id, prompt, params.as_ref(), *stream)
                    .map(|(body, _)| body)
            }
            AtProvider::Image { prompt, params } => {
                let together = provider == "together";
                // Together names the step count `steps`.
                copy(
                    params,
                    (
                        "num_inference_steps",
                        if together {
                            "steps"
                        } else {
                            "num_inference_steps"
                        },
                    ),
                );
                set("prompt", prompt);
                let format = if together { "base64" } else { "b64_json" };
                set("response_format", &JsValue::from_str(format));
            }
            AtProvider::Embeddings { input, params } => {
                if provider == "together" {
                    copy(params, ("", ""));
                }
                set("input", input);
            }
        }
        set("model", &JsValue::from_str(model_id));
        json_body(&object.into(), "params")
    }
}

/// What `query` sends: JSON, or bytes.
pub(crate) enum Payload {
    Json(JsValue),
    Bytes(Bytes),
}

/// What `query` got back: JSON, text, or bytes with their type.
#[derive(Clone, Debug)]
pub enum QueryAnswer {
    /// A JSON answer, parsed.
    Json(JsValue),
    /// A text answer.
    Text(String),
    /// A binary answer (audio, an image): a `Blob` of its content type.
    Blob(Blob),
}

impl QueryAnswer {
    /// The JSON answer read as `T`; `None` when it is not JSON of that shape.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        match self {
            QueryAnswer::Json(doc) => doc.read(),
            _ => None,
        }
    }
}

/// The JSON body of a task, written by `JSON.stringify`; refused by the
/// argument's name when it cannot be written.
fn json_body(body: &JsValue, argument: &str) -> Result<Body, Error> {
    json_text(body, argument).map(Body::Json)
}

/// The JSON body of a task, `{inputs, parameters?, stream?}` (`parameters`
/// left out when absent, `stream` unless streamed), built as one JS object:
/// the wasm then holds no serializer per type of input (four serde
/// serializers of such a body were 1.2 KB of it before wasm-opt).
fn task_body(inputs: &JsValue, params: Option<&Params>, stream: bool) -> Result<Body, Error> {
    let body = Object::new();
    let _ = Reflect::set(&body, &JsValue::from_str("inputs"), inputs);
    if let Some(params) = params {
        let _ = Reflect::set(&body, &JsValue::from_str("parameters"), &params.copy());
    }
    if stream {
        let _ = Reflect::set(&body, &JsValue::from_str("stream"), &JsValue::TRUE);
    }
    json_body(&body.into(), "params")
}

/// A text or texts as a JS string or array.
fn inputs_of(inputs: &Inputs) -> JsValue {
    match inputs {
        Inputs::One(text) => JsValue::from_str(text),
        Inputs::Many(texts) => strings(texts),
    }
}

/// Strings as a JS array.
fn strings(texts: &[String]) -> JsValue {
    let list = js_sys::Array::new();
    for text in texts {
        list.push(&JsValue::from_str(text));
    }
    list.into()
}

/// `body` as JSON text (see [`json_body`]).
fn json_text(body: &JsValue, argument: &str) -> Result<JsString, Error> {
    stringify(body).ok_or_else(|| {
        Error::invalid_input(
            argument,
            "cannot be serialised to JSON (a cycle or a BigInt?)",
        )
    })
}

/// Reads a shared or batched answer's document for one caller.
fn document(answered: &Answered) -> &JsValue {
    answered.doc().expect("JSON calls are read as JSON")
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = structuredClone)]
    fn structured_clone(value: &JsValue) -> JsValue;
}

/// A part of `answered`'s document for one caller: its own copy
/// (`structuredClone`) while other callers hold the same answer (a shared
/// call), so that no caller sees what another does to its result.
fn own(answered: &Rc<Answered>, part: &JsValue) -> JsValue {
    if Rc::strong_count(answered) > 1 {
        structured_clone(part)
    } else {
        part.clone()
    }
}

impl Inner {
    /// The options of a call: the client's, or the call's own over them.
    fn resolve(&self, options: Option<&CallOptions>) -> Cow<'_, Resolved> {
        match options.filter(|o| !o.is_empty()) {
            Some(own) => Cow::Owned(own.over(&self.defaults)),
            None => Cow::Borrowed(&self.defaults),
        }
    }

    /// Sends one request of `task`, read as `reading`, under `options`.
    async fn send(
        &self,
        task: Task,
        model: &str,
        body: &Body,
        reading: Reading,
        options: Option<&CallOptions>,
    ) -> Result<Answered, Error> {
        self.send_to(
            task,
            model,
            (body, None),
            reading,
            options,
            &AtProvider::Same,
        )
        .await
    }

    /// [`send`](Self::send) with the body a dedicated endpoint takes
    /// instead, when it differs (text generation's legacy form).
    async fn send_to(
        &self,
        task: Task,
        model: &str,
        (body, dedicated_body): (&Body, Option<&Body>),
        reading: Reading,
        options: Option<&CallOptions>,
        at_provider: &AtProvider,
    ) -> Result<Answered, Error> {
        let resolved = self.resolve(options);
        let routed = match (task, at_provider) {
            (Task::Chat, AtProvider::Chat(request)) => self.chat_route(model, &resolved, |m| {
                let suffixed = Params::extended(Some(request), "model", &Some(m.into()));
                json_body(&suffixed.copy(), "request")
            })?,
            (Task::Chat | Task::ImageGeneration | Task::Query, _) => None,
            _ => match self.providers_of(task, model, &resolved).await? {
                None => None,
                Some(providers) => Some(self.routed(&providers, |to| {
                    Ok(match provider_route(to.provider, task) {
                        None => {
                            let suffix = match path_of(task) {
                                Path::Model(suffix) => suffix,
                                _ => "",
                            };
                            (model_url(to.base, model, false, suffix), body.clone())
                        }
                        Some(route) => (
                            format!("{}/{route}", to.base),
                            at_provider.body(to.provider, to.model_id)?,
                        ),
                    })
                })?),
            },
        };
        let request = Request {
            task,
            model,
            path: path_of(task),
            body,
            dedicated_body,
            reading,
            routed: routed.as_ref(),
        };
        // Boxed: the attempt loop's state machine apart from this one's
        // (39 bytes of the gzipped client smaller).
        self.perform(&request, &resolved).boxed_local().await
    }

    /// What makes two calls the same: task, model, content type, and the
    /// body's text or the caller's very `Blob` (which cannot change, unlike
    /// a byte view the caller may refill while the first call is out).
    fn share_key(&self, task: Task, model: &str, body: &Body) -> Option<JsString> {
        let (content_type, body_key) = match body {
            Body::Json(text) => ("", text.clone()),
            Body::Bytes {
                value,
                content_type,
            } => {
                let id = self.in_flight.object_id(value.dyn_ref::<Blob>()?);
                (
                    content_type.as_deref().unwrap_or(""),
                    JsString::from(format!("#{id}")),
                )
            }
        };
        let head = format!("{}\u{0}{model}\u{0}{content_type}\u{0}", task.name());
        Some(JsString::from(head).concat(&body_key))
    }

    /// Sends a deterministic call, sharing the request of an identical call
    /// in flight unless the client turned sharing off or the call has
    /// options of its own (its signal or observer must not steer another
    /// caller's request).
    async fn deterministic(
        self: &Rc<Self>,
        task: Task,
        model: &str,
        body: Body,
        options: Option<&CallOptions>,
        at_provider: AtProvider,
    ) -> Result<Rc<Answered>, Error> {
        let own = options.filter(|o| !o.is_empty());
        let key = if self.dedupe && own.is_none() {
            self.share_key(task, model, &body)
        } else {
            None
        };
        let Some(key) = key else {
            let bodies = (&body, None);
            return self
                .send_to(task, model, bodies, Reading::Json, own, &at_provider)
                .await
                .map(Rc::new);
        };
        let me = self.clone();
        let model = model.to_owned();
        let shared = self.in_flight.share(key, move || {
            async move {
                let bodies = (&body, None);
                me.send_to(task, &model, bodies, Reading::Json, None, &at_provider)
                    .await
                    .map(Rc::new)
            }
            .boxed_local()
        });
        shared.await
    }

    /// Text classification: one list per text.
    pub(crate) async fn text_classification(
        self: &Rc<Self>,
        model: &str,
        inputs: Inputs,
        params: Option<Params>,
        options: Option<&CallOptions>,
    ) -> Result<Vec<JsValue>, Error> {
        validate_model_id(model)?;
        inputs.check("text")?;
        let batching = self
            .batch
            .filter(|_| !inputs.is_many() && options.is_none_or(CallOptions::is_empty));
        if let (Some(batch), Inputs::One(text)) = (batching, &inputs) {
            return self.batched(model, text.clone(), params, batch).await;
        }
        let count = inputs.count();
        let body = task_body(&inputs_of(&inputs), params.as_ref(), false)?;
        let answered = self
            .deterministic(
                Task::TextClassification,
                model,
                body,
                options,
                AtProvider::Same,
            )
            .await?;
        let lists = answer::text_classification(document(&answered), count)
            .map_err(|e| answered.error(e))?;
        let mut owned = Vec::with_capacity(lists.len());
        for list in &lists {
            owned.push(own(&answered, list));
        }
        Ok(owned)
    }

    async fn batched(
        self: &Rc<Self>,
        model: &str,
        text: String,
        params: Option<Params>,
        batch: super::options::BatchOptions,
    ) -> Result<Vec<JsValue>, Error> {
        let params_key = match &params {
            Some(p) => String::from(json_text(&p.copy(), "params")?),
            None => String::new(),
        };
        let me = self.clone();
        let owned_model = model.to_owned();
        let (index, answer, count) = self.batches.join(
            format!("{model}\n{params_key}"),
            text,
            batch.window_ms,
            batch.max_size,
            move |texts| {
                async move {
                    let inputs = inputs_of(&Inputs::Many(texts));
                    let body = task_body(&inputs, params.as_ref(), false)?;
                    me.send(
                        Task::TextClassification,
                        &owned_model,
                        &body,
                        Reading::Json,
                        None,
                    )
                    .await
                    .map(Rc::new)
                }
                .boxed_local()
            },
        );
        let answered = answer.await?;
        // As many lists as texts (checked), and `index` is one of the texts.
        let lists = answer::text_classification(document(&answered), count.get())
            .map_err(|e| answered.error(e))?;
        // Each caller of a batch reads its own list of the answer: no copy.
        let mut list = Vec::with_capacity(1);
        if let Some(found) = lists.get(index) {
            list.push(found.clone());
        }
        Ok(list)
    }

    /// Zero-shot classification: one list per text, sorted by score.
    pub(crate) async fn zero_shot(
        self: &Rc<Self>,
        model: &str,
        inputs: Inputs,
        labels: Vec<String>,
        params: Option<Params>,
        options: Option<&CallOptions>,
    ) -> Result<Vec<JsValue>, Error> {
        validate_model_id(model)?;
        inputs.check("text")?;
        check_labels(&labels)?;
        let labels = Some(strings(&labels));
        let parameters = Params::extended(params.as_ref(), "candidate_labels", &labels);
        let body = task_body(&inputs_of(&inputs), Some(&parameters), false)?;
        let answered = self
            .deterministic(Task::ZeroShot, model, body, options, AtProvider::Same)
            .await?;
        let lists = answer::zero_shot(document(&answered), inputs.count())
            .map_err(|e| answered.error(e))?;
        // Fresh `{label, score}` objects (the labels are the answer's
        // strings), sorted: each caller's own.
        let mut sorted = Vec::with_capacity(lists.len());
        for list in &lists {
            let items = js_sys::Array::new();
            for item in list {
                let out = Members::new();
                out.set("label", &item.label);
                out.number("score", item.score);
                items.push(&out.into_value());
            }
            sort_by_score(&items);
            sorted.push(items.into());
        }
        Ok(sorted)
    }

    /// Image classification: raw bytes on the wire, or base64 in JSON when
    /// there are parameters (the protocol takes them only in JSON).
    pub(crate) async fn classify_image(
        self: &Rc<Self>,
        model: &str,
        image: Bytes,
        params: Option<Params>,
        options: Option<&CallOptions>,
    ) -> Result<JsValue, Error> {
        validate_model_id(model)?;
        let body = match &params {
            None => image.into_body("image").await?,
            Some(params) => {
                image.check_len("image")?;
                let encoded = JsValue::from(image.base64("image").await?);
                task_body(&encoded, Some(params), false)?
            }
        };
        // Raw bytes are shared by the identity of the caller's object: a
        // Rust slice becomes a new `Uint8Array` per call, so it never is.
        let answered = self
            .deterministic(
                Task::ImageClassification,
                model,
                body,
                options,
                AtProvider::Same,
            )
            .await?;
        let list =
            answer::image_classification(document(&answered)).map_err(|e| answered.error(e))?;
        Ok(own(&answered, &list))
    }

    /// Text generation: `{generated_text}` from a completion, or
    /// `{generated_text, details?}` from a dedicated TGI endpoint.
    pub(crate) async fn text_generation(
        self: &Rc<Self>,
        model: &str,
        prompt: &str,
        params: Option<Params>,
        options: Option<&CallOptions>,
    ) -> Result<GeneratedText<JsValue>, Error> {
        let (body, legacy) = Inner::generation_bodies(model, prompt, params.as_ref(), false)?;
        let answered = self
            .send_to(
                Task::TextGeneration,
                model,
                (&body, Some(&legacy)),
                Reading::Json,
                options,
                &AtProvider::Generation {
                    prompt: prompt.to_owned(),
                    params: params.clone(),
                    stream: false,
                },
            )
            .await?;
        let doc = document(&answered);
        if doc.member("choices").is_none() {
            return answer::text_generation(doc).map_err(|e| answered.error(e));
        }
        let full = full_text(params.as_ref());
        let generated_text =
            completion_text(doc, full.then_some(prompt)).map_err(|e| answered.error(e))?;
        Ok(GeneratedText {
            generated_text,
            details: None,
        })
    }

    /// A task of the [table](crate::protocol::pipeline): its input checked
    /// and sent in its wire form, its answer checked and given back as the
    /// table says (a `Blob` for an image).
    pub(crate) async fn pipeline(
        self: &Rc<Self>,
        pipeline: &Pipeline,
        model: &str,
        input: TaskInput,
        labels: Option<Vec<String>>,
        params: Option<Params>,
        options: Option<&CallOptions>,
    ) -> Result<JsValue, Error> {
        validate_model_id(model)?;
        if let TaskInput::Value(value) = &input {
            pipeline.check_input(value)?;
        }
        let params = match labels {
            Some(labels) => {
                check_labels(&labels)?;
                let labels = Some(strings(&labels));
                Some(Params::extended(
                    params.as_ref(),
                    "candidate_labels",
                    &labels,
                ))
            }
            None => params,
        };
        let json = |inputs: &JsValue, params: Option<&Params>| task_body(inputs, params, false);
        let body = match (&input, pipeline.wire) {
            (TaskInput::Value(value), _) => json(value, params.as_ref())?,
            (TaskInput::Media(bytes), Wire::Raw) if params.is_none() => {
                bytes.clone().into_body(pipeline.argument()).await?
            }
            (TaskInput::Media(bytes), wire) => {
                bytes.check_len(pipeline.argument())?;
                let encoded = JsValue::from(bytes.base64(pipeline.argument()).await?);
                match (wire, &params) {
                    (Wire::Base64Image, params) => {
                        let inputs = Object::new();
                        let _ = Reflect::set(&inputs, &JsValue::from_str("image"), &encoded);
                        json(&inputs.into(), params.as_ref())?
                    }
                    (_, params) => json(&encoded, params.as_ref())?,
                }
            }
        };
        if pipeline.shape == Shape::Image {
            let at_provider = AtProvider::Image {
                prompt: value_of(&input),
                params,
            };
            let bodies = (&body, None);
            let answered = self
                .send_to(
                    pipeline.task,
                    model,
                    bodies,
                    Reading::AsTyped,
                    options,
                    &at_provider,
                )
                .await?;
            return image_answer(pipeline.task, &answered);
        }
        let at_provider = match pipeline.task {
            Task::FeatureExtraction => AtProvider::Embeddings {
                input: value_of(&input),
                params,
            },
            _ => AtProvider::Same,
        };
        let answered = self
            .deterministic(pipeline.task, model, body, options, at_provider)
            .await?;
        let doc = document(&answered);
        // A provider's embeddings: `{data: [{embedding}]}`, read as number[][].
        let embeddings = doc.member("data").and_then(|d| d.elements()).map(|items| {
            let list = js_sys::Array::new();
            for item in &items {
                list.push(&item.member("embedding").unwrap_or(JsValue::NULL));
            }
            JsValue::from(list)
        });
        let result = read_answer(pipeline, embeddings.as_ref().unwrap_or(doc))
            .map_err(|e| answered.error(e))?;
        Ok(own(&answered, &result))
    }

    /// `imageGeneration`: an OpenAI images request posted to the chat base,
    /// the answer as sent, once checked.
    pub(crate) async fn image_generation(
        self: &Rc<Self>,
        request: &JsValue,
        options: Option<&CallOptions>,
    ) -> Result<JsValue, Error> {
        check_images_request(request)?;
        let body = json_body(&Params(request.clone()).copy(), "request")?;
        let answered = self
            .send(Task::ImageGeneration, "", &body, Reading::Json, options)
            .await?;
        let doc = document(&answered);
        if let Some(error) = embedded(doc) {
            return Err(answered.error(error));
        }
        if doc.member("data").and_then(|d| d.elements()).is_none() {
            return Err(answered.error(answer::bad_response(
                Task::ImageGeneration,
                "an images answer ({data: [...]})",
            )));
        }
        Ok(doc.clone())
    }

    /// An OpenAI chat completion: the answer as sent, once checked.
    pub(crate) async fn chat_completion(
        self: &Rc<Self>,
        request: &JsValue,
        options: Option<&CallOptions>,
    ) -> Result<JsValue, Error> {
        let model = check_chat_request(request, false)?;
        let request = Params(request.clone());
        let body = json_body(&request.copy(), "request")?;
        let chat = AtProvider::Chat(request);
        let answered = self
            .send_to(
                Task::Chat,
                &model,
                (&body, None),
                Reading::Json,
                options,
                &chat,
            )
            .await?;
        let doc = document(&answered);
        answer::chat_completion(doc).map_err(|e| answered.error(e))?;
        Ok(doc.clone())
    }

    /// `query`: the payload as given, the answer as it came.
    pub(crate) async fn query(
        self: &Rc<Self>,
        model: &str,
        payload: Payload,
        options: Option<&CallOptions>,
    ) -> Result<QueryAnswer, Error> {
        validate_model_id(model)?;
        let body = match payload {
            Payload::Json(value) => json_body(&value, "payload")?,
            Payload::Bytes(bytes) => bytes.into_body("payload").await?,
        };
        let answered = self
            .send(Task::Query, model, &body, Reading::AsTyped, options)
            .await?;
        Ok(match answered.read {
            Read::Json(doc) => QueryAnswer::Json(doc),
            Read::Text(text) => QueryAnswer::Text(text),
            Read::Blob(blob) => QueryAnswer::Blob(blob),
            Read::Unread => QueryAnswer::Text(String::new()),
        })
    }

    /// Opens a stream: `textGenerationStream` (task route, `stream: true` in
    /// the body) or `chatCompletionStream` (chat route). The call is retried
    /// until its answer starts, never after.
    pub(crate) async fn open_stream(
        self: Rc<Self>,
        task: Task,
        model: String,
        (body, dedicated_body): (Body, Option<Body>),
        options: Option<CallOptions>,
        at_provider: AtProvider,
    ) -> Result<EventSource, Error> {
        let bodies = (&body, dedicated_body.as_ref());
        let options = options.as_ref();
        let answered = self
            .send_to(task, &model, bodies, Reading::Stream, options, &at_provider)
            .await?;
        let content_type = answered.incoming.content_type();
        let request_id = answered.incoming.request_id();
        let status = answered.incoming.status;
        if !text::contains(&content_type, "event-stream") {
            let text = answered.incoming.text().await.unwrap_or_default();
            return Err(answered.error(not_a_stream(&content_type, &text)));
        }
        let Answered {
            incoming,
            attempts,
            secrets,
            ..
        } = answered;
        let (body, guard) = incoming.into_body();
        let source = EventSource::new(body, guard, status, request_id, attempts, model, secrets);
        // Completion chunks reach callers in TGI's shape; with
        // `return_full_text` the whole text starts with the prompt.
        Ok(match at_provider {
            AtProvider::Generation { prompt, params, .. } => {
                let state = if full_text(params.as_ref()) {
                    CompletionStream::after(&prompt)
                } else {
                    CompletionStream::default()
                };
                source.into_tgi(state)
            }
            _ => source,
        })
    }

    /// The bodies of a text generation, checked: the completion
    /// `{model, prompt, max_tokens, ...}` (`max_new_tokens` renamed, every
    /// other parameter passed through), and the legacy `{inputs,
    /// parameters}` a dedicated TGI endpoint takes.
    pub(crate) fn generation_bodies(
        model: &str,
        prompt: &str,
        params: Option<&Params>,
        stream: bool,
    ) -> Result<(Body, Body), Error> {
        validate_model_id(model)?;
        check_prompt(prompt)?;
        let legacy = task_body(&JsValue::from_str(prompt), params, stream)?;
        let completion = Object::new();
        let set = |key: &str, value: &JsValue| {
            let _ = Reflect::set(&completion, &JsValue::from_str(key), value);
        };
        set("model", &JsValue::from_str(model));
        for (key, value) in params.map(Params::entries).unwrap_or_default() {
            let (from, to) = completion::RENAMED;
            set(if key == from { to } else { &key }, &value);
        }
        set("prompt", &JsValue::from_str(prompt));
        if stream {
            set("stream", &JsValue::TRUE);
        }
        let body = json_body(&completion.into(), "params")?;
        Ok((body, legacy))
    }

    /// The body of `chatCompletionStream` (the request with `stream: true`)
    /// and its model, checked.
    pub(crate) fn chat_stream_body(request: &JsValue) -> Result<(String, Body), Error> {
        let model = check_chat_request(request, true)?;
        let streamed = Params::extended(
            Some(&Params(request.clone())),
            "stream",
            &Some(JsValue::TRUE),
        );
        let body = json_body(&streamed.copy(), "request")?;
        Ok((model, body))
    }
}

/// A call of the Rust API: set its parameters and options, then `.await` it.
///
/// ```ignore
/// let labels = hf
///     .text_classification(model, "I love it")
///     .parameters(TextClassificationParameters { top_k: Some(1), ..Default::default() })
///     .options(CallOptions::new().timeout_ms(5_000))
///     .await?;
/// ```
#[must_use = "a call does nothing until it is awaited"]
pub struct Call<P, T> {
    inner: Rc<Inner>,
    /// Named in every error of the call.
    model: String,
    params: Option<P>,
    options: Option<CallOptions>,
    #[allow(clippy::type_complexity)]
    run: Box<
        dyn FnOnce(
            Rc<Inner>,
            Option<Params>,
            Option<CallOptions>,
        ) -> LocalBoxFuture<'static, Result<T, Error>>,
    >,
}

impl<P: Serialize, T: 'static> Call<P, T> {
    fn new<F, Fut>(client: &InferenceClient, model: &str, run: F) -> Call<P, T>
    where
        F: FnOnce(Rc<Inner>, Option<Params>, Option<CallOptions>) -> Fut + 'static,
        Fut: Future<Output = Result<T, Error>> + 'static,
    {
        Call {
            inner: client.inner.clone(),
            model: model.to_owned(),
            params: None,
            options: None,
            run: Box::new(move |inner, params, options| run(inner, params, options).boxed_local()),
        }
    }

    /// The task's parameters.
    pub fn parameters(mut self, params: P) -> Call<P, T> {
        self.params = Some(params);
        self
    }

    /// Options of this call (over the client's).
    pub fn options(mut self, options: CallOptions) -> Call<P, T> {
        self.options = Some(options);
        self
    }
}

impl<P: Serialize, T: 'static> IntoFuture for Call<P, T> {
    type Output = Result<T, Error>;
    type IntoFuture = LocalBoxFuture<'static, Result<T, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        let params = self.params.as_ref().map(Params::from_typed);
        let checked = match &self.options {
            Some(options) => options.check("callOptions"),
            None => Ok(()),
        };
        let running = checked.map(|()| (self.run)(self.inner, params, self.options));
        let model = self.model;
        async move {
            let result = match running {
                Ok(running) => running.await,
                Err(error) => Err(error),
            };
            result.map_err(|e| e.with_model(&model))
        }
        .boxed_local()
    }
}

fn texts(texts: &[&str]) -> Inputs {
    Inputs::Many(texts.iter().map(|t| (*t).to_owned()).collect())
}

impl InferenceClient {
    /// Text classification of one text: `[{label, score}]`, as upstream ranks them.
    pub fn text_classification(
        &self,
        model: &str,
        text: &str,
    ) -> Call<super::TextClassificationParameters, Vec<Label>> {
        let (id, text) = (model.to_owned(), text.to_owned());
        Call::new(self, model, move |inner, params, options| async move {
            let lists = inner
                .text_classification(&id, Inputs::One(text), params, options.as_ref())
                .await?;
            Ok(lists.first().map(answer::labels_of).unwrap_or_default())
        })
    }

    /// Text classification of several texts in one request: one list per text.
    pub fn text_classification_many(
        &self,
        model: &str,
        texts_: &[&str],
    ) -> Call<super::TextClassificationParameters, Vec<Vec<Label>>> {
        let (id, inputs) = (model.to_owned(), texts(texts_));
        Call::new(self, model, move |inner, params, options| async move {
            let lists = inner
                .text_classification(&id, inputs, params, options.as_ref())
                .await?;
            Ok(lists.iter().map(answer::labels_of).collect())
        })
    }

    /// Zero-shot classification: the labels sorted by score, highest first.
    pub fn zero_shot(
        &self,
        model: &str,
        text: &str,
        candidate_labels: &[&str],
    ) -> Call<super::ZeroShotParameters, Vec<Label>> {
        let (id, text) = (model.to_owned(), text.to_owned());
        let labels: Vec<String> = candidate_labels.iter().map(|l| (*l).to_owned()).collect();
        Call::new(self, model, move |inner, params, options| async move {
            let lists = inner
                .zero_shot(&id, Inputs::One(text), labels, params, options.as_ref())
                .await?;
            Ok(lists.first().map(answer::labels_of).unwrap_or_default())
        })
    }

    /// Zero-shot classification of several texts in one request: one sorted
    /// list per text.
    pub fn zero_shot_many(
        &self,
        model: &str,
        texts_: &[&str],
        candidate_labels: &[&str],
    ) -> Call<super::ZeroShotParameters, Vec<Vec<Label>>> {
        let (id, inputs) = (model.to_owned(), texts(texts_));
        let labels: Vec<String> = candidate_labels.iter().map(|l| (*l).to_owned()).collect();
        Call::new(self, model, move |inner, params, options| async move {
            let lists = inner
                .zero_shot(&id, inputs, labels, params, options.as_ref())
                .await?;
            Ok(lists.iter().map(answer::labels_of).collect())
        })
    }

    /// Image classification of an image's bytes (JPEG, PNG, ...), sent raw
    /// with their sniffed content type.
    pub fn classify_image(
        &self,
        model: &str,
        image: &[u8],
    ) -> Call<super::ImageClassificationParameters, Vec<Label>> {
        let (id, image) = (model.to_owned(), Bytes::from_slice(image));
        Call::new(self, model, move |inner, params, options| async move {
            let list = inner
                .classify_image(&id, image, params, options.as_ref())
                .await?;
            Ok(answer::labels_of(&list))
        })
    }

    /// Text generation: the continuation of `prompt`.
    pub fn text_generation(
        &self,
        model: &str,
        prompt: &str,
    ) -> Call<super::TextGenerationParameters, TextGeneration> {
        let (id, prompt) = (model.to_owned(), prompt.to_owned());
        Call::new(self, model, move |inner, params, options| async move {
            let generated = inner
                .text_generation(&id, &prompt, params, options.as_ref())
                .await?;
            Ok(TextGeneration {
                generated_text: generated.generated_text,
                details: generated
                    .details
                    .and_then(|d| d.read::<GenerationDetails>()),
            })
        })
    }

    /// An OpenAI chat completion through the chat endpoint.
    pub fn chat_completion(
        &self,
        request: &super::ChatCompletionRequest,
    ) -> Call<(), super::ChatCompletion> {
        let model = &request.model;
        let request = to_js(request).unwrap_or(JsValue::NULL);
        Call::new(self, model, move |inner, _, options| async move {
            let doc = inner.chat_completion(&request, options.as_ref()).await?;
            doc.read().ok_or_else(|| {
                Error::new(
                    ErrorCode::BadResponse,
                    "the chat answer is not a chat completion",
                )
            })
        })
    }

    /// A task of the table, its answer read as `T`.
    fn table<T: serde::de::DeserializeOwned + 'static>(
        &self,
        pipeline: &'static Pipeline,
        model: &str,
        input: TaskInput,
        labels: Option<Vec<String>>,
    ) -> Call<super::Parameters, T> {
        let id = model.to_owned();
        Call::new(self, model, move |inner, params, options| async move {
            let answer = inner
                .pipeline(pipeline, &id, input, labels, params, options.as_ref())
                .await?;
            answer.read().ok_or_else(|| {
                answer::bad_response(pipeline.task, "of the shape the Rust API reads")
            })
        })
    }

    /// A text task of the table.
    fn table_text<T: serde::de::DeserializeOwned + 'static>(
        &self,
        pipeline: &'static Pipeline,
        model: &str,
        text: &str,
    ) -> Call<super::Parameters, T> {
        let input = TaskInput::Value(JsValue::from_str(text));
        self.table(pipeline, model, input, None)
    }

    /// Feature extraction of one text: its embedding.
    pub fn feature_extraction(&self, model: &str, text: &str) -> Call<super::Parameters, Vec<f64>> {
        self.table_text(&table::FEATURE_EXTRACTION, model, text)
    }

    /// Feature extraction of several texts in one request: one embedding per text.
    pub fn feature_extraction_many(
        &self,
        model: &str,
        texts_: &[&str],
    ) -> Call<super::Parameters, Vec<Vec<f64>>> {
        let input = TaskInput::Value(to_js(texts_).unwrap_or(JsValue::NULL));
        self.table(&table::FEATURE_EXTRACTION, model, input, None)
    }

    /// The similarity of `source` to each of `sentences`.
    pub fn sentence_similarity(
        &self,
        model: &str,
        source: &str,
        sentences: &[&str],
    ) -> Call<super::Parameters, Vec<f64>> {
        #[derive(Serialize)]
        struct Pair<'a> {
            source_sentence: &'a str,
            sentences: &'a [&'a str],
        }
        let pair = Pair {
            source_sentence: source,
            sentences,
        };
        let input = TaskInput::Value(to_js(&pair).unwrap_or(JsValue::NULL));
        self.table(&table::SENTENCE_SIMILARITY, model, input, None)
    }

    /// An image made from `prompt`: a `Blob` of the image's type.
    pub fn text_to_image(&self, model: &str, prompt: &str) -> Call<super::Parameters, Blob> {
        let (id, prompt) = (model.to_owned(), JsValue::from_str(prompt));
        Call::new(self, model, move |inner, params, options| async move {
            let pipeline = &table::TEXT_TO_IMAGE;
            let input = TaskInput::Value(prompt);
            let image = inner
                .pipeline(pipeline, &id, input, None, params, options.as_ref())
                .await?;
            Ok(image.unchecked_into::<Blob>())
        })
    }

    /// A summary of `text`.
    pub fn summarization(
        &self,
        model: &str,
        text: &str,
    ) -> Call<super::Parameters, super::Summary> {
        self.table_text(&table::SUMMARIZATION, model, text)
    }

    /// A translation of `text` (the model sets the languages).
    pub fn translation(
        &self,
        model: &str,
        text: &str,
    ) -> Call<super::Parameters, super::Translation> {
        self.table_text(&table::TRANSLATION, model, text)
    }

    /// The named entities of `text`.
    pub fn token_classification(
        &self,
        model: &str,
        text: &str,
    ) -> Call<super::Parameters, Vec<super::Entity>> {
        self.table_text(&table::TOKEN_CLASSIFICATION, model, text)
    }

    /// The answer to `question`, a span of `context`.
    pub fn question_answering(
        &self,
        model: &str,
        question: &str,
        context: &str,
    ) -> Call<super::Parameters, super::Answer> {
        #[derive(Serialize)]
        struct Asked<'a> {
            question: &'a str,
            context: &'a str,
        }
        let input = TaskInput::Value(to_js(&Asked { question, context }).unwrap_or(JsValue::NULL));
        self.table(&table::QUESTION_ANSWERING, model, input, None)
    }

    /// Candidates for the mask token in `text` (`[MASK]`, `<mask>`: the model's own).
    pub fn fill_mask(&self, model: &str, text: &str) -> Call<super::Parameters, Vec<super::Fill>> {
        self.table_text(&table::FILL_MASK, model, text)
    }

    /// The objects in an image.
    pub fn object_detection(
        &self,
        model: &str,
        image: &[u8],
    ) -> Call<super::Parameters, Vec<super::Detection>> {
        let input = TaskInput::Media(Bytes::from_slice(image));
        self.table(&table::OBJECT_DETECTION, model, input, None)
    }

    /// The segments of an image (sent as base64 in JSON, as the protocol takes it).
    pub fn image_segmentation(
        &self,
        model: &str,
        image: &[u8],
    ) -> Call<super::Parameters, Vec<super::Segment>> {
        let input = TaskInput::Media(Bytes::from_slice(image));
        self.table(&table::IMAGE_SEGMENTATION, model, input, None)
    }

    /// A caption of an image.
    pub fn image_to_text(
        &self,
        model: &str,
        image: &[u8],
    ) -> Call<super::Parameters, super::Caption> {
        let input = TaskInput::Media(Bytes::from_slice(image));
        self.table(&table::IMAGE_TO_TEXT, model, input, None)
    }

    /// Zero-shot classification of an image among `candidate_labels`.
    pub fn zero_shot_image_classification(
        &self,
        model: &str,
        image: &[u8],
        candidate_labels: &[&str],
    ) -> Call<super::Parameters, Vec<Label>> {
        let input = TaskInput::Media(Bytes::from_slice(image));
        let labels = candidate_labels.iter().map(|l| (*l).to_owned()).collect();
        self.table(
            &table::ZERO_SHOT_IMAGE_CLASSIFICATION,
            model,
            input,
            Some(labels),
        )
    }

    /// The transcription of audio bytes (WAV, FLAC, MP3, ...).
    pub fn automatic_speech_recognition(
        &self,
        model: &str,
        audio: &[u8],
    ) -> Call<super::Parameters, super::Transcription> {
        let input = TaskInput::Media(Bytes::from_slice(audio));
        self.table(&table::SPEECH_RECOGNITION, model, input, None)
    }

    /// The classes of audio bytes.
    pub fn audio_classification(
        &self,
        model: &str,
        audio: &[u8],
    ) -> Call<super::Parameters, Vec<Label>> {
        let input = TaskInput::Media(Bytes::from_slice(audio));
        self.table(&table::AUDIO_CLASSIFICATION, model, input, None)
    }

    /// An OpenAI images request (`{model, prompt, size, ...}`) through the
    /// chat endpoint.
    pub fn image_generation<B: Serialize>(&self, request: &B) -> Call<(), super::ImageGeneration> {
        let request = to_js(request).unwrap_or(JsValue::NULL);
        let model = request.member("model").and_then(|m| m.as_string());
        Call::new(
            self,
            model.as_deref().unwrap_or(""),
            move |inner, _, options| async move {
                let doc = inner.image_generation(&request, options.as_ref()).await?;
                doc.read().ok_or_else(|| {
                    answer::bad_response(Task::ImageGeneration, "of the shape the Rust API reads")
                })
            },
        )
    }

    /// Sends bytes (audio, an image) to a model as they are, with their
    /// sniffed content type, and returns the answer as it came.
    pub fn query_bytes(&self, model: &str, payload: &[u8]) -> Call<(), QueryAnswer> {
        let (id, payload) = (model.to_owned(), Bytes::from_slice(payload));
        Call::new(self, model, move |inner, _, options| async move {
            inner
                .query(&id, Payload::Bytes(payload), options.as_ref())
                .await
        })
    }

    /// Sends any JSON payload to a model, and returns the answer as it came.
    pub fn query<B: Serialize>(&self, model: &str, payload: &B) -> Call<(), QueryAnswer> {
        let (id, payload) = (model.to_owned(), to_js(payload));
        Call::new(self, model, move |inner, _, options| async move {
            let payload = payload
                .ok_or_else(|| Error::invalid_input("payload", "cannot be serialised to JSON"))?;
            inner
                .query(&id, Payload::Json(payload), options.as_ref())
                .await
        })
    }

    /// A streamed text generation (`"stream": true` on the task route):
    /// TGI chunks as they are generated.
    pub fn text_generation_stream(
        &self,
        model: &str,
        prompt: &str,
        params: Option<&super::TextGenerationParameters>,
        options: Option<CallOptions>,
    ) -> super::ChunkStream<super::TextGenerationStreamChunk> {
        let inner = self.inner.clone();
        let (model, prompt) = (model.to_owned(), prompt.to_owned());
        let params = params.map(Params::from_typed);
        let open = async move {
            let (body, legacy) = Inner::generation_bodies(&model, &prompt, params.as_ref(), true)
                .map_err(|e| e.with_model(&model))?;
            if let Some(options) = &options {
                options.check("callOptions")?;
            }
            let tag = model.clone();
            inner
                .open_stream(
                    Task::TextGeneration,
                    model,
                    (body, Some(legacy)),
                    options,
                    AtProvider::Generation {
                        prompt,
                        params,
                        stream: true,
                    },
                )
                .await
                .map_err(|e| e.with_model(&tag))
        }
        .boxed_local();
        super::ChunkStream::new(open, "text-generation")
    }

    /// A streamed OpenAI chat completion: chunks as they are generated.
    pub fn chat_completion_stream(
        &self,
        request: &super::ChatCompletionRequest,
        options: Option<CallOptions>,
    ) -> super::ChunkStream<super::ChatCompletionChunk> {
        let inner = self.inner.clone();
        let request = to_js(request).unwrap_or(JsValue::NULL);
        let open = async move {
            let (model, body) = Inner::chat_stream_body(&request)?;
            if let Some(options) = &options {
                options.check("callOptions")?;
            }
            let tag = model.clone();
            inner
                .open_stream(
                    Task::Chat,
                    model,
                    (body, None),
                    options,
                    AtProvider::Chat(Params(request)),
                )
                .await
                .map_err(|e| e.with_model(&tag))
        }
        .boxed_local();
        super::ChunkStream::new(open, "chat")
    }
}
