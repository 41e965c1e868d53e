//! The `USAGE` Durable Objects (issue 13) and the proxy's calls to them.
//! One object per client (`client:<name>`: its ledger) and one for the
//! whole proxy (`total`: its ledger, for the total cap, and the index of
//! clients). Each keeps its state in its own storage and runs one call at
//! a time (the ledger is changed synchronously between storage operations,
//! which hold the object's input gate), so reservations are exact across
//! isolates and locations.
//!
//! The protocol is JSON over the object's `fetch`: `POST /reserve`,
//! `/settle` (a list of settlements), `/release`, `/left`, `/client`,
//! `/total` and `/clients`. The pure accounting is
//! `super::usage`.

use std::cell::RefCell;
use std::num::NonZeroUsize;

use lru::LruCache;

use futures_util::future::join;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, State};

use super::handler::settings;
use super::settlements;
use super::usage::budgets::{Budgets, Cap, Refusal};
use super::usage::index::ClientIndex;
use super::usage::ledger::{Ledger, Left, ReservationId, Usage as Used};
use super::usage::money::MicroUsd;
use super::usage::prices::Prices;
use super::usage::report::{client_report, total_report};
use crate::client::transport::now_ms;

/// The binding's name.
pub(super) const BINDING: &str = "USAGE";

/// The object of the whole proxy.
pub(super) const TOTAL: &str = "total";

/// The storage key of an object's ledger, and of the total's index.
const LEDGER_KEY: &str = "ledger";
const CLIENTS_KEY: &str = "clients";

/// The object of client `name`.
pub(super) fn client_object(name: &str) -> String {
    format!("client:{name}")
}

#[derive(Serialize, Deserialize)]
pub(super) struct ReserveAsk {
    pub model: String,
    pub caps: Vec<Cap>,
    /// The client, for the total's index.
    pub client: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub(super) enum Reserved {
    Held {
        id: ReservationId,
        estimate: MicroUsd,
    },
    Refused(Refusal),
}

/// What one request used, as it is settled in an object: its reservation
/// there if it holds one (else it is recorded without: a request no cap of
/// that object applies to, or a cache hit), and for the total's object the
/// client to index.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Settlement {
    /// The reservation and what it held.
    pub held: Option<(ReservationId, MicroUsd)>,
    pub usage: Used,
    pub client: Option<String>,
    /// Unique to the settlement: an object applies it once, should a
    /// batch be sent again after its call looked lost.
    pub key: u64,
}

/// Settlement keys an object remembers having applied.
const SEEN_SETTLEMENTS: NonZeroUsize = NonZeroUsize::new(65_536).expect("not zero");

