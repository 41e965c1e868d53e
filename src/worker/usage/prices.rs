//! What things cost: the `PRICES` setting (compute per second by hardware,
//! per-token and per-request prices by model) and the router's own pricing
//! table (`GET /v1/models`, which the handler fetches and caches off the
//! request path and hands in here).
//!
//! ```text
//! PRICES = {"compute": {"cpu": 0.00012, "2-a10-g": 0.0011, "cache": 0},
//!           "default_compute_per_second": 0.00012, "default_request_usd": 0.001,
//!           "models": {"meta-llama/Llama-3.1-8B-Instruct":
//!                      {"input_per_million": 0.1, "output_per_million": 0.2, "request_usd": 0.0005}}}
//! ```

use std::collections::BTreeMap;

use serde_json::Value;

use crate::protocol::error::Error;

use super::money::{micros, picos, MicroUsd, PicoUsd};
use super::read::{config_error, json, member, micro_usd, object, usd};

/// The compute type of an answer served from hf-inference's cache.
pub const CACHE_COMPUTE_TYPE: &str = "cache";

/// The price of a compute second when `PRICES` does not set
/// `default_compute_per_second`: the issue's figure for `cpu`.
pub const DEFAULT_COMPUTE_PER_SECOND_USD: f64 = 0.00012;

/// The reservation of a request when `PRICES` does not set
/// `default_request_usd` (and the model has neither a price nor a history).
pub const DEFAULT_REQUEST_USD: f64 = 0.001;

/// A per-token price, input and output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenPrice {
    /// Pico-USD per prompt token (= micro-USD per million).
    pub input: PicoUsd,
    /// Pico-USD per completion token.
    pub output: PicoUsd,
}

/// What `PRICES.models` says of one model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModelPrice {
    /// Its per-token price, when both halves are set.
    pub tokens: Option<TokenPrice>,
    /// What one request reserves before it is forwarded.
    pub request: Option<MicroUsd>,
}

/// The `PRICES` setting, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prices {
    /// Pico-USD per compute second, by `x-compute-type`.
    compute: BTreeMap<String, PicoUsd>,
    /// Pico-USD per compute second of a type `compute` does not list.
    pub default_compute_per_second: PicoUsd,
    /// Micro-USD a request reserves without a better estimate.
    pub default_request: MicroUsd,
    models: BTreeMap<String, ModelPrice>,
}

impl Default for Prices {
    /// The prices when `PRICES` is not set: every compute type at
    /// [`DEFAULT_COMPUTE_PER_SECOND_USD`] (but `cache`, which is free), no
    /// model priced.
    fn default() -> Prices {
        Prices {
            compute: BTreeMap::new(),
            default_compute_per_second: picos(DEFAULT_COMPUTE_PER_SECOND_USD).unwrap_or(0),
            default_request: micros(DEFAULT_REQUEST_USD).unwrap_or(0),
            models: BTreeMap::new(),
        }
    }
}

/// The members `PRICES` may have.
const PRICES_KEYS: [&str; 4] = [
    "compute",
    "default_compute_per_second",
    "default_request_usd",
    "models",
];

/// The members a `PRICES.models` entry may have.
const MODEL_KEYS: [&str; 3] = ["input_per_million", "output_per_million", "request_usd"];

impl Prices {
    /// Reads `PRICES` from its text (JSON); every member is optional and
    /// falls back to [`Prices::default`].
    pub fn parse(text: &str) -> Result<Prices, Error> {
        Prices::from_json(&json("PRICES", text)?)
    }

    /// Reads `PRICES` from its JSON value (a `[vars]` table arrives as one).
    pub fn from_json(value: &Value) -> Result<Prices, Error> {
        let members = object(value, "PRICES", Some(&PRICES_KEYS))?;
        let mut prices = Prices::default();
        if let Some(value) = members.get("default_compute_per_second") {
            prices.default_compute_per_second =
                per_second(value, "PRICES.default_compute_per_second")?;
        }
        if let Some(value) = members.get("default_request_usd") {
            prices.default_request = micro_usd(value, "PRICES.default_request_usd")?;
        }
        if let Some(compute) = members.get("compute") {
            for (hardware, value) in object(compute, "PRICES.compute", None)? {
                let path = member("PRICES.compute", hardware);
                let price = per_second(value, &path)?;
                // hf-inference does not bill a cached answer; a price for it
                // would be a mistake, not a choice.
                if hardware == CACHE_COMPUTE_TYPE && price != 0 {
                    return Err(config_error(format!(
                        "{path} must be 0: a cached answer costs nothing"
                    )));
                }
                prices.compute.insert(hardware.clone(), price);
            }
        }
        if let Some(models) = members.get("models") {
            for (model, value) in object(models, "PRICES.models", None)? {
                let path = member("PRICES.models", model);
                prices
                    .models
                    .insert(model.clone(), model_price(value, &path)?);
            }
        }
        Ok(prices)
    }

