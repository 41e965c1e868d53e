//! hf-inference-wasm: a small, typed, resilient Hugging Face inference
//! client for WebAssembly.
//!
//! One implementation in Rust, used three ways: by Rust code compiled to
//! wasm32 (this crate's API: [`InferenceClient`]), by JavaScript (the npm
//! package, cargo feature `js`), and by the Cloudflare Workers proxy
//! (feature `worker`). The pure core ([`protocol`], [`policy`]) holds every
//! decision and is tested natively; [`client`] performs the calls through
//! the runtime's `fetch`.
#![deny(missing_docs)]

pub mod client;
pub mod policy;
pub mod protocol;

#[cfg(feature = "js")]
mod js;
#[cfg(feature = "worker")]
pub mod worker;

pub use client::{
    Answer, AttemptInfo, BatchOptions, BoundingBox, CallOptions, Caption, ChatCompletion,
    ChatCompletionChunk, ChatCompletionRequest, ChatMessage, ClientBuilder, Detection, Endpoint,
    Entity, Fill, GeneratedImage, GenerationDetails, ImageClassificationParameters,
    ImageGeneration, InferenceClient, Parameters, RetryOptions, Segment, Summary,
    TextClassificationParameters, TextGeneration, TextGenerationParameters,
    TextGenerationStreamChunk, Transcription, Translation, ZeroShotParameters,
};
pub use protocol::answer::Label;
pub use protocol::error::{Error, ErrorCode};
pub use protocol::token::Token;
