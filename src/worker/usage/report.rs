//! The JSON the usage routes answer: `GET /usage/me` (a client's day and
//! month with its budget and what is left, and its models' counts this
//! month) and `GET /usage` (a page of clients, and the proxy's total).
//!
//! ```text
//! GET /usage/me -> {"client": "mobile-app", "day": {"requests": 4, "attempts": 4, "errors": 0, "cache_hits": 0,
//!                   "compute_seconds": 2.0, "prompt_tokens": 0, "completion_tokens": 0,
//!                   "cost_usd": 0.02, "budget_usd": 5, "remaining_usd": 4.98},
//!                   "month": {...}, "models": {"<model>": {...the counters...}}}
//! GET /usage    -> {"clients": [<the /usage/me object of each client>], "total": {"day": {...}, "month": {...}},
//!                   "next_cursor": null}
//! ```

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::budgets::Cap;
use super::calendar::Period;
use super::ledger::{Counters, Ledger, Left};
use super::money::{usd_json, MicroUsd};

/// A period's or a model's counts, as answered.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CountersReport {
    /// Requests forwarded.
    pub requests: u64,
    /// Upstream attempts.
    pub attempts: u64,
    /// Requests that ended in an error.
    pub errors: u64,
    /// Requests answered from the cache.
    pub cache_hits: u64,
    /// Upstream compute time, in seconds.
    pub compute_seconds: f64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cost, in USD.
    pub cost_usd: Value,
    /// Some of the cost is the proxy's estimate, not what upstream will
    /// bill (a reservation's estimate, tokens of a stream cut short).
    pub cost_estimated: bool,
}

impl From<&Counters> for CountersReport {
    fn from(c: &Counters) -> CountersReport {
        CountersReport {
            requests: c.requests,
            attempts: c.attempts,
            errors: c.errors,
            cache_hits: c.cache_hits,
            compute_seconds: c.compute_ms as f64 / 1000.0,
            prompt_tokens: c.prompt_tokens,
            completion_tokens: c.completion_tokens,
            cost_usd: usd_json(c.cost_micro_usd),
            cost_estimated: c.estimated,
        }
    }
}

/// A period's counts with its budget, as answered.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PeriodReport {
    /// The counts.
    #[serde(flatten)]
    pub counters: CountersReport,
    /// The cap of the period (`null`: none).
    pub budget_usd: Option<Value>,
    /// The least any applying cap leaves (`null`: no cap applies).
    pub remaining_usd: Option<Value>,
}

/// `GET /usage/me`: one client's usage.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClientReport {
    /// The client's name (its key's name, else its address).
    pub client: String,
    /// Today (UTC).
    pub day: PeriodReport,
    /// This month (UTC).
    pub month: PeriodReport,
    /// This month's counts per model.
    pub models: BTreeMap<String, CountersReport>,
}

/// The proxy's total, on `GET /usage`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TotalReport {
    /// Today (UTC).
    pub day: PeriodReport,
    /// This month (UTC).
    pub month: PeriodReport,
}

/// `GET /usage`: a page of clients and the proxy's total.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PageReport {
    /// Each client's `/usage/me` object (as its own object answered it).
    pub clients: Vec<Value>,
    /// The proxy's total.
    pub total: TotalReport,
    /// The cursor of the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// `client`'s report from its ledger and its caps at `now_ms`; `others`
/// is what the caps kept elsewhere (the proxy's total) leave, which
/// `remaining_usd` takes into account.
pub fn client_report(
    client: &str,
    ledger: &Ledger,
    caps: &[Cap],
    others: Left,
    now_ms: u64,
) -> ClientReport {
    let models = ledger
        .month(now_ms)
        .map(|month| {
            month
                .models
                .iter()
                .map(|(model, counters)| (model.clone(), counters.into()))
                .collect()
        })
        .unwrap_or_default();
    let (day, month) = periods(ledger, caps, others, now_ms);
    ClientReport {
        client: client.to_owned(),
        day,
        month,
        models,
    }
}

/// The proxy's total from the total object's ledger and caps.
pub fn total_report(ledger: &Ledger, caps: &[Cap], now_ms: u64) -> TotalReport {
    let (day, month) = periods(ledger, caps, Left::default(), now_ms);
    TotalReport { day, month }
}