    /// Pico-USD per compute second on `hardware` (an `x-compute-type`):
    /// nothing for `cache`, the listed price, else the default.
    pub fn compute_per_second(&self, hardware: &str) -> PicoUsd {
        if hardware == CACHE_COMPUTE_TYPE {
            return 0;
        }
        self.compute
            .get(hardware)
            .copied()
            .unwrap_or(self.default_compute_per_second)
    }

    /// What `PRICES.models` says of `model`.
    pub fn model(&self, model: &str) -> Option<&ModelPrice> {
        self.models.get(model)
    }
}

/// A price per second (USD) in pico-USD.
fn per_second(value: &Value, path: &str) -> Result<PicoUsd, Error> {
    usd(value, path).map(|usd| picos(usd).unwrap_or(0))
}

/// One `PRICES.models` entry.
fn model_price(value: &Value, path: &str) -> Result<ModelPrice, Error> {
    let members = object(value, path, Some(&MODEL_KEYS))?;
    // Micro-USD per million tokens is pico-USD per token.
    let per_token = |key: &str| {
        members
            .get(key)
            .map(|v| micro_usd(v, &format!("{path}.{key}")))
            .transpose()
    };
    let tokens = match (
        per_token("input_per_million")?,
        per_token("output_per_million")?,
    ) {
        (Some(input), Some(output)) => Some(TokenPrice { input, output }),
        (None, None) => None,
        // Half a price would bill the other half as free.
        _ => {
            return Err(config_error(format!(
                "{path} must set both input_per_million and output_per_million, or neither"
            )))
        }
    };
    let request = members
        .get("request_usd")
        .map(|v| micro_usd(v, &format!("{path}.request_usd")))
        .transpose()?;
    Ok(ModelPrice { tokens, request })
}

/// The router's per-token prices, by model and provider, as `GET /v1/models`
/// lists them (`data[].providers[].pricing.{input, output}`, USD per million
/// tokens).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouterPrices {
    by_model: BTreeMap<String, BTreeMap<String, TokenPrice>>,
}

impl RouterPrices {
    /// Reads the router's model list. Entries it cannot price (no pricing,
    /// a price that is no number) are left out: the answer is then
    /// estimated by its reservation, as for a model the router does not list.
    pub fn from_models(list: &Value) -> RouterPrices {
        let mut prices = RouterPrices::default();
        let models = list.get("data").and_then(Value::as_array);
        for model in models.into_iter().flatten() {
            let Some(id) = model.get("id").and_then(Value::as_str) else {
                continue;
            };
            let providers = model.get("providers").and_then(Value::as_array);
            for provider in providers.into_iter().flatten() {
                let name = provider.get("provider").and_then(Value::as_str);
                let pricing = provider.get("pricing");
                let half = |key: &str| {
                    pricing
                        .and_then(|p| p.get(key))
                        .and_then(Value::as_f64)
                        .and_then(micros)
                };
                if let (Some(name), Some(input), Some(output)) =
                    (name, half("input"), half("output"))
                {
                    prices
                        .by_model
                        .entry(id.to_owned())
                        .or_default()
                        .insert(name.to_owned(), TokenPrice { input, output });
                }
            }
        }
        prices
    }

    /// The router's price of `model` at `provider`.
    pub fn get(&self, model: &str, provider: &str) -> Option<TokenPrice> {
        self.by_model.get(model)?.get(provider).copied()
    }

    /// How many (model, provider) prices the table holds.
    pub fn len(&self) -> usize {
        self.by_model.values().map(BTreeMap::len).sum()
    }

    /// Whether the table holds no price.
    pub fn is_empty(&self) -> bool {
        self.by_model.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::worker::usage::read::tests::assert_refused;
    use serde_json::json;

    /// The issue's example setting.
    pub(crate) const EXAMPLE: &str = r#"{"compute": {"cpu": 0.00012, "2-a10-g": 0.0011, "cache": 0},
        "default_compute_per_second": 0.00012, "default_request_usd": 0.001,
        "models": {"meta-llama/Llama-3.1-8B-Instruct": {"input_per_million": 0.1, "output_per_million": 0.2}}}"#;

