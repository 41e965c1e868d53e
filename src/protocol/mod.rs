//! Pure protocol: what goes on the wire and what comes back. No I/O, no JS
//! types; tested natively.

pub mod answer;
pub mod completion;
pub mod document;
pub mod error;
pub mod image;
pub mod model;
pub mod pipeline;
pub mod provider;
pub mod sse;
pub mod task;
pub(crate) mod text;
pub mod token;
