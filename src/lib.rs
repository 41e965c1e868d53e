//! hf-inference-wasm: a small, typed, resilient Hugging Face inference client
//! compiled to WebAssembly.
//!
//! The pure core ([`protocol`], [`policy`]) holds every decision and is tested
//! natively; the `js` module (wasm32 only) binds it to JavaScript.
#![deny(missing_docs)]

pub mod policy;
pub mod protocol;

#[cfg(target_arch = "wasm32")]
mod js;
#[cfg(feature = "worker")]
pub mod worker;

pub use protocol::error::{ErrorCode, InferenceError};
pub use protocol::json::Json;
pub use protocol::response::{GeneratedText, LabelScore};
pub use protocol::task::{TextInput, Token};
