//! Pure, sans-IO decisions: when to retry, how long to wait, where to send.
//! Clock readings and randomness are passed in.

pub mod call;
pub mod random;
pub mod retry;
pub mod route;
