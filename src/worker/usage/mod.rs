//! Usage accounting and budgets (issue 13), as pure state: what an answer
//! cost, the settings that price and cap it, the counts one `USAGE` Durable
//! Object keeps per client (and one for the whole proxy), and the JSON the
//! `/usage` routes answer. Nothing here touches the Workers runtime: the
//! clock is passed in, so the roll-over at UTC midnight and at the first of
//! a month is tested natively.
//!
//! Money is integer micro-USD ([`money`]), shown as USD numbers only in
//! answers and messages.

pub mod budgets;
pub mod calendar;
pub mod cost;
pub mod index;
pub mod ledger;
pub mod money;
pub mod prices;
mod read;
pub mod report;
pub mod tokens;
