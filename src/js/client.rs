//! The `InferenceClient` class of the JS API.

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::error::to_js_error;
use super::functions::{self as task, call, Job, Via};
use super::read;
use crate::client::InferenceClient;

/// A Hugging Face inference client; every method rejects with `InferenceError`.
#[wasm_bindgen(js_name = InferenceClient)]
pub struct JsInferenceClient {
    client: InferenceClient,
}

impl JsInferenceClient {
    pub(crate) fn via(&self) -> Via {
        Via::Client(self.client.inner.clone())
    }
}

#[wasm_bindgen(js_class = InferenceClient)]
impl JsInferenceClient {
    /// A client from its options; throws an `InferenceError` on bad ones.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<JsInferenceClient, JsValue> {
        read::client(&options)
            .map(|client| JsInferenceClient { client })
            .map_err(|e| to_js_error(&e))
    }

    /// Sends a payload as is: parsed JSON back, text, or a `Blob` for a binary answer.
    pub fn query(&self, model: JsValue, payload: JsValue, call_options: JsValue) -> Promise {
        call(self.via(), Job::Query { model, payload }, call_options)
    }

    /// Text classification: `[{label, score}]` (one list per text for `text[]`).
    #[wasm_bindgen(js_name = textClassification)]
    pub fn text_classification(
        &self,
        model: JsValue,
        text: JsValue,
        params: JsValue,
        call_options: JsValue,
    ) -> Promise {
        let job = Job::TextClassification {
            model,
            text,
            params,
        };
        call(self.via(), job, call_options)
    }

    /// Text generation: `{generated_text, details?}`.
    #[wasm_bindgen(js_name = textGeneration)]
    pub fn text_generation(
        &self,
        model: JsValue,
        prompt: JsValue,
        params: JsValue,
        call_options: JsValue,
    ) -> Promise {
        let job = Job::TextGeneration {
            model,
            prompt,
            params,
        };
        call(self.via(), job, call_options)
    }

    /// Image classification of raw image bytes: `[{label, score}]`.
    #[wasm_bindgen(js_name = classifyImage)]
    pub fn classify_image(
        &self,
        model: JsValue,
        image: JsValue,
        params: JsValue,
        call_options: JsValue,
    ) -> Promise {
        let job = Job::ClassifyImage {
            model,
            image,
            params,
        };
        call(self.via(), job, call_options)
    }

    /// Zero-shot classification: `[{label, score}]` sorted by score.
    #[wasm_bindgen(js_name = zeroShot)]
    pub fn zero_shot(
        &self,
        model: JsValue,
        text: JsValue,
        candidate_labels: JsValue,
        params: JsValue,
        call_options: JsValue,
    ) -> Promise {
        let job = Job::ZeroShot {
            model,
            text,
            labels: candidate_labels,
            params,
        };
        call(self.via(), job, call_options)
    }

    /// An OpenAI chat completion through `chatEndpoint`.
    #[wasm_bindgen(js_name = chatCompletion)]
    pub fn chat_completion(&self, request: JsValue, call_options: JsValue) -> Promise {
        call(self.via(), Job::Chat { request }, call_options)
    }

    /// An OpenAI images request posted to `chatEndpoint`: the answer as sent.
    #[wasm_bindgen(js_name = imageGeneration)]
    pub fn image_generation(&self, request: JsValue, call_options: JsValue) -> Promise {
        call(self.via(), Job::Images { request }, call_options)
    }

    /// Zero-shot image classification: `[{label, score}]`.
    #[wasm_bindgen(js_name = zeroShotImageClassification)]
    pub fn zero_shot_image_classification(
        &self,
        model: JsValue,
        image: JsValue,
        candidate_labels: JsValue,
        params: JsValue,
        call_options: JsValue,
    ) -> Promise {
        let job = task::zero_shot_image_job(model, image, candidate_labels, params);
        call(self.via(), job, call_options)
    }

    /// A streamed OpenAI chat completion: an async iterator of chunks.
    #[wasm_bindgen(js_name = chatCompletionStream)]
    pub fn chat_completion_stream(&self, request: JsValue, call_options: JsValue) -> JsValue {
        task::chat_completion_stream(self.via(), request, call_options)
    }

    /// A streamed text generation: an async iterator of TGI chunks.
    #[wasm_bindgen(js_name = textGenerationStream)]
    pub fn text_generation_stream(
        &self,
        model: JsValue,
        prompt: JsValue,
        params: JsValue,
        call_options: JsValue,
    ) -> JsValue {
        task::text_generation_stream(self.via(), model, prompt, params, call_options)
    }
}
