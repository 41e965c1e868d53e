//! The Cloudflare Workers proxy (feature `worker`): keeps the access token
//! server-side and forwards the Hugging Face protocol (task routes, chat and
//! images, provider routes, the Hub's provider mapping) under an allow-list
//! of models and providers, origin rules, client keys (each with its name
//! and its models), a rate limit, a body limit and a cache. Everything but
//! `handler`, `forward` and `lookup` is pure and tested natively; those
//! three run on workers-rs and forward through the client's attempt loop
//! and transport.

pub mod config;
pub mod hub;
pub mod keys;
pub mod log;
pub mod outbox;
pub mod patterns;
pub mod providers;
pub mod ratelimit;
pub mod rules;
pub mod usage;

#[cfg(target_arch = "wasm32")]
mod account;
#[cfg(target_arch = "wasm32")]
mod forward;
#[cfg(target_arch = "wasm32")]
mod handler;
#[cfg(target_arch = "wasm32")]
mod lookup;
#[cfg(target_arch = "wasm32")]
mod meter;
#[cfg(target_arch = "wasm32")]
mod pricing;
#[cfg(target_arch = "wasm32")]
mod relay;
#[cfg(target_arch = "wasm32")]
mod settlements;
