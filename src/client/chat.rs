//! OpenAI-compatible chat types of the Rust API (the router's `/v1`). Fields
//! follow the OpenAI wire names; what a provider adds beyond them is not kept
//! here (the JS API returns answers as sent).

use serde::{Deserialize, Serialize};

/// One message of a chat.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatMessage {
    /// `"system"`, `"user"`, `"assistant"` or `"tool"`.
    pub role: String,
    /// Its text (`None` for an assistant message that only calls tools).
    pub content: Option<String>,
}

impl ChatMessage {
    /// A message of `role` saying `content`.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: role.into(),
            content: Some(content.into()),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> ChatMessage {
        ChatMessage::new("user", content)
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> ChatMessage {
        ChatMessage::new("system", content)
    }
}

/// An OpenAI chat completion request; the model goes inside (optionally with
/// the router's `:provider` suffix).
///
/// ```ignore
/// let request = ChatCompletionRequest::new(
///     "meta-llama/Llama-3.1-8B-Instruct",
///     vec![ChatMessage::user("Hello!")],
/// )
/// .max_tokens(100);
/// let reply = hf.chat_completion(&request).await?;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionRequest {
    /// The model.
    pub model: String,
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// Tokens to generate at most.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Random seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
}

impl ChatCompletionRequest {
    /// A request to `model` with these messages.
    pub fn new(model: impl Into<String>, messages: Vec<ChatMessage>) -> ChatCompletionRequest {
        ChatCompletionRequest {
            model: model.into(),
            messages,
            ..ChatCompletionRequest::default()
        }
    }

    /// At most `n` tokens.
    pub fn max_tokens(mut self, n: u32) -> ChatCompletionRequest {
        self.max_tokens = Some(n);
        self
    }

    /// Sampling temperature.
    pub fn temperature(mut self, t: f64) -> ChatCompletionRequest {
        self.temperature = Some(t);
        self
    }
}

/// Token counts of a chat answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// Tokens of the prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// Both.
    pub total_tokens: u64,
}

/// One choice of a chat completion.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatChoice {
    /// Its index.
    pub index: u32,
    /// The assistant's message.
    pub message: ChatMessage,
    /// Why generation stopped.
    pub finish_reason: Option<String>,
}

/// A chat completion.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatCompletion {
    /// Upstream's id of the completion.
    pub id: String,
    /// `"chat.completion"`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The model that answered.
    pub model: String,
    /// The choices (one unless `n` was asked for).
    pub choices: Vec<ChatChoice>,
    /// Token counts, when upstream sent them.
    pub usage: Option<Usage>,
}

/// What a streamed chunk adds to a choice.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatDelta {
    /// The role, on the first chunk.
    pub role: Option<String>,
    /// More text.
    pub content: Option<String>,
}

/// One choice of a streamed chunk.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatChunkChoice {
    /// Its index.
    pub index: u32,
    /// What it adds.
    pub delta: ChatDelta,
    /// Why generation stopped, on the last chunk.
    pub finish_reason: Option<String>,
}

/// One chunk of a streamed chat completion.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatCompletionChunk {
    /// Upstream's id of the completion.
    pub id: String,
    /// `"chat.completion.chunk"`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The model that answers.
    pub model: String,
    /// The choices.
    pub choices: Vec<ChatChunkChoice>,
    /// Token counts, on the last chunk when upstream sends them.
    pub usage: Option<Usage>,
}