#[derive(Serialize, Deserialize)]
pub(super) struct ReleaseAsk {
    pub id: ReservationId,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ReportAsk {
    pub caps: Vec<Cap>,
}

/// What caps leave in an object (`None`: no cap of that period).
#[derive(Serialize, Deserialize, Clone, Copy, Default)]
pub(super) struct LeftAnswer {
    pub day: Option<MicroUsd>,
    pub month: Option<MicroUsd>,
}

impl From<LeftAnswer> for Left {
    fn from(left: LeftAnswer) -> Left {
        Left {
            day: left.day,
            month: left.month,
        }
    }
}

/// A client's `/usage/me` object, from its own object.
#[derive(Serialize, Deserialize)]
pub(super) struct ClientAsk {
    pub client: String,
    pub caps: Vec<Cap>,
    /// What the total's caps leave.
    pub others: LeftAnswer,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ClientsAsk {
    pub cursor: Option<String>,
    pub limit: usize,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ClientsPage {
    pub clients: Vec<String>,
    pub next_cursor: Option<String>,
}

/// One `USAGE` object: a client's or the proxy's ledger (and, for the
/// proxy's, the index of clients), loaded from storage on first use.
#[durable_object]
pub struct Usage {
    state: State,
    env: Env,
    ledger: RefCell<Option<Ledger>>,
    clients: RefCell<Option<ClientIndex>>,
    /// Settlements applied lately, by key.
    seen: RefCell<LruCache<u64, ()>>,
}

fn failed(what: impl std::fmt::Display) -> worker::Error {
    worker::Error::RustError(what.to_string())
}

fn read<T: DeserializeOwned>(text: &str) -> worker::Result<T> {
    serde_json::from_str(text).map_err(failed)
}

impl Usage {
    async fn load(&self) -> worker::Result<()> {
        if self.ledger.borrow().is_none() {
            let stored: Option<String> = self.state.storage().get(LEDGER_KEY).await?;
            let mut ledger = match stored {
                Some(text) => Ledger::from_json(&text).map_err(failed)?,
                None => Ledger::default(),
            };
            // Reservations are not stored: a new instance's ids must not
            // meet those of the instance before it.
            ledger.number_from(((js_sys::Math::random() * 4_294_967_296.0) as u64) << 32);
            let clients: Option<String> = self.state.storage().get(CLIENTS_KEY).await?;
            let clients = match clients {
                Some(text) => read(&text)?,
                None => ClientIndex::default(),
            };
            if self.ledger.borrow().is_none() {
                *self.ledger.borrow_mut() = Some(ledger);
                *self.clients.borrow_mut() = Some(clients);
            }
        }
        Ok(())
    }

    /// Stores the ledger's counts (reservations stay in memory: see
    /// [`Ledger`]) and, when it changed, the index of clients.
    fn save(&self, clients: bool) -> worker::Result<()> {
        let text = self.with(|ledger| ledger.to_json());
        self.store(LEDGER_KEY, &text)?;
        if clients {
            self.save_index()?;
        }
        Ok(())
    }

    fn save_index(&self) -> worker::Result<()> {
        let index = self.clients.borrow().clone().unwrap_or_default();
        let index = serde_json::to_string(&index).map_err(failed)?;
        self.store(CLIENTS_KEY, &index)
    }

    /// Writes `key` without waiting for the write: the runtime's output gate
    /// holds this call's answer until the write is confirmed (so what an
    /// answer reports is stored), while the object goes on with the next
    /// call and the runtime folds the writes made meanwhile into one. A
    /// write that fails breaks the object, which restarts from what was
    /// stored.
    fn store(&self, key: &str, text: &str) -> worker::Result<()> {
        let storage = self.state.as_raw().storage()?;
        let written = storage.put(key, JsValue::from_str(text))?;
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(written).await;
        });
        Ok(())
    }

    /// Notes `client` in the index; whether the index changed.
    fn index(&self, client: &str, now: u64) -> bool {
        self.clients
            .borrow_mut()
            .get_or_insert_with(ClientIndex::default)
            .touch(client, now)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Ledger) -> T) -> T {
        f(self.ledger.borrow_mut().get_or_insert_with(Ledger::default))
    }

    fn prices(&self) -> Prices {
        settings(&self.env)
            .map(|s| s.config.prices.clone())
            .unwrap_or_default()
    }
}

