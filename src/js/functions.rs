//! The tasks of the JS API, shared by the `InferenceClient` methods and the
//! free functions: read the JS arguments, call the Rust client, return plain
//! JS values. Every call goes through one async function (`run`) over a
//! [`Job`], so the wasm holds one promise adapter, not one per task.

use std::rc::Rc;

use futures_util::future::{FutureExt, LocalBoxFuture};
use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::client::JsInferenceClient;
use super::error::to_js_error;
use super::read;
use super::stream::stream_of;
use crate::client::json::Members;
use crate::client::tasks::{AtProvider, Params, Payload, QueryAnswer, TaskInput};
use crate::client::Inner;
use crate::protocol::document::Document;
use crate::protocol::error::Error;
use crate::protocol::model::validate_model_id;
use crate::protocol::pipeline::{self as table, Input, Pipeline};
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
    /// A task of the table: `input` a text, texts, an object or bytes;
    /// `labels` zero-shot image classification's candidates.
    Pipeline {
        pipeline: &'static Pipeline,
        model: JsValue,
        input: JsValue,
        labels: Option<JsValue>,
        params: JsValue,
    },
    Images {
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

/// The model of a chat request, for tagging its errors (when it has one).
fn chat_model(request: &JsValue) -> Option<String> {
    request.member("model").and_then(|m| m.as_string())
}

/// One list for one text, one list per text for several.
fn lists(mut lists: Vec<JsValue>, many: bool) -> JsValue {
    if many {
        let array = Array::new();
        for list in &lists {
            array.push(list);
        }
        array.into()
    } else {
        lists.pop().unwrap_or_else(|| Array::new().into())
    }
}

/// Runs `job`, and names its model in every error after the model id itself.
async fn run(via: Via, job: Job, call_options: JsValue) -> Result<JsValue, Error> {
    let inner = via.client()?;
    let model = match &job {
        Job::Chat { request } | Job::Images { request } => chat_model(request),
        Job::Query { model, .. }
        | Job::TextClassification { model, .. }
        | Job::TextGeneration { model, .. }
        | Job::ClassifyImage { model, .. }
        | Job::ZeroShot { model, .. }
        | Job::Pipeline { model, .. } => {
            let model = read::model(model)?;
            validate_model_id(&model)?;
            Some(model)
        }
    };
    let id = model.clone().unwrap_or_default();
    // Boxed, as each task in it: 94 bytes of the gzipped client smaller.
    let result = perform(&inner, &id, job, call_options).boxed_local().await;
    result.map_err(|e| match &model {
        Some(model) => e.with_model(model),
        None => e,
    })
}

/// Reads `job`'s arguments and runs its task. Each task's future is boxed
/// (`boxed_local`): held inline, all eight made this one state machine, with
/// their drop glue, 281 bytes of the gzipped client larger.
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
                .boxed_local()
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
                .boxed_local()
                .await?;
            lists(found, many)
        }
        Job::ClassifyImage { image, params, .. } => {
            let image = read::image(&image)?;
            let params = read::params(&params)?;
            let options = read::call_options(&call_options)?;
            inner
                .classify_image(model, image, params, options.as_ref())
                .boxed_local()
                .await?
        }
        Job::TextGeneration { prompt, params, .. } => {
            let prompt = read::prompt(&prompt)?;
            let params = read::params(&params)?;
            let options = read::call_options(&call_options)?;
            let generated = inner
                .text_generation(model, &prompt, params, options.as_ref())
                .boxed_local()
                .await?;
            // `{generated_text, details?}`.
            let out = Members::new();
            out.text("generated_text", &generated.generated_text);
            if let Some(details) = &generated.details {
                out.set("details", details);
            }
            out.into_value()
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
            match inner
                .query(model, payload, options.as_ref())
                .boxed_local()
                .await?
            {
                QueryAnswer::Json(doc) => doc,
                QueryAnswer::Text(text) => JsValue::from_str(&text),
                QueryAnswer::Blob(blob) => blob.into(),
            }
        }
        Job::Chat { request } => {
            let options = read::call_options(&call_options)?;
            inner
                .chat_completion(&request, options.as_ref())
                .boxed_local()
                .await?
        }
        Job::Images { request } => {
            let options = read::call_options(&call_options)?;
            inner
                .image_generation(&request, options.as_ref())
                .boxed_local()
                .await?
        }
        Job::Pipeline {
            pipeline,
            input,
            labels,
            params,
            ..
        } => {
            let input = match pipeline.input {
                Input::Media => TaskInput::Media(read::bytes(&input).ok_or_else(|| {
                    Error::invalid_input(
                        pipeline.argument(),
                        "must be a Blob, an ArrayBuffer or a Uint8Array",
                    )
                })?),
                _ => TaskInput::Value(input),
            };
            let labels = labels.as_ref().map(read_labels).transpose()?;
            let params = read::params(&params)?;
            let options = read::call_options(&call_options)?;
            inner
                .pipeline(pipeline, model, input, labels, params, options.as_ref())
                .boxed_local()
                .await?
        }
    })
}

/// Starts `job`: a promise of its result, rejected with an `InferenceError`.
pub(crate) fn call(via: Via, job: Job, call_options: JsValue) -> Promise {
    promise_of(
        async move {
            run(via, job, call_options)
                .await
                .map_err(|e| to_js_error(&e))
        }
        .boxed_local(),
    )
}

