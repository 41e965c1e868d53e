//! Calls over providers: the Hub asked once per model (cached, bounded)
//! which providers serve it, the providers a call goes to, and a route over
//! them (kept per list of providers, so their breakers outlive one call).

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsValue;

use super::attempts::Route;
use super::call::Body;
use super::options::{EndpointTarget, Resolved};
use super::transport::{headers_object, send, JsonFailure, Outgoing};
use super::{check_not_dedicated, Inner};
use crate::protocol::error::{error_from_answer, Error, ErrorCode};
use crate::protocol::model::chat_url;
use crate::protocol::provider::{
    check_supported, choose, is_hf_inference_only, read_mappings, Mapping, AUTO, HF_INFERENCE,
};
use crate::protocol::task::Task;
use crate::protocol::token::Token;

/// The Hub's mappings per model. A list searched in order rather than a
/// `HashMap`: it holds a handful of entries, and std's map (hashing and
/// its table) would add kilobytes to the wasm. `Rc<Vec<_>>`, as `Secrets`.
pub(crate) type HubCache = RefCell<Vec<(String, Rc<Vec<Mapping>>)>>;
/// A route per list of providers.
pub(crate) type ProviderRoutes = RefCell<Vec<(String, Rc<Route>)>>;

/// Models (and lists of providers) kept before the cache starts over: a
/// page calls a handful of models, so a bound this size is never reached
/// by one, and bounds a client that is fed arbitrary ids.
const MAX_CACHED: usize = 256;

/// Where each provider of a call is sent, and with what: the route over
/// them and, per provider in its order, the URL and the body.
pub(crate) struct Routed {
    pub route: Rc<Route>,
    pub requests: Vec<(String, Body)>,
}

/// What a request to one provider is built from: its name, the model's id
/// there, and the provider's base URL.
pub(crate) struct Destination<'a> {
    pub provider: &'a str,
    pub model_id: &'a str,
    pub base: &'a str,
}

