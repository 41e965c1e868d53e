//! hf-inference-wasm: a small, typed, resilient Hugging Face inference client
//! compiled to WebAssembly.
//!
//! The pure core ([`protocol`], [`policy`]) holds every decision and is tested
//! natively. In the browser package, JavaScript performs the I/O (fetch,
//! timers, abort signals, streams) and asks the core, through the `js`
//! module's synchronous exports, what to send, what an answer means and what
//! to do next. That build has no `std`: its panic and formatting machinery
//! alone would be larger than the whole client (see docs/architecture.md).
#![cfg_attr(
    all(target_arch = "wasm32", not(feature = "worker"), not(test)),
    no_std
)]
#![deny(missing_docs)]

extern crate alloc;

pub mod policy;
mod prelude;
pub mod protocol;

#[cfg(all(target_arch = "wasm32", not(feature = "worker")))]
mod js;
#[cfg(feature = "worker")]
pub mod worker;

pub use protocol::error::{ErrorCode, InferenceError};
pub use protocol::json::Json;
pub use protocol::response::{GeneratedText, LabelScore};
pub use protocol::task::Token;
