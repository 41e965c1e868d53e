//! The router's per-token prices as one isolate keeps them: `GET /v1/models`
//! on `ROUTER_UPSTREAMS` (through the attempt loop, with `HF_TOKEN`), read
//! into [`RouterPrices`] and kept an hour. Only ever asked while a request
//! is settled, after its answer has started, so the fetch is off the request
//! path.
//!
//! One settlement fetches; others that need the table meanwhile wait for it
//! on timers of their own rather than on that fetch's promise: workerd ties
//! I/O to the request that started it, and a request that went on inside
//! another's I/O would lose its own when that one ended.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use super::forward::Forward;
use super::handler::{state, Settings};
use super::log::LogLine;
use super::usage::prices::RouterPrices;
use crate::client::timer::Sleep;
use crate::client::transport::now_ms;
use crate::policy::retry::RetryConfig;

/// How long a table is used before it is fetched again.
const FRESH_MS: u64 = 3_600_000;

/// How long a failed fetch is not tried again (its requests are charged
/// their estimates meanwhile, marked estimated).
const FAILED_MS: u64 = 60_000;

/// One attempt, this long at most: settlements wait for the table within
/// their `waitUntil`, which the runtime cuts short about 30 s after the
/// answer; past [`WAIT_MS`] they are priced at their estimates instead.
const FETCH_TIMEOUT_MS: u64 = 5_000;
const WAIT_MS: u64 = 6_000;

/// How often a settlement waiting for another's fetch looks again.
const POLL_MS: u64 = 20;

/// The isolate's table (and until when it is used), and until when a fetch
/// under way is waited for.
#[derive(Default)]
pub(super) struct RouterPricing {
    table: RefCell<Option<(Rc<RouterPrices>, u64)>>,
    fetching_until: Cell<Option<u64>>,
}

impl RouterPricing {
    fn fresh(&self, now: u64) -> Option<Rc<RouterPrices>> {
        match self.table.borrow().as_ref() {
            Some((table, until)) if now < *until => Some(table.clone()),
            _ => None,
        }
    }
}

/// The router's prices: the isolate's table while fresh, else fetched now
/// (a table that cannot be fetched is the stale one, else empty, and is
/// kept a minute).
pub(super) async fn router_prices(settings: Rc<Settings>) -> Rc<RouterPrices> {
    let pricing = &settings.router_pricing;
    let mut waited = false;
    loop {
        let now = now_ms();
        if let Some(table) = pricing.fresh(now) {
            return table;
        }
        match pricing.fetching_until.get() {
            Some(until) if now < until => {
                waited = true;
                Sleep::new(POLL_MS).await;
            }
            // Another's fetch outlasted the wait: priced at the estimate
            // (an empty table), not made to wait for a fetch of its own.
            Some(_) if waited => return Rc::default(),
            _ => break,
        }
    }
    pricing.fetching_until.set(Some(now_ms() + WAIT_MS));
    let read = read_table(&settings).await;
    let stale = pricing.table.borrow().as_ref().map(|(t, _)| t.clone());
    let (table, fresh_ms) = match read {
        Some(table) => (Rc::new(table), FRESH_MS),
        // A stale table's prices are closer to the truth than an estimate.
        None => (stale.unwrap_or_default(), FAILED_MS),
    };
    *pricing.table.borrow_mut() = Some((table.clone(), now_ms() + fresh_ms));
    pricing.fetching_until.set(None);
    table
}

async fn read_table(settings: &Settings) -> Option<RouterPrices> {
    let state = state();
    let forward = Forward {
        upstreams: &settings.router,
        random: &state.random,
        retry: RetryConfig {
            max_attempts: 1,
            ..settings.retry
        },
        timeout_ms: FETCH_TIMEOUT_MS.min(settings.config.upstream_timeout_ms),
        path: "/v1/models".to_owned(),
        headers: vec![("accept".to_owned(), "application/json".to_owned())],
        body: JsValue::UNDEFINED,
        whole: true,
    };
    let response = forward.run(&mut LogLine::default()).await.ok()?;
    if response.status() != 200 {
        return None;
    }
    let text = JsFuture::from(response.text().ok()?)
        .await
        .ok()?
        .as_string()?;
    let list: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(RouterPrices::from_models(&list))
}
