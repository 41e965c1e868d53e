//! The `BUDGETS` setting: daily and monthly caps in USD for every client,
//! per client key (each field inherits from `client` when absent), and for
//! the whole proxy; and the refusal a request gets when it would go over one.
//!
//! ```text
//! BUDGETS = {"client": {"daily_usd": 1, "monthly_usd": 10},
//!            "keys": {"mobile-app": {"daily_usd": 5}},
//!            "total": {"daily_usd": 50, "monthly_usd": 500}}
//! ```
//!
//! A field set to `null` is no cap, and a key's `null` does not inherit:
//! `{"keys": {"ops": {"daily_usd": null}}}` lifts the daily cap for `ops`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::protocol::error::Error;

use super::calendar::Period;
use super::money::{usd_text, MicroUsd};
use super::read::{config_error, json, member, micro_usd, object};

/// Whose cap it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// Every client's (`BUDGETS.client`).
    Client,
    /// One client key's (`BUDGETS.keys[name]`).
    Key(String),
    /// The whole proxy's (`BUDGETS.total`).
    Total,
}

/// One cap: whose, for which period, how much.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cap {
    /// Whose cap.
    pub scope: Scope,
    /// The period it caps.
    pub period: Period,
    /// The most that may be spent in a period.
    pub micro_usd: MicroUsd,
}

/// A field of a budget as written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Field {
    /// Absent: a key inherits `client`'s.
    #[default]
    Absent,
    /// `null`: no cap.
    Uncapped,
    /// A cap.
    Usd(MicroUsd),
}

impl Field {
    /// The cap this field sets, if any.
    fn cap(self, scope: Scope, period: Period) -> Option<Cap> {
        match self {
            Field::Usd(micro_usd) => Some(Cap {
                scope,
                period,
                micro_usd,
            }),
            Field::Absent | Field::Uncapped => None,
        }
    }
}

/// A budget's two fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Budget {
    daily: Field,
    monthly: Field,
}

/// The `BUDGETS` setting, read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Budgets {
    client: Budget,
    keys: BTreeMap<String, Budget>,
    total: Budget,
}

/// The members `BUDGETS` may have.
const BUDGETS_KEYS: [&str; 3] = ["client", "keys", "total"];

/// The members a budget may have.
const BUDGET_KEYS: [&str; 2] = ["daily_usd", "monthly_usd"];

impl Budgets {
    /// Reads `BUDGETS` from its text (JSON). A setting that caps nothing is
    /// refused: it is a mistake, and it would still need the `USAGE` binding.
    pub fn parse(text: &str) -> Result<Budgets, Error> {
        Budgets::from_json(&json("BUDGETS", text)?)
    }

    /// Reads `BUDGETS` from its JSON value (a `[vars]` table arrives as one).
    pub fn from_json(value: &Value) -> Result<Budgets, Error> {
        let members = object(value, "BUDGETS", Some(&BUDGETS_KEYS))?;
        let mut budgets = Budgets {
            client: budget(members, "client", "BUDGETS")?,
            total: budget(members, "total", "BUDGETS")?,
            keys: BTreeMap::new(),
        };
        if let Some(keys) = members.get("keys") {
            let keys = object(keys, "BUDGETS.keys", None)?;
            for name in keys.keys() {
                budgets
                    .keys
                    .insert(name.clone(), budget(keys, name, "BUDGETS.keys")?);
            }
        }
        let caps = |b: &Budget| {
            [b.daily, b.monthly]
                .iter()
                .any(|f| matches!(f, Field::Usd(_)))
        };
        if !caps(&budgets.client) && !caps(&budgets.total) && !budgets.keys.values().any(caps) {
            return Err(config_error("BUDGETS is set but sets no cap".to_owned()));
        }
        Ok(budgets)
    }