impl DurableObject for Usage {
    fn new(state: State, env: Env) -> Self {
        Usage {
            state,
            env,
            ledger: RefCell::new(None),
            clients: RefCell::new(None),
            seen: RefCell::new(LruCache::new(SEEN_SETTLEMENTS)),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let path = req.path();
        let body = req.text().await?;
        self.load().await?;
        let now = now_ms();
        match path.as_str() {
            "/reserve" => {
                let ask: ReserveAsk = read(&body)?;
                let prices = self.prices();
                let answer = self.with(|ledger| {
                    let estimate = ledger.estimate(&ask.model, &prices);
                    match ledger.reserve(estimate, &ask.caps, now) {
                        Ok(id) => Reserved::Held { id, estimate },
                        Err(refusal) => Reserved::Refused(refusal),
                    }
                });
                let added = match (&answer, ask.client) {
                    (Reserved::Held { .. }, Some(client)) => self.index(&client, now),
                    _ => false,
                };
                // A reservation itself is not stored: only a new entry of
                // the index is.
                if added {
                    self.save_index()?;
                }
                Response::from_json(&answer)
            }
            "/settle" => {
                // Several requests' settlements at once, stored once.
                let ask: Vec<Settlement> = read(&body)?;
                let prices = self.prices();
                let mut indexed = false;
                for settlement in &ask {
                    let fresh = self.seen.borrow_mut().put(settlement.key, ()).is_none();
                    if !fresh {
                        continue;
                    }
                    self.with(|ledger| match settlement.held {
                        Some((id, estimate)) => {
                            ledger.settle_held(id, &settlement.usage, estimate, now)
                        }
                        None => ledger.record(&settlement.usage, &prices, now),
                    });
                    if let Some(client) = &settlement.client {
                        indexed |= self.index(client, now);
                    }
                }
                self.save(indexed)?;
                Response::from_json(&ask.len())
            }
            "/release" => {
                let ask: ReleaseAsk = read(&body)?;
                let released = self.with(|ledger| ledger.release(ask.id, now));
                Response::from_json(&released)
            }
            "/left" => {
                let ask: ReportAsk = read(&body)?;
                let left = self.with(|ledger| ledger.left(&ask.caps, now));
                Response::from_json(&LeftAnswer {
                    day: left.day,
                    month: left.month,
                })
            }
            "/client" => {
                let ask: ClientAsk = read(&body)?;
                let report = self.with(|ledger| {
                    client_report(&ask.client, ledger, &ask.caps, ask.others.into(), now)
                });
                Response::from_json(&report)
            }
            "/total" => {
                let ask: ReportAsk = read(&body)?;
                Response::from_json(&self.with(|ledger| total_report(ledger, &ask.caps, now)))
            }
            "/clients" => {
                let ask: ClientsAsk = read(&body)?;
                let index = self.clients.borrow().clone().unwrap_or_default();
                let page = index.page(ask.cursor.as_deref(), ask.limit);
                Response::from_json(&ClientsPage {
                    clients: page.clients,
                    next_cursor: page.next_cursor,
                })
            }
            _ => Response::error("no such USAGE operation", 404),
        }
    }
}

/// A `USAGE` object's answer to `op`, or `None` when it could not be
/// reached or did not answer as it should.
pub(super) async fn call<T: DeserializeOwned>(
    env: &Env,
    object: &str,
    op: &str,
    ask: &impl Serialize,
) -> Option<T> {
    let stub = env.durable_object(BINDING).ok()?.get_by_name(object).ok()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(JsValue::from_str(&serde_json::to_string(ask).ok()?)));
    let request = Request::new_with_init(&format!("https://usage/{op}"), &init).ok()?;
    let mut answer = stub.fetch_with_request(request).await.ok()?;
    if answer.status_code() != 200 {
        return None;
    }
    serde_json::from_str(&answer.text().await.ok()?).ok()
}

/// A request's reservations: in its client's object and in the total's,
/// each only where a cap applies (an object no cap applies to is told
/// afterwards, with no wait on the request's path).
pub(super) struct Held {
    /// The client's name (its object is [`client_object`]).
    client: String,
    client_held: Option<(ReservationId, MicroUsd)>,
    total_held: Option<(ReservationId, MicroUsd)>,
}

impl Held {
    /// What was reserved (`None`: nothing, no cap applies): the client's
    /// object's estimate, else the total's.
    pub fn estimate(&self) -> Option<MicroUsd> {
        self.client_held
            .or(self.total_held)
            .map(|(_, estimate)| estimate)
    }
}

/// Why a request was not reserved.
pub(super) enum NotHeld {
    Refused(Refusal),
    Unreachable,
}

