//! The wasm-bindgen layer: the only code that touches JavaScript. It reads
//! JS arguments into core types, runs the fetch, and turns results and
//! errors back into JS values. The proxy worker build uses only `fetch`.

#[cfg(not(feature = "worker"))]
mod client;
#[cfg(not(feature = "worker"))]
mod coalesce;
#[cfg(not(feature = "worker"))]
mod convert;
#[cfg(not(feature = "worker"))]
mod error;
pub(crate) mod fetch;
#[cfg(not(feature = "worker"))]
mod options;
#[cfg(not(feature = "worker"))]
mod payload;
#[cfg(not(feature = "worker"))]
mod stream;
#[cfg(not(feature = "worker"))]
mod transport;