/// The promise of `work`: one type of future for every promise of the JS
/// API (calls and stream pulls), so that the wasm holds one copy of
/// `future_to_promise`'s adapter (833 bytes of the wasm).
pub(crate) fn promise_of(work: LocalBoxFuture<'static, Result<JsValue, JsValue>>) -> Promise {
    future_to_promise(work)
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
                    .open_stream(
                        Task::Chat,
                        model,
                        (body, None),
                        Some(options),
                        AtProvider::Chat(Params(request.clone())),
                    )
                    // Boxed: 32 bytes of the gzipped client smaller each.
                    .boxed_local()
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
                let (body, legacy) =
                    Inner::generation_bodies(&model, &prompt, params.as_ref(), true)?;
                let bodies = (body, Some(legacy));
                let at_provider = AtProvider::Generation {
                    prompt,
                    params,
                    stream: true,
                };
                inner
                    .open_stream(
                        Task::TextGeneration,
                        model.clone(),
                        bodies,
                        Some(options),
                        at_provider,
                    )
                    // Boxed: 32 bytes of the gzipped client smaller each.
                    .boxed_local()
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

/// An OpenAI images request posted to `chatEndpoint`: the answer as sent.
#[wasm_bindgen(js_name = imageGeneration)]
pub fn image_generation_fn(request: JsValue, options: JsValue) -> Promise {
    call(
        Via::Options(options),
        Job::Images { request },
        JsValue::UNDEFINED,
    )
}

/// The method and the free function of each task of the table: `(model,
/// input, params?, options?)`, the free function's last argument the
/// client options.
macro_rules! table_tasks {
    ($($(#[doc = $doc:expr])* $js:ident, $method:ident, $function:ident, $row:ident;)*) => {
        #[wasm_bindgen(js_class = InferenceClient)]
        impl JsInferenceClient {
            $(
                $(#[doc = $doc])*
                #[wasm_bindgen(js_name = $js)]
                pub fn $method(
                    &self,
                    model: JsValue,
                    input: JsValue,
                    params: JsValue,
                    call_options: JsValue,
                ) -> Promise {
                    let job = Job::Pipeline { pipeline: &table::$row, model, input, labels: None, params };
                    call(self.via(), job, call_options)
                }
            )*
        }
        $(
            $(#[doc = $doc])*
            #[wasm_bindgen(js_name = $js)]
            pub fn $function(model: JsValue, input: JsValue, params: JsValue, options: JsValue) -> Promise {
                let job = Job::Pipeline { pipeline: &table::$row, model, input, labels: None, params };
                call(Via::Options(options), job, JsValue::UNDEFINED)
            }
        )*
    };
}

table_tasks! {
    /// Embeddings: `number[]` for a text, `number[][]` for texts.
    featureExtraction, feature_extraction, feature_extraction_fn, FEATURE_EXTRACTION;
    /// Similarity of `source_sentence` to each of `sentences`: `number[]`.
    sentenceSimilarity, sentence_similarity, sentence_similarity_fn, SENTENCE_SIMILARITY;
    /// An image from a prompt: a `Blob` of the image's type.
    textToImage, text_to_image, text_to_image_fn, TEXT_TO_IMAGE;
    /// `{summary_text}`.
    summarization, summarization, summarization_fn, SUMMARIZATION;
    /// `{translation_text}` (a list of them for several texts).
    translation, translation, translation_fn, TRANSLATION;
    /// Named entities: `[{entity_group, score, word, start, end}]`.
    tokenClassification, token_classification, token_classification_fn, TOKEN_CLASSIFICATION;
    /// `{answer, score, start, end}` from `{question, context}`.
    questionAnswering, question_answering, question_answering_fn, QUESTION_ANSWERING;
    /// `[{sequence, score, token, token_str}]`.
    fillMask, fill_mask, fill_mask_fn, FILL_MASK;
    /// `[{label, score, box}]` of an image.
    objectDetection, object_detection, object_detection_fn, OBJECT_DETECTION;
    /// `[{label, score, mask}]` of an image.
    imageSegmentation, image_segmentation, image_segmentation_fn, IMAGE_SEGMENTATION;
    /// `{generated_text}`: a caption of an image.
    imageToText, image_to_text, image_to_text_fn, IMAGE_TO_TEXT;
    /// `{text}`: the transcription of audio.
    automaticSpeechRecognition, automatic_speech_recognition, automatic_speech_recognition_fn, SPEECH_RECOGNITION;
    /// `[{label, score}]` of audio.
    audioClassification, audio_classification, audio_classification_fn, AUDIO_CLASSIFICATION;
}

/// Zero-shot image classification: `[{label, score}]`.
#[wasm_bindgen(js_name = zeroShotImageClassification)]
pub fn zero_shot_image_classification_fn(
    model: JsValue,
    image: JsValue,
    labels: JsValue,
    params: JsValue,
    options: JsValue,
) -> Promise {
    let job = zero_shot_image_job(model, image, labels, params);
    call(Via::Options(options), job, JsValue::UNDEFINED)
}

/// The job of `zeroShotImageClassification`.
pub(crate) fn zero_shot_image_job(
    model: JsValue,
    image: JsValue,
    labels: JsValue,
    params: JsValue,
) -> Job {
    Job::Pipeline {
        pipeline: &table::ZERO_SHOT_IMAGE_CLASSIFICATION,
        model,
        input: image,
        labels: Some(labels),
        params,
    }
}