/// The day's and the month's reports.
fn periods(
    ledger: &Ledger,
    caps: &[Cap],
    others: Left,
    now_ms: u64,
) -> (PeriodReport, PeriodReport) {
    let left = ledger.left(caps, now_ms).min(others);
    let report = |period: Period, left: Option<MicroUsd>| {
        let totals = match period {
            Period::Day => ledger.day(now_ms),
            Period::Month => ledger.month(now_ms),
        };
        PeriodReport {
            counters: totals
                .map(|t| &t.all)
                .unwrap_or(&Counters::default())
                .into(),
            budget_usd: caps
                .iter()
                .find(|cap| cap.period == period)
                .map(|cap| usd_json(cap.micro_usd)),
            remaining_usd: left.map(usd_json),
        }
    };
    (
        report(Period::Day, left.day),
        report(Period::Month, left.month),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::usage::budgets::tests::EXAMPLE;
    use crate::worker::usage::budgets::Budgets;
    use crate::worker::usage::calendar::tests::at;
    use crate::worker::usage::cost::{Cost, Tokens};
    use crate::worker::usage::ledger::Usage;
    use crate::worker::usage::money::MICROS_PER_USD;

    const GEMMA: &str = "google/gemma-2-2b-it";

    /// 2026-12-01 at noon UTC.
    fn noon() -> u64 {
        at(2026, 12, 1, (12, 0, 0))
    }

    /// A ledger with the issue's four requests today: 0.5 s and 0.005 USD
    /// each.
    fn four_requests(ledger: &mut Ledger, now_ms: u64) {
        for _ in 0..4 {
            let id = ledger.reserve(1_000, &[], now_ms).unwrap();
            let usage = Usage {
                model: GEMMA.into(),
                attempts: 1,
                compute_ms: 500,
                cost: Some(Cost {
                    micro_usd: 5_000,
                    estimated: false,
                }),
                ..Usage::default()
            };
            ledger.settle(id, &usage, now_ms);
        }
    }

    /// `budgets` (the issue's example without one) and a ledger with
    /// [`four_requests`] at noon.
    fn four_at_noon(budgets: Option<&str>) -> (Budgets, Ledger) {
        let mut ledger = Ledger::default();
        four_requests(&mut ledger, noon());
        (Budgets::parse(budgets.unwrap_or(EXAMPLE)).unwrap(), ledger)
    }

    /// A client's report at noon, nothing capped elsewhere.
    fn at_noon(client: &str, ledger: &Ledger, caps: &[Cap]) -> ClientReport {
        client_report(client, ledger, caps, Left::default(), noon())
    }

    #[test]
    fn the_issues_usage_me_object() {
        let (budgets, ledger) = four_at_noon(None);
        let report = at_noon(
            "mobile-app",
            &ledger,
            &budgets.client_caps(Some("mobile-app")),
        );
        // The issue's fields in its order, and one more: `cost_estimated`.
        let counters = r#""requests":4,"attempts":4,"errors":0,"cache_hits":0,"compute_seconds":2.0,"prompt_tokens":0,"completion_tokens":0,"cost_usd":0.02,"cost_estimated":false"#;
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            format!(
                r#"{{"client":"mobile-app","day":{{{counters},"budget_usd":5,"remaining_usd":4.98}},"month":{{{counters},"budget_usd":10,"remaining_usd":9.98}},"models":{{"{GEMMA}":{{{counters}}}}}}}"#
            )
        );
    }

    #[test]
    fn remaining_is_the_least_any_cap_leaves_and_null_without_one() {
        let (budgets, mut ledger) = four_at_noon(Some(
            r#"{"client": {"daily_usd": 1}, "total": {"daily_usd": 50, "monthly_usd": 0.015}}"#,
        ));
        let caps = budgets.client_caps(None);
        // Nothing capped: every budget field is null.
        let free = at_noon("ip:10.0.0.1", &ledger, &[]);
        assert_eq!(
            (free.day.budget_usd.clone(), free.day.remaining_usd.clone()),
            (None, None)
        );
        let json = serde_json::to_value(&free).unwrap();
        assert_eq!(json["month"]["budget_usd"], Value::Null);
        assert_eq!(json["month"]["remaining_usd"], Value::Null);
        assert!(json["models"][GEMMA].get("budget_usd").is_none());
        // The total's month cap, spent elsewhere down to 0.001, leaves the
        // least; the day's client cap still leaves less than the total's.
        let mut total = Ledger::default();
        let id = total.reserve(0, &[], noon()).unwrap();
        let elsewhere = Usage {
            cost: Some(Cost {
                micro_usd: 14_000,
                estimated: false,
            }),
            ..Usage::default()
        };
        total.settle(id, &elsewhere, noon());
        let others = total.left(&budgets.total_caps(), noon());
        let report = client_report("ip:10.0.0.1", &ledger, &caps, others, noon());
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["day"]["budget_usd"], 1);
        assert_eq!(json["day"]["remaining_usd"], 0.98);
        assert_eq!(json["month"]["budget_usd"], Value::Null);
        assert_eq!(json["month"]["remaining_usd"], 0.001);
        // Open reservations are taken off too, and nothing goes below 0.
        ledger.reserve(10_000, &[], noon()).unwrap();
        let report = at_noon("ip:10.0.0.1", &ledger, &caps);
        assert_eq!(report.day.remaining_usd, Some(usd_json(970_000)));
        ledger.reserve(2 * MICROS_PER_USD, &[], noon()).unwrap();
        let report = at_noon("ip:10.0.0.1", &ledger, &caps);
        assert_eq!(report.day.remaining_usd, Some(0.into()));
    }

    #[test]
    fn a_new_day_reports_zero_and_models_are_this_months() {
        let mut ledger = Ledger::default();
        four_requests(&mut ledger, noon());
        let chat = Usage {
            model: "meta-llama/Llama-3.1-8B-Instruct".into(),
            attempts: 2,
            error: true,
            tokens: Tokens {
                prompt: 12,
                completion: 34,
            },
            ..Usage::default()
        };
        let tomorrow = noon() + 86_400_000;
        let id = ledger.reserve(700, &[], tomorrow).unwrap();
        ledger.settle(id, &chat, tomorrow);
        let report = client_report("batch", &ledger, &[], Left::default(), tomorrow);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["day"]["requests"], 1);
        assert_eq!(json["day"]["errors"], 1);
        assert_eq!(json["day"]["compute_seconds"], 0.0);
        assert_eq!(json["day"]["cost_usd"], 0.0007);
        assert_eq!(json["month"]["requests"], 5);
        assert_eq!(json["month"]["attempts"], 6);
        assert_eq!(json["month"]["cost_usd"], 0.0207);
        let models = json["models"].as_object().unwrap();
        assert_eq!(models.len(), 2);
        assert_eq!(
            models["meta-llama/Llama-3.1-8B-Instruct"]["prompt_tokens"],
            12
        );
        assert_eq!(
            models["meta-llama/Llama-3.1-8B-Instruct"]["completion_tokens"],
            34
        );
        // A new month: nothing counted, no models.
        let next_month = at(2027, 1, 1, (0, 0, 0));
        let report = client_report("batch", &ledger, &[], Left::default(), next_month);
        assert_eq!(report.month.counters.requests, 0);
        assert_eq!(
            serde_json::to_value(&report.month.counters.cost_usd).unwrap(),
            0
        );
        assert!(report.models.is_empty());
    }

    #[test]
    fn the_admin_page() {
        let (budgets, total) = four_at_noon(None);
        let client = at_noon("batch", &total, &budgets.client_caps(None));
        let page = PageReport {
            clients: vec![serde_json::to_value(&client).unwrap()],
            total: total_report(&total, &budgets.total_caps(), noon()),
            next_cursor: None,
        };
        let json = serde_json::to_value(&page).unwrap();
        assert_eq!(json["clients"][0]["client"], "batch");
        assert_eq!(json["total"]["day"]["requests"], 4);
        assert_eq!(json["total"]["day"]["budget_usd"], 50);
        assert_eq!(json["total"]["day"]["remaining_usd"], 49.98);
        assert_eq!(json["total"]["month"]["remaining_usd"], 499.98);
        assert!(json["total"].get("models").is_none());
        assert_eq!(json["next_cursor"], Value::Null);
        let mut keys: Vec<_> = json.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["clients", "next_cursor", "total"]);
    }
}
