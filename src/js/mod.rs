//! The wasm-bindgen layer: the only code that touches JavaScript. It reads
//! JS arguments into core types, runs the fetch, and turns results and
//! errors back into JS values.

mod client;
mod convert;
mod error;
mod fetch;
mod options;