    #[test]
    fn the_example_setting_in_integers() {
        let prices = Prices::parse(EXAMPLE).unwrap();
        assert_eq!(prices.compute_per_second("cpu"), 120_000_000);
        assert_eq!(prices.compute_per_second("2-a10-g"), 1_100_000_000);
        assert_eq!(prices.compute_per_second("cache"), 0);
        assert_eq!(prices.compute_per_second("8-h100"), 120_000_000);
        assert_eq!(prices.default_request, 1_000);
        assert_eq!(
            prices.model("meta-llama/Llama-3.1-8B-Instruct"),
            Some(&ModelPrice {
                tokens: Some(TokenPrice {
                    input: 100_000,
                    output: 200_000
                }),
                request: None
            })
        );
        assert_eq!(prices.model("gpt2"), None);
    }

    #[test]
    fn unset_members_take_the_defaults() {
        let prices = Prices::parse("{}").unwrap();
        assert_eq!(prices, Prices::default());
        assert_eq!(prices.compute_per_second("cpu"), 120_000_000);
        assert_eq!(prices.compute_per_second("cache"), 0);
        assert_eq!(prices.default_request, 1_000);
        let priced = Prices::from_json(&json!({
            "default_compute_per_second": 0.001,
            "models": {"gpt2": {"request_usd": 0.0005}}
        }))
        .unwrap();
        assert_eq!(priced.compute_per_second("cpu"), 1_000_000_000);
        assert_eq!(
            priced.model("gpt2"),
            Some(&ModelPrice {
                tokens: None,
                request: Some(500)
            })
        );
    }

    #[test]
    fn malformed_members_are_named() {
        let cases = [
            (json!([]), "PRICES must be a JSON object (it is an array)"),
            (
                json!({"compute": {"cpu": "0.1"}}),
                "PRICES.compute.cpu must be a number of USD (it is a string)",
            ),
            (
                json!({"compute": {"2-a10-g": -1}}),
                "PRICES.compute.2-a10-g must be a number of USD from 0 to 1000000",
            ),
            (
                json!({"compute": {"cache": 0.1}}),
                "PRICES.compute.cache must be 0: a cached answer costs nothing",
            ),
            (
                json!({"compute": []}),
                "PRICES.compute must be a JSON object (it is an array)",
            ),
            (
                json!({"default_request_usd": null}),
                "PRICES.default_request_usd must be a number of USD (it is null)",
            ),
            (
                json!({"default_compute_per_second": true}),
                "PRICES.default_compute_per_second must be a number of USD (it is a boolean)",
            ),
            (
                json!({"model": {}}),
                "PRICES has an unknown member \"model\" (known: compute, default_compute_per_second, default_request_usd, models)",
            ),
            (
                json!({"models": {"a/b": {"input_per_milion": 1}}}),
                "PRICES.models[\"a/b\"] has an unknown member \"input_per_milion\" (known: input_per_million, output_per_million, request_usd)",
            ),
            (
                json!({"models": {"a/b": {"input_per_million": 1}}}),
                "PRICES.models[\"a/b\"] must set both input_per_million and output_per_million, or neither",
            ),
            (
                json!({"models": {"gpt2": {"input_per_million": 1, "output_per_million": {}}}}),
                "PRICES.models.gpt2.output_per_million must be a number of USD (it is an object)",
            ),
            (
                json!({"models": {"gpt2": {"request_usd": 2e6}}}),
                "PRICES.models.gpt2.request_usd must be a number of USD from 0 to 1000000",
            ),
        ];
        assert_refused("PRICES", Prices::from_json, Prices::parse, &cases);
    }

    #[test]
    fn the_router_table_by_model_and_provider() {
        let table = RouterPrices::from_models(&json!({"object": "list", "data": [
            {"id": "meta-llama/Llama-3.1-8B-Instruct", "providers": [
                {"provider": "together", "status": "live", "pricing": {"input": 0.18, "output": 0.18}},
                {"provider": "novita", "status": "live", "pricing": {"input": 0.02, "output": 0.05}},
                {"provider": "hf-inference", "status": "live"},
                {"provider": "odd", "pricing": {"input": "free", "output": 0}}
            ]},
            {"id": "no/providers"},
            {"providers": [{"provider": "x", "pricing": {"input": 1, "output": 1}}]}
        ]}));
        assert_eq!(table.len(), 2);
        assert_eq!(
            table.get("meta-llama/Llama-3.1-8B-Instruct", "novita"),
            Some(TokenPrice {
                input: 20_000,
                output: 50_000
            })
        );
        assert_eq!(
            table.get("meta-llama/Llama-3.1-8B-Instruct", "hf-inference"),
            None
        );
        assert_eq!(table.get("meta-llama/Llama-3.1-8B-Instruct", "odd"), None);
        assert!(RouterPrices::from_models(&json!({"error": "x"})).is_empty());
    }
}
