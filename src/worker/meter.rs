//! The `USAGE` Durable Objects (issue 13) and the proxy's calls to them.
//! One object per client (`client:<name>`: its ledger) and one for the
//! whole proxy (`total`: its ledger, for the total cap, and the index of
//! clients). Each keeps its state in its own storage and runs one call at
//! a time (the ledger is changed synchronously between storage operations,
//! which hold the object's input gate), so reservations are exact across
//! isolates and locations.
//!
//! The protocol is JSON over the object's `fetch`: `POST /reserve`,
//! `/settle`, `/release`, `/report` and `/clients`. The pure accounting is
//! `super::usage`.

use std::cell::RefCell;
use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, State};

use super::handler::settings;
use super::report::Report;
use super::usage::budgets::{Budgets, Cap, Refusal};
use super::usage::ledger::{Ledger, ReservationId, Usage as Used};
use super::usage::money::MicroUsd;
use super::usage::prices::Prices;
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
    /// The estimate to reserve; `None`: the object's own (its running average).
    pub estimate: Option<MicroUsd>,
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

#[derive(Serialize, Deserialize)]
pub(super) struct SettleAsk {
    pub id: ReservationId,
    pub usage: Used,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ReleaseAsk {
    pub id: ReservationId,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ReportAsk {
    pub caps: Vec<Cap>,
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
    clients: RefCell<Option<BTreeSet<String>>>,
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
            let ledger = match stored {
                Some(text) => Ledger::from_json(&text).map_err(failed)?,
                None => Ledger::default(),
            };
            let clients: Option<Vec<String>> = self.state.storage().get(CLIENTS_KEY).await?;
            if self.ledger.borrow().is_none() {
                *self.ledger.borrow_mut() = Some(ledger);
                *self.clients.borrow_mut() =
                    Some(clients.unwrap_or_default().into_iter().collect());
            }
        }
        Ok(())
    }

    async fn save(&self, clients: bool) -> worker::Result<()> {
        let text = self.with(|ledger| ledger.to_json());
        self.state.storage().put(LEDGER_KEY, text).await?;
        if clients {
            let list: Vec<String> = self.clients.borrow().iter().flatten().cloned().collect();
            self.state.storage().put(CLIENTS_KEY, list).await?;
        }
        Ok(())
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
                    let estimate = ask
                        .estimate
                        .unwrap_or_else(|| ledger.estimate(&ask.model, &prices));
                    match ledger.reserve(estimate, &ask.caps, now) {
                        Ok(id) => Reserved::Held { id, estimate },
                        Err(refusal) => Reserved::Refused(refusal),
                    }
                });
                let added = match (&answer, ask.client) {
                    (Reserved::Held { .. }, Some(client)) => self
                        .clients
                        .borrow_mut()
                        .get_or_insert_with(BTreeSet::new)
                        .insert(client),
                    _ => false,
                };
                if matches!(answer, Reserved::Held { .. }) {
                    self.save(added).await?;
                }
                Response::from_json(&answer)
            }
            "/settle" => {
                let ask: SettleAsk = read(&body)?;
                let cost = self.with(|ledger| ledger.settle(ask.id, &ask.usage, now));
                self.save(false).await?;
                Response::from_json(&cost.micro_usd)
            }
            "/release" => {
                let ask: ReleaseAsk = read(&body)?;
                let released = self.with(|ledger| ledger.release(ask.id, now));
                self.save(false).await?;
                Response::from_json(&released)
            }
            "/report" => {
                let ask: ReportAsk = read(&body)?;
                let report = self.with(|ledger| {
                    let left = ledger.left(&ask.caps, now);
                    let month = ledger.month(now);
                    Report {
                        day: ledger.day(now).map(|t| t.all.clone()).unwrap_or_default(),
                        month: month.map(|t| t.all.clone()).unwrap_or_default(),
                        models: month.map(|t| t.models.clone()).unwrap_or_default(),
                        left_day: left.day,
                        left_month: left.month,
                    }
                });
                Response::from_json(&report)
            }
            "/clients" => {
                let ask: ClientsAsk = read(&body)?;
                let clients = self.clients.borrow();
                let mut names = clients.iter().flatten().filter(|name| {
                    ask.cursor
                        .as_deref()
                        .is_none_or(|cursor| name.as_str() > cursor)
                });
                let page: Vec<String> = names.by_ref().take(ask.limit).cloned().collect();
                let more = names.next().is_some();
                Response::from_json(&ClientsPage {
                    next_cursor: page.last().filter(|_| more).cloned(),
                    clients: page,
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

/// A request's reservations: in its client's object and in the total's.
pub(super) struct Held {
    client: String,
    client_id: ReservationId,
    total_id: ReservationId,
    /// What was reserved.
    pub estimate: MicroUsd,
}

/// Why a request was not reserved.
pub(super) enum NotHeld {
    Refused(Refusal),
    Unreachable,
}

/// Reserves a request of `client` (its key's name `key`, when it has one)
/// for `model` under `budgets`: first in the client's object, then in the
/// total's (which releases the first when it refuses).
pub(super) async fn reserve(
    env: &Env,
    budgets: Option<&Budgets>,
    client: &str,
    key: Option<&str>,
    model: &str,
) -> Result<Held, NotHeld> {
    let object = client_object(client);
    let caps = budgets.map(|b| b.client_caps(key)).unwrap_or_default();
    let ask = ReserveAsk {
        model: model.to_owned(),
        caps,
        estimate: None,
        client: None,
    };
    let (client_id, estimate) = match call(env, &object, "reserve", &ask).await {
        Some(Reserved::Held { id, estimate }) => (id, estimate),
        Some(Reserved::Refused(refusal)) => return Err(NotHeld::Refused(refusal)),
        None => return Err(NotHeld::Unreachable),
    };
    let ask = ReserveAsk {
        model: model.to_owned(),
        caps: budgets.map(Budgets::total_caps).unwrap_or_default(),
        estimate: Some(estimate),
        client: Some(client.to_owned()),
    };
    let total = call(env, TOTAL, "reserve", &ask).await;
    let total_id = match total {
        Some(Reserved::Held { id, .. }) => id,
        other => {
            let _: Option<bool> =
                call(env, &object, "release", &ReleaseAsk { id: client_id }).await;
            return Err(match other {
                Some(Reserved::Refused(refusal)) => NotHeld::Refused(refusal),
                _ => NotHeld::Unreachable,
            });
        }
    };
    Ok(Held {
        client: object,
        client_id,
        total_id,
        estimate,
    })
}

/// Settles both reservations of `held` with what the request used.
pub(super) async fn settle(env: Env, held: Held, usage: Used) {
    let ask = SettleAsk {
        id: held.client_id,
        usage,
    };
    let _: Option<MicroUsd> = call(&env, &held.client, "settle", &ask).await;
    let ask = SettleAsk {
        id: held.total_id,
        ..ask
    };
    let _: Option<MicroUsd> = call(&env, TOTAL, "settle", &ask).await;
}
