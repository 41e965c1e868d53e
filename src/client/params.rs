//! Typed task parameters and results of the Rust API. The fields use the
//! Hugging Face wire names; parameters left `None` are not sent.

use serde::{Deserialize, Serialize};

/// Parameters of `text_classification`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TextClassificationParameters {
    /// How many classes to return.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// `"sigmoid"`, `"softmax"` or `"none"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_to_apply: Option<String>,
}

/// Parameters of `classify_image`. With any set, the image travels as
/// base64 inside JSON, as the protocol requires.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageClassificationParameters {
    /// How many classes to return.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// `"sigmoid"`, `"softmax"` or `"none"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_to_apply: Option<String>,
}

/// Parameters of `zero_shot` (the candidate labels are an argument).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ZeroShotParameters {
    /// Several labels may be true at once (scores do not sum to 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_label: Option<bool>,
    /// The hypothesis, e.g. `"This example is {}."`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hypothesis_template: Option<String>,
}

/// Parameters of `text_generation` and `text_generation_stream`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TextGenerationParameters {
    /// Tokens to generate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_new_tokens: Option<u32>,
    /// Total length, prompt included (gpt2 and other models of the legacy
    /// pipeline take it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Top-k sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Nucleus sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Repetition penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
    /// Whether the answer starts with the prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_full_text: Option<bool>,
    /// Sample rather than decode greedily.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub do_sample: Option<bool>,
    /// Random seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    /// Ask for `details` in the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<bool>,
}

/// What `text_generation` returns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TextGeneration {
    /// The generated text.
    pub generated_text: String,
    /// Upstream's details, when asked for with `details: Some(true)`.
    pub details: Option<GenerationDetails>,
}

/// The `details` of a generation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerationDetails {
    /// Why generation stopped (`"length"`, `"eos_token"`, `"stop_sequence"`).
    pub finish_reason: Option<String>,
    /// Tokens generated.
    pub generated_tokens: Option<u32>,
    /// The seed used, when sampling.
    pub seed: Option<u64>,
}

/// One token of a streamed generation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamToken {
    /// Token id.
    pub id: u32,
    /// Its text.
    pub text: String,
    /// Its log-probability.
    pub logprob: Option<f64>,
    /// Whether it is a special token.
    pub special: bool,
}

/// One chunk of a streamed text generation (TGI's shape).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TextGenerationStreamChunk {
    /// The token.
    pub token: StreamToken,
    /// The whole text, on the last chunk only.
    pub generated_text: Option<String>,
    /// Details, on the last chunk, when asked for.
    pub details: Option<GenerationDetails>,
}