/// Reserves `ask` in `object`: `Ok(None)` when there is nothing to ask
/// (no cap applies there), `Err` when the object could not be reached.
async fn reserve_in(
    env: &Env,
    object: &str,
    ask: Option<ReserveAsk>,
) -> Result<Option<Reserved>, ()> {
    match ask {
        None => Ok(None),
        Some(ask) => call(env, object, "reserve", &ask).await.map(Some).ok_or(()),
    }
}

/// Reserves a request of `client` (its key's name `key`, when it has one)
/// for `model` under `budgets`, in the client's object and in the total's
/// at once (one round trip of waiting, not two), each only if a cap applies
/// there; when either refuses or cannot be reached, the other's reservation
/// is released.
pub(super) async fn reserve(
    env: &Env,
    budgets: Option<&Budgets>,
    client: &str,
    key: Option<&str>,
    model: &str,
) -> Result<Held, NotHeld> {
    let object = client_object(client);
    let ask = |caps: Vec<Cap>, client: Option<String>| {
        (!caps.is_empty()).then(|| ReserveAsk {
            model: model.to_owned(),
            caps,
            client,
        })
    };
    let mine = ask(
        budgets.map(|b| b.client_caps(key)).unwrap_or_default(),
        None,
    );
    let total = ask(
        budgets.map(Budgets::total_caps).unwrap_or_default(),
        Some(client.to_owned()),
    );
    let (mine, total) = join(
        reserve_in(env, &object, mine),
        reserve_in(env, TOTAL, total),
    )
    .await;
    let held = |answer: &Result<Option<Reserved>, ()>| match answer {
        Ok(Some(Reserved::Held { id, estimate })) => Some((*id, *estimate)),
        _ => None,
    };
    let settled = |answer: &Result<Option<Reserved>, ()>| {
        matches!(answer, Ok(None) | Ok(Some(Reserved::Held { .. })))
    };
    if settled(&mine) && settled(&total) {
        let (mine, total) = (held(&mine), held(&total));
        return Ok(Held {
            client: client.to_owned(),
            client_held: mine,
            total_held: total,
        });
    }
    for (answer, object) in [(&mine, object.as_str()), (&total, TOTAL)] {
        if let Some((id, _)) = held(answer) {
            let _: Option<bool> = call(env, object, "release", &ReleaseAsk { id }).await;
        }
    }
    if mine.is_err() || total.is_err() {
        return Err(NotHeld::Unreachable);
    }
    [mine, total]
        .into_iter()
        .filter_map(|answer| match answer {
            Ok(Some(Reserved::Refused(refusal))) => Some(refusal),
            _ => None,
        })
        // Of two refusals, the cap that resets last: what Retry-After waits for.
        .max_by_key(|refusal| refusal.retry_after_seconds)
        .map_or(Err(NotHeld::Unreachable), |refusal| {
            Err(NotHeld::Refused(refusal))
        })
}

/// Settles what the request used in both objects at once: its reservation
/// where it holds one, else recorded there without one. The settlements of
/// one isolate go to an object in batches ([`super::settlements`]).
pub(super) async fn settle(env: &Env, held: Held, usage: Used) {
    let mine = Settlement {
        held: held.client_held,
        usage: usage.clone(),
        client: None,
        key: settlements::key(),
    };
    let total = Settlement {
        held: held.total_held,
        usage,
        client: Some(held.client.clone()),
        key: settlements::key(),
    };
    join(
        settlements::send(env, &client_object(&held.client), mine),
        settlements::send(env, TOTAL, total),
    )
    .await;
}

/// Records what `client` used without a reservation (a cache hit), in its
/// object and the total's at once.
pub(super) async fn record(env: &Env, client: &str, usage: Used) {
    let held = Held {
        client: client.to_owned(),
        client_held: None,
        total_held: None,
    };
    settle(env, held, usage).await;
}
