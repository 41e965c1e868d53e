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

// The npm package's allocator: talc is a fraction of dlmalloc's size in the
// wasm (docs/architecture.md). A Rust app that depends on the crate keeps
// its own allocator: this is only in the `js` build.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
