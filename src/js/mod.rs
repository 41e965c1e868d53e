//! The JavaScript API of the npm package (cargo feature `js`): the
//! `InferenceClient` class and the free functions, exported with
//! `#[wasm_bindgen]` as thin adapters over the Rust client. Arguments and
//! options are read with serde-wasm-bindgen and checked here with errors
//! that name them; results go back as plain JS values; every failure becomes
//! an `InferenceError` (pkg-template/inference_error.js) with its `code`.

mod client;
mod error;
mod functions;
mod read;
mod stream;
