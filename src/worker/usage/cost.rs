//! What one answer cost, by the rules: hf-inference bills compute
//! time on its hardware (`x-compute-time` × the price of `x-compute-type`);
//! another provider bills tokens, priced by `PRICES.models`, else by the
//! router's table. An answer no rule prices has no cost here: its
//! reservation's estimate stands in for it.

use serde::{Deserialize, Serialize};

use super::money::{micros_rounded_up, MicroUsd};
use super::prices::{Prices, RouterPrices, TokenPrice};

/// The provider that bills compute time rather than tokens.
pub const HF_INFERENCE: &str = "hf-inference";

/// A chat answer's token counts (its `usage`, or for an aborted stream the
/// tokens relayed until the abort).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// Prompt tokens.
    pub prompt: u64,
    /// Completion tokens.
    pub completion: u64,
}

/// What an answer says of its cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Answer<'a> {
    /// `x-inference-provider`; `None` for hf-inference's own routes, which
    /// do not send it.
    pub provider: Option<&'a str>,
    /// `x-compute-type` (`cpu`, `2-a10-g`, `cache`, ...).
    pub compute_type: Option<&'a str>,
    /// `x-compute-time`, in milliseconds.
    pub compute_ms: Option<u64>,
    /// The tokens, when the answer counted them.
    pub tokens: Option<Tokens>,
    /// The tokens are the proxy's count, not upstream's (a stream cut
    /// short: those relayed so far; a stream that reported none).
    pub tokens_estimated: bool,
}

/// A cost in micro-USD.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    /// The amount.
    pub micro_usd: MicroUsd,
    /// Not what the provider will bill: tokens the proxy counted (an
    /// aborted stream's so far), or a reservation's estimate.
    pub estimated: bool,
}

/// The cost of `model`'s `answer`, or `None` when no rule prices it (no
/// compute time from hf-inference, no tokens or no price elsewhere).
pub fn cost(prices: &Prices, router: &RouterPrices, model: &str, answer: &Answer) -> Option<Cost> {
    match answer.provider {
        // Compute time is billed whatever the tokens were.
        None | Some(HF_INFERENCE) => Some(Cost {
            micro_usd: compute(prices, answer)?,
            estimated: false,
        }),
        Some(provider) => {
            let tokens = answer.tokens?;
            let price = prices
                .model(model)
                .and_then(|m| m.tokens)
                .or_else(|| router.get(model, provider))?;
            Some(Cost {
                micro_usd: per_token(price, tokens),
                estimated: answer.tokens_estimated,
            })
        }
    }
}

/// hf-inference's compute cost: its time on its hardware (a cached answer
/// is free even without a time).
fn compute(prices: &Prices, answer: &Answer) -> Option<MicroUsd> {
    let per_second = match answer.compute_type {
        Some(hardware) => prices.compute_per_second(hardware),
        None => prices.default_compute_per_second,
    };
    if per_second == 0 {
        return Some(0);
    }
    let ms = answer.compute_ms?;
    Some(micros_rounded_up(
        (u128::from(per_second) * u128::from(ms)).div_ceil(1000),
    ))
}