    /// The caps of a client: those of its key `key_name` (field by field,
    /// inheriting `client`'s), else those of every client. At most one a
    /// period.
    pub fn client_caps(&self, key_name: Option<&str>) -> Vec<Cap> {
        let own = key_name.and_then(|name| Some((name, self.keys.get(name)?)));
        let pick = |period: Period, field: fn(&Budget) -> Field| match own {
            Some((name, budget)) if field(budget) != Field::Absent => {
                field(budget).cap(Scope::Key(name.to_owned()), period)
            }
            _ => field(&self.client).cap(Scope::Client, period),
        };
        [
            pick(Period::Day, |b| b.daily),
            pick(Period::Month, |b| b.monthly),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The proxy's total caps.
    pub fn total_caps(&self) -> Vec<Cap> {
        [
            self.total.daily.cap(Scope::Total, Period::Day),
            self.total.monthly.cap(Scope::Total, Period::Month),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The key names `BUDGETS.keys` gives caps to (to check against the
    /// client keys' names: a budget for a name no key has is a typo).
    pub fn key_names(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
}

/// The budget `members[name]`, at `path`.
fn budget(members: &Map<String, Value>, name: &str, path: &str) -> Result<Budget, Error> {
    let Some(value) = members.get(name) else {
        return Ok(Budget::default());
    };
    let path = member(path, name);
    let fields = object(value, &path, Some(&BUDGET_KEYS))?;
    let field = |key: &str| match fields.get(key) {
        None => Ok(Field::Absent),
        Some(Value::Null) => Ok(Field::Uncapped),
        Some(value) => micro_usd(value, &format!("{path}.{key}")).map(Field::Usd),
    };
    Ok(Budget {
        daily: field("daily_usd")?,
        monthly: field("monthly_usd")?,
    })
}

/// A request refused because it would go over `cap`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The cap it would go over.
    pub cap: Cap,
    /// Seconds until the cap's period resets (`Retry-After`).
    pub retry_after_seconds: u64,
}

impl Refusal {
    /// The code a refusal is answered with (402).
    pub const CODE: &'static str = "BUDGET_EXCEEDED";

    /// The refusal's message, for the 402's JSON `error`. It names the cap
    /// and when it resets; never a token, nor what anyone has spent.
    pub fn message(&self) -> String {
        let (period, reset) = match self.cap.period {
            Period::Day => ("daily", "at 00:00 UTC"),
            Period::Month => ("monthly", "on the first of the month at 00:00 UTC"),
        };
        let usd = usd_text(self.cap.micro_usd);
        let whose = match &self.cap.scope {
            Scope::Client => format!("this client's {period} budget ({usd} USD)"),
            Scope::Key(name) => format!("the {period} budget of key {name:?} ({usd} USD)"),
            Scope::Total => format!("this proxy's {period} total budget ({usd} USD)"),
        };
        format!(
            "the request would go over {whose}; it resets {reset}, in {} s",
            self.retry_after_seconds
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::worker::usage::read::tests::assert_refused;
    use serde_json::json;

    /// The issue's example setting.
    pub(crate) const EXAMPLE: &str = r#"{"client": {"daily_usd": 1, "monthly_usd": 10},
        "keys": {"mobile-app": {"daily_usd": 5}},
        "total": {"daily_usd": 50, "monthly_usd": 500}}"#;

    pub(crate) fn cap(scope: Scope, period: Period, usd: u64) -> Cap {
        Cap {
            scope,
            period,
            micro_usd: usd * 1_000_000,
        }
    }

    fn key(name: &str) -> Scope {
        Scope::Key(name.to_owned())
    }

    #[test]
    fn a_key_inherits_each_field_it_does_not_set() {
        let budgets = Budgets::parse(EXAMPLE).unwrap();
        let every_client = vec![
            cap(Scope::Client, Period::Day, 1),
            cap(Scope::Client, Period::Month, 10),
        ];
        assert_eq!(budgets.client_caps(None), every_client);
        assert_eq!(budgets.client_caps(Some("other-key")), every_client);
        assert_eq!(
            budgets.client_caps(Some("mobile-app")),
            vec![
                cap(key("mobile-app"), Period::Day, 5),
                cap(Scope::Client, Period::Month, 10)
            ]
        );
        assert_eq!(
            budgets.total_caps(),
            vec![
                cap(Scope::Total, Period::Day, 50),
                cap(Scope::Total, Period::Month, 500)
            ]
        );
        assert_eq!(budgets.key_names().collect::<Vec<_>>(), ["mobile-app"]);
    }

    #[test]
    fn null_is_no_cap_and_is_not_inherited() {
        let budgets = Budgets::from_json(&json!({
            "client": {"daily_usd": 0.5},
            "keys": {"ops": {"daily_usd": null, "monthly_usd": 100}, "batch": {}}
        }))
        .unwrap();
        assert_eq!(
            budgets.client_caps(Some("ops")),
            vec![cap(key("ops"), Period::Month, 100)]
        );
        let half = Cap {
            scope: Scope::Client,
            period: Period::Day,
            micro_usd: 500_000,
        };
        assert_eq!(budgets.client_caps(Some("batch")), vec![half.clone()]);
        assert_eq!(budgets.client_caps(None), vec![half]);
        assert_eq!(budgets.total_caps(), vec![]);
        // Only a total: clients are not capped one by one.
        let total = Budgets::from_json(&json!({"total": {"monthly_usd": 20}})).unwrap();
        assert_eq!(total.client_caps(None), vec![]);
        assert_eq!(
            total.total_caps(),
            vec![cap(Scope::Total, Period::Month, 20)]
        );
    }

    #[test]
    fn malformed_members_are_named() {
        let cases = [
            (json!("5"), "BUDGETS must be a JSON object (it is a string)"),
            (json!({}), "BUDGETS is set but sets no cap"),
            (
                json!({"client": {"daily_usd": null}}),
                "BUDGETS is set but sets no cap",
            ),
            (
                json!({"clients": {}}),
                "BUDGETS has an unknown member \"clients\" (known: client, keys, total)",
            ),
            (
                json!({"client": {"daily": 1}}),
                "BUDGETS.client has an unknown member \"daily\" (known: daily_usd, monthly_usd)",
            ),
            (
                json!({"client": {"daily_usd": "1"}}),
                "BUDGETS.client.daily_usd must be a number of USD (it is a string)",
            ),
            (
                json!({"total": {"monthly_usd": -5}}),
                "BUDGETS.total.monthly_usd must be a number of USD from 0 to 1000000",
            ),
            (
                json!({"keys": ["mobile-app"]}),
                "BUDGETS.keys must be a JSON object (it is an array)",
            ),
            (
                json!({"keys": {"mobile-app": 5}}),
                "BUDGETS.keys.mobile-app must be a JSON object (it is a number)",
            ),
            (
                json!({"keys": {"my app": {"daily_usd": []}}}),
                "BUDGETS.keys[\"my app\"].daily_usd must be a number of USD (it is an array)",
            ),
        ];
        assert_refused("BUDGETS", Budgets::from_json, Budgets::parse, &cases);
    }

    #[test]
    fn a_refusal_names_the_cap_and_its_reset() {
        let refusal = |scope, period, usd, retry_after_seconds| {
            Refusal {
                cap: cap(scope, period, usd),
                retry_after_seconds,
            }
            .message()
        };
        assert_eq!(
            refusal(Scope::Client, Period::Day, 1, 3600),
            "the request would go over this client's daily budget (1 USD); it resets at 00:00 UTC, in 3600 s"
        );
        assert_eq!(
            refusal(key("mobile-app"), Period::Day, 5, 1),
            "the request would go over the daily budget of key \"mobile-app\" (5 USD); it resets at 00:00 UTC, in 1 s"
        );
        assert_eq!(
            refusal(Scope::Total, Period::Month, 500, 90_000),
            "the request would go over this proxy's monthly total budget (500 USD); it resets on the first of the month at 00:00 UTC, in 90000 s"
        );
        let small = Refusal {
            cap: Cap {
                scope: Scope::Client,
                period: Period::Month,
                micro_usd: 20_000,
            },
            retry_after_seconds: 7,
        };
        assert!(small.message().contains("(0.02 USD)"));
    }
}
