//! The browser package's wasm exports: synchronous calls into the pure core.
//!
//! JavaScript (pkg-template/client.js) performs every I/O step: fetch,
//! timers, abort signals, reading bodies. It asks this layer what to send
//! (`request_body`, `Engine::call`), what an answer means (`Call::finish`,
//! `parse_result`, `Events`) and whether to wait and try again. Only strings,
//! bytes and numbers cross the boundary, so the wasm carries no async runtime
//! and no JS bindings beyond wasm-bindgen's string glue (docs/architecture.md).

mod codec;
mod engine;
#[cfg(not(test))]
mod memory;
mod wire;
