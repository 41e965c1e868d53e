//! Pure, sans-IO decisions: when to wait and retry. Clock and randomness are injected.

pub mod retry;
