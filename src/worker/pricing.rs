//! The router's per-token prices as one isolate keeps them: `GET /v1/models`
//! on `ROUTER_UPSTREAMS` (through the attempt loop, with `HF_TOKEN`), read
//! into [`RouterPrices`] and kept an hour. Only ever asked while a request
//! is settled, after its answer has started, so the fetch is off the request
//! path; requests settled while it is under way wait for that one fetch
//! rather than each making their own.

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use super::forward::Forward;
use super::handler::{state, Settings};
use super::log::LogLine;
use super::usage::prices::RouterPrices;
use crate::client::transport::now_ms;
use crate::policy::retry::RetryConfig;

/// How long a table is used before it is fetched again.
const FRESH_MS: u64 = 3_600_000;

/// How long a failed fetch is not tried again (its requests are charged
/// their estimates meanwhile, marked estimated).
const FAILED_MS: u64 = 60_000;

/// Attempts of one fetch of the table.
const ATTEMPTS: u32 = 2;

type Fetching = Shared<LocalBoxFuture<'static, Rc<RouterPrices>>>;

/// The isolate's table and the fetch under way, if any.
#[derive(Default)]
pub(super) struct RouterPricing {
    table: RefCell<Option<(Rc<RouterPrices>, u64)>>,
    fetching: RefCell<Option<Fetching>>,
}

/// The router's prices: the isolate's table while fresh, else fetched now
/// (a table that cannot be fetched is empty, and kept a minute).
pub(super) async fn router_prices(settings: Rc<Settings>) -> Rc<RouterPrices> {
    let pricing = &settings.router_pricing;
    if let Some((table, until)) = pricing.table.borrow().as_ref() {
        if now_ms() < *until {
            return table.clone();
        }
    }
    let shared = pricing.fetching.borrow().clone();
    let fetching = match shared {
        Some(fetching) => fetching,
        None => {
            let fetching = fetch(settings.clone()).boxed_local().shared();
            *pricing.fetching.borrow_mut() = Some(fetching.clone());
            fetching
        }
    };
    fetching.await
}

async fn fetch(settings: Rc<Settings>) -> Rc<RouterPrices> {
    let read = read_table(&settings).await;
    let (table, fresh_ms) = match read {
        Some(table) => (Rc::new(table), FRESH_MS),
        None => {
            // Keep a stale table rather than none: its prices are closer
            // to the truth than an estimate.
            let stale = settings.router_pricing.table.borrow().clone();
            (stale.map(|(t, _)| t).unwrap_or_default(), FAILED_MS)
        }
    };
    let pricing = &settings.router_pricing;
    *pricing.table.borrow_mut() = Some((table.clone(), now_ms() + fresh_ms));
    *pricing.fetching.borrow_mut() = None;
    table
}

async fn read_table(settings: &Settings) -> Option<RouterPrices> {
    let state = state();
    let forward = Forward {
        upstreams: &settings.router,
        random: &state.random,
        retry: RetryConfig {
            max_attempts: ATTEMPTS,
            ..settings.retry
        },
        timeout_ms: settings.config.upstream_timeout_ms,
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
