//! The Cloudflare Workers proxy (feature `worker`): keeps the access token
//! server-side and forwards the Hugging Face protocol under an allow-list,
//! origin rules, client keys, a rate limit, a body limit and a cache.
//! Everything but `handler` is pure and tested natively; `handler` runs on
//! workers-rs and forwards through the client's attempt loop and transport.

pub mod config;
pub mod log;
pub mod patterns;
pub mod ratelimit;
pub mod rules;

#[cfg(target_arch = "wasm32")]
mod handler;