/// A per-token cost.
fn per_token(price: TokenPrice, tokens: Tokens) -> MicroUsd {
    micros_rounded_up(
        u128::from(price.input) * u128::from(tokens.prompt)
            + u128::from(price.output) * u128::from(tokens.completion),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::usage::prices::tests::EXAMPLE;
    use serde_json::json;

    const LLAMA: &str = "meta-llama/Llama-3.1-8B-Instruct";

    fn example() -> Prices {
        Prices::parse(EXAMPLE).unwrap()
    }

    fn router() -> RouterPrices {
        RouterPrices::from_models(&json!({"data": [
            {"id": "Qwen/Qwen3-8B", "providers": [
                {"provider": "together", "pricing": {"input": 0.5, "output": 1.5}}
            ]},
            {"id": LLAMA, "providers": [
                {"provider": "together", "pricing": {"input": 9, "output": 9}}
            ]}
        ]}))
    }

    fn known(micro_usd: MicroUsd) -> Option<Cost> {
        Some(Cost {
            micro_usd,
            estimated: false,
        })
    }

    fn hf(compute_type: Option<&str>, compute_ms: Option<u64>) -> Answer<'_> {
        Answer {
            compute_type,
            compute_ms,
            ..Answer::default()
        }
    }

    #[test]
    fn hf_inference_bills_compute_time_on_its_hardware() {
        let (prices, router) = (example(), router());
        let cost = |answer: Answer| cost(&prices, &router, "gpt2", &answer);
        // 2 s on cpu at 0.00012 USD/s: 240 micro-USD.
        assert_eq!(cost(hf(Some("cpu"), Some(2_000))), known(240));
        // 1.5 s on 2-a10-g at 0.0011 USD/s: 1650.
        assert_eq!(cost(hf(Some("2-a10-g"), Some(1_500))), known(1_650));
        // 71 ms on cpu is 8.52 micro-USD: rounded up.
        assert_eq!(cost(hf(Some("cpu"), Some(71))), known(9));
        // An unknown type at default_compute_per_second; no type the same.
        assert_eq!(cost(hf(Some("8-h100"), Some(1_000))), known(120));
        assert_eq!(cost(hf(None, Some(1_000))), known(120));
        // The cache is free, with or without a time.
        assert_eq!(cost(hf(Some("cache"), Some(3_000))), known(0));
        assert_eq!(cost(hf(Some("cache"), None)), known(0));
        assert_eq!(cost(hf(Some("cpu"), Some(0))), known(0));
        // No time: no cost here (the reservation stands in).
        assert_eq!(cost(hf(Some("cpu"), None)), None);
        // Named hf-inference by the router: the same rule, tokens ignored.
        let named = Answer {
            provider: Some("hf-inference"),
            tokens: Some(Tokens {
                prompt: 1_000_000,
                completion: 0,
            }),
            ..hf(Some("cpu"), Some(500))
        };
        assert_eq!(cost(named), known(60));
        // Tokens the proxy counted do not make compute time an estimate.
        let counted = Answer {
            tokens_estimated: true,
            ..named
        };
        assert_eq!(cost(counted), known(60));
    }

    #[test]
    fn other_providers_bill_tokens_from_prices_then_the_router() {
        let (prices, router) = (example(), router());
        let tokens = |prompt, completion| Answer {
            provider: Some("together"),
            tokens: Some(Tokens { prompt, completion }),
            ..Answer::default()
        };
        // PRICES.models wins over the router's 9 USD per million: a million
        // in at 0.1 and half a million out at 0.2 is 0.2 USD.
        assert_eq!(
            cost(&prices, &router, LLAMA, &tokens(1_000_000, 500_000)),
            known(200_000)
        );
        assert_eq!(
            cost(&prices, &router, LLAMA, &tokens(1_000, 500)),
            known(200)
        );
        // 3 in and 1 out is half a micro-USD: rounded up.
        assert_eq!(cost(&prices, &router, LLAMA, &tokens(3, 1)), known(1));
        assert_eq!(cost(&prices, &router, LLAMA, &tokens(0, 0)), known(0));
        // Not in PRICES: the router's price (0.5 and 1.5 per million).
        assert_eq!(
            cost(&prices, &router, "Qwen/Qwen3-8B", &tokens(2_000, 1_000)),
            known(2_500)
        );
        // The router prices it at another provider only: no cost.
        let novita = Answer {
            provider: Some("novita"),
            ..tokens(2_000, 1_000)
        };
        assert_eq!(cost(&prices, &router, "Qwen/Qwen3-8B", &novita), None);
        // Priced nowhere, or no tokens (an image): no cost.
        assert_eq!(cost(&prices, &router, "x/y", &tokens(10, 10)), None);
        let image = Answer {
            provider: Some("fal-ai"),
            compute_ms: Some(5_000),
            ..Answer::default()
        };
        assert_eq!(cost(&prices, &router, LLAMA, &image), None);
    }

    #[test]
    fn an_aborted_stream_counts_its_tokens_so_far_as_estimated() {
        let (prices, router) = (example(), router());
        let aborted = Answer {
            provider: Some("together"),
            tokens: Some(Tokens {
                prompt: 2_000,
                completion: 300,
            }),
            tokens_estimated: true,
            ..Answer::default()
        };
        assert_eq!(
            cost(&prices, &router, "Qwen/Qwen3-8B", &aborted),
            Some(Cost {
                micro_usd: 1_450,
                estimated: true
            })
        );
    }
}
