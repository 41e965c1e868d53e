//! Typed results of the router's tasks in the Rust API, shaped as
//! `@huggingface/inference` returns them, and [`Parameters`] for their
//! parameters. Members upstream adds beyond these are not kept.

use serde::{Deserialize, Serialize, Serializer};
use wasm_bindgen::JsValue;

use super::json::to_js;
use super::tasks::Preserved;

/// Task parameters passed through as given, for the tasks without a typed
/// parameter struct (summarization's `max_length`, text-to-image's
/// `num_inference_steps`, ...).
///
/// ```ignore
/// let summary = hf
///     .summarization("facebook/bart-large-cnn", text)
///     .parameters(Parameters::new().set("max_length", 60))
///     .await?;
/// ```
#[derive(Clone, Debug)]
pub struct Parameters(JsValue);

impl Default for Parameters {
    fn default() -> Parameters {
        Parameters::new()
    }
}

impl Parameters {
    /// No parameters yet.
    pub fn new() -> Parameters {
        Parameters(js_sys::Object::new().into())
    }

    /// Sets parameter `name` (a value that cannot be written as JSON is left out).
    pub fn set(self, name: &str, value: impl Serialize) -> Parameters {
        if let Some(value) = to_js(&value) {
            let _ = js_sys::Reflect::set(&self.0, &JsValue::from_str(name), &value);
        }
        self
    }
}

impl Serialize for Parameters {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Preserved(&self.0).serialize(serializer)
    }
}

/// What `summarization` returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The summary.
    pub summary_text: String,
}

/// What `translation` returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Translation {
    /// The translation.
    pub translation_text: String,
}

/// One entity of `token_classification`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// Its group (`PER`, `LOC`, `ORG`, `MISC`, ...).
    pub entity_group: String,
    /// Its score.
    pub score: f64,
    /// The words, as in the text.
    pub word: String,
    /// Where it starts in the text (characters).
    pub start: u32,
    /// Where it ends.
    pub end: u32,
}

/// What `question_answering` returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The answer, a span of the context.
    pub answer: String,
    /// Its score.
    pub score: f64,
    /// Where it starts in the context (characters).
    pub start: u32,
    /// Where it ends.
    pub end: u32,
}

/// One candidate of `fill_mask`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fill {
    /// The text with the mask filled.
    pub sequence: String,
    /// Its score.
    pub score: f64,
    /// The token's id.
    pub token: u32,
    /// The token's text.
    pub token_str: String,
}

/// A box in pixels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox {
    /// Left.
    pub xmin: f64,
    /// Top.
    pub ymin: f64,
    /// Right.
    pub xmax: f64,
    /// Bottom.
    pub ymax: f64,
}

/// One object of `object_detection`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Its class.
    pub label: String,
    /// Its score.
    pub score: f64,
    /// Where it is.
    #[serde(rename = "box")]
    pub bounding_box: BoundingBox,
}

/// One segment of `image_segmentation`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Its class.
    pub label: String,
    /// Its score, when the model gives one.
    #[serde(default)]
    pub score: Option<f64>,
    /// The mask, a base64 PNG.
    pub mask: String,
}

/// What `image_to_text` returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Caption {
    /// The caption.
    pub generated_text: String,
}

/// What `automatic_speech_recognition` returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transcription {
    /// The transcribed text.
    pub text: String,
}

/// One image of an OpenAI images answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GeneratedImage {
    /// The image, base64 (with `response_format: "b64_json"`).
    pub b64_json: Option<String>,
    /// Where to fetch it (with `response_format: "url"`).
    pub url: Option<String>,
    /// The prompt as the model revised it.
    pub revised_prompt: Option<String>,
}

/// What `image_generation` returns: an OpenAI images answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageGeneration {
    /// When it was made (Unix seconds).
    pub created: Option<u64>,
    /// The images.
    pub data: Vec<GeneratedImage>,
}
