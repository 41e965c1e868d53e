//! Pure protocol: what goes on the wire and what comes back. No I/O, no JS.

pub mod error;
pub mod json;
pub mod response;
pub mod sse;
pub mod task;
pub mod text;