fn cached<V: Clone>(cache: &RefCell<Vec<(String, V)>>, key: &str) -> Option<V> {
    let cache = cache.borrow();
    cache.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

fn insert_bounded<V>(cache: &RefCell<Vec<(String, V)>>, key: String, value: V) {
    let mut cache = cache.borrow_mut();
    if cache.len() >= MAX_CACHED {
        cache.clear();
    }
    cache.push((key, value));
}

impl Inner {
    /// The providers a task call of `model` goes to, in order, with the
    /// model's id at each; `None` when it takes the client's own endpoints
    /// (no `provider`, or `"hf-inference"` alone: no Hub look-up).
    pub(crate) async fn providers_of(
        &self,
        task: Task,
        model: &str,
        options: &Resolved,
    ) -> Result<Option<Vec<(String, String)>>, Error> {
        let Some(wanted) = &options.provider else {
            return Ok(None);
        };
        if is_hf_inference_only(wanted) {
            return Ok(None);
        }
        check_not_dedicated(&self.tasks, "provider")?;
        check_supported(wanted, task)?;
        let mappings = self.hub_mappings(model, options).await?;
        choose(wanted, &mappings, model, task).map(Some)
    }

    /// What the Hub maps `model` to (`/api/models/{model}?expand[]=...`).
    async fn hub_mappings(
        &self,
        model: &str,
        options: &Resolved,
    ) -> Result<Rc<Vec<Mapping>>, Error> {
        if let Some(found) = cached(&self.hub_cache, model) {
            return Ok(found);
        }
        let url = format!(
            "{}/api/models/{model}?expand[]=inferenceProviderMapping",
            self.hub_url
        );
        let authorization = self.token.as_ref().map(Token::authorization);
        let headers = headers_object(&[], authorization.as_deref().map(|a| ("authorization", a)));
        let incoming = send(Outgoing {
            url: &url,
            headers: &headers,
            body: &JsValue::UNDEFINED,
            timeout_ms: options.timeout_ms,
            abort_on_timeout: options.timeout_ms.is_some(),
            signals: &options.signals,
            cancellable: false,
        })
        .await?;
        if incoming.status == 404 {
            return Err(
                Error::new(ErrorCode::NotFound, format!("the Hub has no model {model}"))
                    .with_status(404),
            );
        }
        if !incoming.ok() {
            let answer = incoming.error_answer(&self.secrets).await?;
            return Err(error_from_answer(&answer));
        }
        let doc = incoming.json().await.map_err(|failure| match failure {
            JsonFailure::Io(error) => error,
            JsonFailure::NotJson => Error::new(
                ErrorCode::BadResponse,
                "the Hub's answer about the model is not JSON",
            ),
        })?;
        let mappings = Rc::new(read_mappings(&doc));
        insert_bounded(&self.hub_cache, model.to_owned(), mappings.clone());
        Ok(mappings)
    }

    /// The route over `providers`, kept per list: each target a provider
    /// (hf-inference's is the client's first endpoint; chat's all share the
    /// chat endpoint).
    fn route_over(&self, providers: &[&str], chat: bool) -> Rc<Route> {
        let key = format!("{chat}:{}", crate::protocol::text::joined(providers, ","));
        if let Some(route) = cached(&self.provider_routes, &key) {
            return route;
        }
        let own = if chat { &self.chat } else { &self.tasks };
        let own = &own.targets[0];
        let mut targets = Vec::with_capacity(providers.len());
        for provider in providers {
            let mut target = EndpointTarget::default_at(&own.url);
            if chat || *provider == HF_INFERENCE {
                target.token = own.token.clone();
            } else {
                target.url = format!("{}/{provider}", self.router_url);
            }
            target.name = (*provider).to_owned();
            targets.push(target);
        }
        let route = Rc::new(Route::ordered(targets));
        insert_bounded(&self.provider_routes, key, route.clone());
        route
    }

    /// The requests of a task call over `providers`, each built by `build`
    /// from its destination.
    pub(crate) fn routed<F>(
        &self,
        providers: &[(String, String)],
        build: F,
    ) -> Result<Routed, Error>
    where
        F: Fn(&Destination<'_>) -> Result<(String, Body), Error>,
    {
        let names: Vec<&str> = providers.iter().map(|(p, _)| p.as_str()).collect();
        let route = self.route_over(&names, false);
        // Loops rather than `collect::<Result<_, _>>()`: each such chain is
        // its own copy of the iterator machinery in the wasm.
        let mut requests = Vec::with_capacity(providers.len());
        for ((provider, model_id), target) in providers.iter().zip(&route.targets) {
            requests.push(build(&Destination {
                provider,
                model_id,
                base: &target.url,
            })?);
        }
        Ok(Routed { route, requests })
    }

    /// The route of a chat call over the providers of `options`: the
    /// router's `model:provider` suffix per provider (`"auto"` leaves the
    /// choice to the router); `None` without a list, or when the request's
    /// model already names its provider (the suffix wins).
    pub(crate) fn chat_route(
        &self,
        model: &str,
        options: &Resolved,
        body_for: impl Fn(&str) -> Result<Body, Error>,
    ) -> Result<Option<Routed>, Error> {
        let Some(wanted) = &options.provider else {
            return Ok(None);
        };
        if crate::protocol::text::has_byte(model, b':') {
            return Ok(None);
        }
        let names = crate::protocol::text::borrowed(wanted);
        let route = self.route_over(&names, true);
        let mut requests = Vec::with_capacity(wanted.len());
        for (provider, target) in wanted.iter().zip(&route.targets) {
            let suffixed = match provider.as_str() {
                AUTO => model.to_owned(),
                named => format!("{model}:{named}"),
            };
            requests.push((chat_url(&target.url), body_for(&suffixed)?));
        }
        Ok(Some(Routed { route, requests }))
    }
}
