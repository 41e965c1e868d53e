//! The `USAGE` Durable Objects (issue 13) and the proxy's calls to them.
//! One object per client (`client:<name>`: its ledger) and one for the
//! whole proxy (`total`: its ledger, for the total cap, and the index of
//! clients). Each keeps its state in its own storage and runs one call at
//! a time (the ledger is changed synchronously between storage operations,
//! which hold the object's input gate), so reservations are exact across
//! isolates and locations.
//!
//! The protocol is JSON over the object's `fetch`: `POST /reserve`,
//! `/settle`, `/record`, `/release`, `/left`, `/client`, `/total` and
//! `/clients`. The pure accounting is
//! `super::usage`.

use std::cell::RefCell;

use futures_util::future::join;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, State};

use super::handler::settings;
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

/// Usage that held no reservation (a cache hit), and for the total's
/// object, the client to index.
#[derive(Serialize, Deserialize)]
pub(super) struct RecordAsk {
    pub usage: Used,
    pub client: Option<String>,
}

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

    async fn save(&self, clients: bool) -> worker::Result<()> {
        let text = self.with(|ledger| ledger.to_json());
        self.state.storage().put(LEDGER_KEY, text).await?;
        if clients {
            let index = self.clients.borrow().clone().unwrap_or_default();
            let index = serde_json::to_string(&index).map_err(failed)?;
            self.state.storage().put(CLIENTS_KEY, index).await?;
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
                    (Reserved::Held { .. }, Some(client)) => {
                        self.clients
                            .borrow_mut()
                            .get_or_insert_with(ClientIndex::default)
                            .touch(&client, now);
                        true
                    }
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
            "/record" => {
                let ask: RecordAsk = read(&body)?;
                let cost = self.with(|ledger| ledger.record(&ask.usage, now));
                let indexed = ask.client.is_some();
                if let Some(client) = ask.client {
                    self.clients
                        .borrow_mut()
                        .get_or_insert_with(ClientIndex::default)
                        .touch(&client, now);
                }
                self.save(indexed).await?;
                Response::from_json(&cost.micro_usd)
            }
            "/release" => {
                let ask: ReleaseAsk = read(&body)?;
                let released = self.with(|ledger| ledger.release(ask.id, now));
                self.save(false).await?;
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
/// for `model` under `budgets`, in the client's object and in the total's
/// at once (one round trip of waiting, not two); when either refuses or
/// cannot be reached, the other's reservation is released.
pub(super) async fn reserve(
    env: &Env,
    budgets: Option<&Budgets>,
    client: &str,
    key: Option<&str>,
    model: &str,
) -> Result<Held, NotHeld> {
    let object = client_object(client);
    let mine = ReserveAsk {
        model: model.to_owned(),
        caps: budgets.map(|b| b.client_caps(key)).unwrap_or_default(),
        estimate: None,
        client: None,
    };
    let total = ReserveAsk {
        model: model.to_owned(),
        caps: budgets.map(Budgets::total_caps).unwrap_or_default(),
        estimate: None,
        client: Some(client.to_owned()),
    };
    let (mine, total) = join(
        call::<Reserved>(env, &object, "reserve", &mine),
        call::<Reserved>(env, TOTAL, "reserve", &total),
    )
    .await;
    let (client_id, estimate, total_id) = match (&mine, &total) {
        (Some(Reserved::Held { id, estimate }), Some(Reserved::Held { id: total_id, .. })) => {
            (*id, *estimate, *total_id)
        }
        _ => {
            for (held, object) in [(&mine, object.as_str()), (&total, TOTAL)] {
                if let Some(Reserved::Held { id, .. }) = held {
                    let _: Option<bool> =
                        call(env, object, "release", &ReleaseAsk { id: *id }).await;
                }
            }
            let refusal = [mine, total]
                .into_iter()
                .map(|answer| match answer {
                    Some(Reserved::Refused(refusal)) => Ok(Some(refusal)),
                    Some(Reserved::Held { .. }) => Ok(None),
                    None => Err(NotHeld::Unreachable),
                })
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                // Of two refusals, the cap that resets last: what Retry-After waits for.
                .max_by_key(|refusal| refusal.retry_after_seconds);
            return Err(refusal.map_or(NotHeld::Unreachable, NotHeld::Refused));
        }
    };
    Ok(Held {
        client: object,
        client_id,
        total_id,
        estimate,
    })
}

/// Settles both reservations of `held` with what the request used, in
/// both objects at once.
pub(super) async fn settle(env: &Env, held: Held, usage: Used) {
    let total = SettleAsk {
        id: held.total_id,
        usage: usage.clone(),
    };
    let mine = SettleAsk {
        id: held.client_id,
        usage,
    };
    let _: (Option<MicroUsd>, Option<MicroUsd>) = join(
        call(env, &held.client, "settle", &mine),
        call(env, TOTAL, "settle", &total),
    )
    .await;
}

/// Records what `client` used without a reservation (a cache hit), in its
/// object and the total's at once.
pub(super) async fn record(env: &Env, client: &str, usage: Used) {
    let total = RecordAsk {
        usage: usage.clone(),
        client: Some(client.to_owned()),
    };
    let mine = RecordAsk {
        usage,
        client: None,
    };
    let _: (Option<MicroUsd>, Option<MicroUsd>) = join(
        call(env, &client_object(client), "record", &mine),
        call(env, TOTAL, "record", &total),
    )
    .await;
}
