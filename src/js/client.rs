//! The `InferenceClient` class of the JS API.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::error::to_js_error;
use super::functions as task;
use super::read;
use crate::client::InferenceClient;

/// A Hugging Face inference client; every method rejects with `InferenceError`.
#[wasm_bindgen(js_name = InferenceClient)]
pub struct JsInferenceClient {
    client: InferenceClient,
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
        let inner = self.client.inner.clone();
        future_to_promise(task::query(inner, model, payload, call_options))
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
        let inner = self.client.inner.clone();
        future_to_promise(task::text_classification(
            inner,
            model,
            text,
            params,
            call_options,
        ))
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
        let inner = self.client.inner.clone();
        future_to_promise(task::text_generation(
            inner,
            model,
            prompt,
            params,
            call_options,
        ))
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
        let inner = self.client.inner.clone();
        future_to_promise(task::classify_image(
            inner,
            model,
            image,
            params,
            call_options,
        ))
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
        let inner = self.client.inner.clone();
        future_to_promise(task::zero_shot(
            inner,
            model,
            text,
            candidate_labels,
            params,
            call_options,
        ))
    }

    /// An OpenAI chat completion through `chatEndpoint`.
    #[wasm_bindgen(js_name = chatCompletion)]
    pub fn chat_completion(&self, request: JsValue, call_options: JsValue) -> Promise {
        let inner = self.client.inner.clone();
        future_to_promise(task::chat_completion(inner, request, call_options))
    }

    /// A streamed OpenAI chat completion: an async iterator of chunks.
    #[wasm_bindgen(js_name = chatCompletionStream)]
    pub fn chat_completion_stream(&self, request: JsValue, call_options: JsValue) -> JsValue {
        task::chat_completion_stream(self.client.inner.clone(), request, call_options)
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
        task::text_generation_stream(
            self.client.inner.clone(),
            model,
            prompt,
            params,
            call_options,
        )
    }
}
