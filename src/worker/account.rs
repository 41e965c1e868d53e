//! What a forwarded request is charged, once its answer has started (in
//! `ctx.waitUntil`): its tokens counted as the answer is passed on
//! (`relay`), priced by the pure rules (`usage::cost`, the router's table
//! fetched if the price is the router's), and settled in its two `USAGE`
//! objects. Cache hits, which reserve nothing, are recorded here too.

use std::rc::Rc;

use worker::Env;

use super::handler::Settings;
use super::meter::{self, Held};
use super::pricing::router_prices;
use super::relay::Reading;
use super::usage::cost::{cost, Answer, Cost, HF_INFERENCE};
use super::usage::ledger::Usage;
use super::usage::prices::RouterPrices;

/// What the handler knew of a forwarded request when its headers went out.
pub(super) struct Charge {
    pub held: Held,
    /// The Hugging Face model, that usage is counted and priced by.
    pub model: String,
    /// The provider that answered (`None`: hf-inference's own routes).
    pub provider: Option<String>,
    pub compute_type: Option<String>,
    pub compute_ms: Option<u64>,
    pub attempts: u32,
    pub error: bool,
    /// Its cost as known then (compute time; nothing for an error answer
    /// without it), `None` when tokens will price it or nothing does.
    pub cost: Option<Cost>,
    /// The prompt's tokens as estimated from the request, for a stream
    /// whose upstream counts none.
    pub prompt_estimate: u64,
}

/// Counts the answer's tokens to its end, prices them and settles.
pub(super) async fn settle(env: Env, settings: Rc<Settings>, charge: Charge, reading: Reading) {
    let counted = reading.count(charge.prompt_estimate).await;
    let mut priced = charge.cost;
    if let Some(tokens) = counted.tokens {
        let prices = &settings.config.prices;
        let answer = Answer {
            provider: charge.provider.as_deref(),
            compute_type: charge.compute_type.as_deref(),
            compute_ms: charge.compute_ms,
            tokens: Some(tokens),
            tokens_estimated: counted.estimated,
        };
        let mut known = cost(prices, &RouterPrices::default(), &charge.model, &answer);
        // Not priced by PRICES: a provider's tokens may be by the router's.
        let by_tokens = answer.provider.is_some_and(|p| p != HF_INFERENCE);
        if known.is_none() && by_tokens {
            let router = router_prices(settings.clone()).await;
            known = cost(prices, &router, &charge.model, &answer);
        }
        priced = known.or(priced);
    }
    let usage = Usage {
        model: charge.model,
        attempts: charge.attempts,
        error: charge.error,
        cache_hit: false,
        compute_ms: charge.compute_ms.unwrap_or(0),
        tokens: counted.tokens.unwrap_or_default(),
        cost: priced,
    };
    meter::settle(&env, charge.held, usage).await;
}

/// Records a cache hit of `client` for `model`: a request, no attempt, no cost.
pub(super) async fn cache_hit(env: Env, client: String, model: String) {
    let usage = Usage {
        model,
        cache_hit: true,
        cost: Some(Cost::default()),
        ..Usage::default()
    };
    meter::record(&env, &client, usage).await;
}
