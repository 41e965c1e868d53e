//! The JSON of `GET /usage/me` and `GET /usage` (issue 13), from what the
//! `USAGE` objects report: a client's counts of today and this month, its
//! models', its caps and what every cap applying to it leaves.
//!
//! ```text
//! GET /usage/me -> {"client": "mobile-app", "day": {"requests": 4, "attempts": 4, "errors": 0,
//!                   "cache_hits": 0, "compute_seconds": 2.0, "prompt_tokens": 0,
//!                   "completion_tokens": 0, "cost_usd": 0.02, "budget_usd": 5,
//!                   "remaining_usd": 4.98}, "month": {...}, "models": {"<model>": {...}}}
//! GET /usage    -> {"clients": [<the /usage/me object of each client>],
//!                   "total": {"day": {...}, "month": {...}}, "next_cursor": null}
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::usage::budgets::Cap;
use super::usage::calendar::Period;
use super::usage::ledger::{Counters, Left};
use super::usage::money::{usd_json, MicroUsd};

/// What one `USAGE` object reports: its counts of today and this month
/// (and this month's per model), and what the caps it was asked about leave.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Today's counts.
    pub day: Counters,
    /// This month's counts.
    pub month: Counters,
    /// This month's counts per model.
    pub models: BTreeMap<String, Counters>,
    /// What the caps leave today (`None`: no daily cap).
    pub left_day: Option<MicroUsd>,
    /// What the caps leave this month (`None`: no monthly cap).
    pub left_month: Option<MicroUsd>,
}

impl Report {
    /// What its caps leave.
    pub fn left(&self) -> Left {
        Left {
            day: self.left_day,
            month: self.left_month,
        }
    }
}

/// The counters of a period (or a model) as JSON.
fn counters(c: &Counters) -> Map<String, Value> {
    let value = json!({
        "requests": c.requests,
        "attempts": c.attempts,
        "errors": c.errors,
        "cache_hits": c.cache_hits,
        "compute_seconds": c.compute_ms as f64 / 1000.0,
        "prompt_tokens": c.prompt_tokens,
        "completion_tokens": c.completion_tokens,
        "cost_usd": usd_json(c.cost_micro_usd),
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// A period's counters with its budget and what is left (`null`: no cap).
fn period(c: &Counters, budget: Option<MicroUsd>, left: Option<MicroUsd>) -> Value {
    let mut map = counters(c);
    let usd = |m: Option<MicroUsd>| m.map_or(Value::Null, usd_json);
    map.insert("budget_usd".to_owned(), usd(budget));
    map.insert("remaining_usd".to_owned(), usd(left));
    Value::Object(map)
}

/// The cap of `period` among `caps`.
fn cap(caps: &[Cap], of: Period) -> Option<MicroUsd> {
    caps.iter()
        .filter(|c| c.period == of)
        .map(|c| c.micro_usd)
        .min()
}

/// The `/usage/me` object of `client`: its own report and caps, and what
/// the total's caps leave (`remaining_usd` is the least of both).
pub fn client_json(client: &str, own: &Report, caps: &[Cap], total_left: Left) -> Value {
    let left = own.left().min(total_left);
    let models: Map<String, Value> = own
        .models
        .iter()
        .map(|(model, c)| (model.clone(), Value::Object(counters(c))))
        .collect();
    json!({
        "client": client,
        "day": period(&own.day, cap(caps, Period::Day), left.day),
        "month": period(&own.month, cap(caps, Period::Month), left.month),
        "models": models,
    })
}

/// The `total` member of `/usage`: the proxy's counts and its total caps.
pub fn total_json(total: &Report, caps: &[Cap]) -> Value {
    json!({
        "day": period(&total.day, cap(caps, Period::Day), total.left_day),
        "month": period(&total.month, cap(caps, Period::Month), total.left_month),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::usage::budgets::Budgets;

    #[test]
    fn the_issue_example() {
        let budgets = Budgets::parse(
            r#"{"client": {"daily_usd": 1, "monthly_usd": 10}, "keys": {"mobile-app": {"daily_usd": 5}}, "total": {"daily_usd": 50, "monthly_usd": 500}}"#,
        )
        .unwrap();
        let caps = budgets.client_caps(Some("mobile-app"));
        let day = Counters {
            requests: 4,
            attempts: 4,
            compute_ms: 2000,
            cost_micro_usd: 20_000,
            ..Counters::default()
        };
        let own = Report {
            day: day.clone(),
            month: day.clone(),
            models: [("gpt2".to_owned(), day)].into_iter().collect(),
            left_day: Some(4_980_000),
            left_month: Some(9_980_000),
        };
        let total = Left {
            day: Some(49_000_000),
            month: Some(5_000_000),
        };
        let got = client_json("mobile-app", &own, &caps, total);
        let want: Value = serde_json::from_str(
            r#"{"client":"mobile-app","day":{"attempts":4,"budget_usd":5,"cache_hits":0,"completion_tokens":0,"compute_seconds":2.0,"cost_usd":0.02,"errors":0,"prompt_tokens":0,"remaining_usd":4.98,"requests":4},"month":{"attempts":4,"budget_usd":10,"cache_hits":0,"completion_tokens":0,"compute_seconds":2.0,"cost_usd":0.02,"errors":0,"prompt_tokens":0,"remaining_usd":5,"requests":4},"models":{"gpt2":{"attempts":4,"cache_hits":0,"completion_tokens":0,"compute_seconds":2.0,"cost_usd":0.02,"errors":0,"prompt_tokens":0,"requests":4}}}"#,
        )
        .unwrap();
        assert_eq!(got, want);
        let none = client_json("ip:1", &Report::default(), &[], Left::default());
        assert_eq!(none["day"]["budget_usd"], Value::Null);
        assert_eq!(none["day"]["remaining_usd"], Value::Null);
    }
}
