//! The attempt loop of every call: endpoint choice, retries, waits and
//! `onAttempt` reports, performing what the pure `CallPolicy` decides.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;

use super::coalesce::{Batcher, Deduper};
use super::fetch::{now_ms, sleep, start, Answer, HttpRequest, InFlight};
use super::options::{CallOptions, ClientConfig, Endpoint};
use super::payload::Payload;
use crate::policy::call::{CallPolicy, Next, Outcome};
use crate::policy::random::SplitMix64;
use crate::policy::route::{BreakerConfig, Router};
use crate::protocol::error::{error_from_response, ErrorCode, InferenceError, ResponseMeta};
use crate::protocol::response::LabelScore;
use crate::protocol::task::{chat_url, task_url};

/// The client state every call shares: its settings, endpoint health and
/// the random source of jitter and weighted choice.
pub struct Shared {
    /// What the client was built with.
    pub config: ClientConfig,
    /// Deterministic calls in flight, shared by identical ones.
    pub in_flight: Deduper<Answer>,
    /// Open micro-batches of text classification.
    pub batches: Batcher<Vec<LabelScore>>,
    router: RefCell<Router>,
    chat_router: RefCell<Router>,
    random: RefCell<SplitMix64>,
}

/// A boxed call future: keeps one copy of each state machine in the wasm.
pub type BoxedFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, InferenceError>> + 'a>>;

/// What one attempt reports to `onAttempt`.
struct AttemptReport<'a> {
    endpoint: &'a str,
    attempt: u32,
    status: Option<u16>,
    code: Option<ErrorCode>,
    delay_ms: Option<u64>,
    duration_ms: u64,
    compute_time_ms: Option<f64>,
    request_id: Option<&'a str>,
}

impl AttemptReport<'_> {
    /// Calls `onAttempt` with an `AttemptInfo`; an observer that throws does
    /// not change the call's outcome.
    fn send_to(&self, on_attempt: Option<&Function>) {
        let Some(on_attempt) = on_attempt else { return };
        let info = Object::new();
        let set = |key: &str, value: JsValue| {
            let _ = Reflect::set(&info, &JsValue::from_str(key), &value);
        };
        set("endpoint", self.endpoint.into());
        set("attempt", self.attempt.into());
        if let Some(status) = self.status {
            set("status", status.into());
        }
        if let Some(code) = self.code {
            set("code", code.as_str().into());
        }
        if let Some(delay) = self.delay_ms {
            set("delayMs", (delay as f64).into());
        }
        set("durationMs", (self.duration_ms as f64).into());
        if let Some(compute) = self.compute_time_ms {
            set("computeTimeMs", compute.into());
        }
        if let Some(id) = self.request_id {
            set("requestId", id.into());
        }
        let _ = on_attempt.call1(&JsValue::UNDEFINED, &info);
    }
}

/// Where a call goes: a task route on the task endpoints, or the chat route
/// on the chat endpoints.
#[derive(Clone, Copy)]
pub enum Route<'a> {
    /// `/models/{model}` on the task endpoints.
    Task(&'a str),
    /// `/chat/completions` on the chat endpoints.
    Chat,
}

/// A 2xx answer: read whole, or with its body still to stream.
pub enum Delivery {
    /// Read whole.
    Whole(Answer),
    /// Headers in, body still to stream.
    Stream(InFlight),
}

impl Delivery {
    /// Status and headers of the answer.
    pub fn meta(&self) -> &ResponseMeta {
        match self {
            Delivery::Whole(answer) => &answer.meta,
            Delivery::Stream(in_flight) => &in_flight.meta,
        }
    }
}

impl Shared {
    /// The state of a new client.
    pub fn new(config: ClientConfig) -> Shared {
        let router = |endpoints: &[Endpoint]| {
            let weights: Vec<f64> = endpoints.iter().map(|e| e.weight).collect();
            RefCell::new(Router::new(&weights, BreakerConfig::default()))
        };
        // Jitter only has to differ between clients, not be secret.
        let seed = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64 ^ now_ms();
        Shared {
            router: router(&config.endpoints),
            chat_router: router(&config.chat_endpoints),
            random: RefCell::new(SplitMix64::new(seed)),
            in_flight: Deduper::default(),
            batches: Batcher::default(),
            config,
        }
    }

    /// One attempt at `endpoint`: its 2xx answer, or the error it ended with.
    async fn attempt(
        &self,
        endpoint: &Endpoint,
        route: Route<'_>,
        call: &CallOptions,
        payload: &Payload,
        timeout_ms: Option<u64>,
        stream: bool,
    ) -> Result<Delivery, (InferenceError, Option<ResponseMeta>)> {
        let url = match route {
            Route::Task(model) => task_url(&endpoint.url, model, endpoint.dedicated),
            Route::Chat => chat_url(&endpoint.url),
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        if let Some(content_type) = &payload.content_type {
            headers.push(("content-type".to_owned(), content_type.clone()));
        }
        if stream {
            headers.push(("accept".to_owned(), "text/event-stream".to_owned()));
        }
        for (name, value) in &call.headers {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            headers.push((name.clone(), value.clone()));
        }
        if let Some(bill_to) = &self.config.bill_to {
            headers.push(("x-hf-bill-to".to_owned(), bill_to.clone()));
        }
        if let Some(token) = endpoint.token.as_ref().or(self.config.token.as_ref()) {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
            headers.push(("authorization".to_owned(), token.authorization()));
        }
        let request = HttpRequest {
            url: &url,
            headers,
            body: &payload.body,
        };
        let in_flight = start(request, &call.signals, timeout_ms)
            .await
            .map_err(|e| (e, None))?;
        let ok = (200..300).contains(&in_flight.meta.status);
        if ok && stream {
            return Ok(Delivery::Stream(in_flight));
        }
        let answer = in_flight.read_whole().await.map_err(|e| (e, None))?;
        if ok {
            return Ok(Delivery::Whole(answer));
        }
        Err((
            error_from_response(&answer.meta, answer.text()),
            Some(answer.meta),
        ))
    }

    /// Sends a task call and reads its whole answer.
    pub fn call<'a>(
        &'a self,
        model: &'a str,
        call: &'a CallOptions,
        payload: Payload,
    ) -> BoxedFuture<'a, Answer> {
        Box::pin(async move {
            match self
                .deliver(Route::Task(model), call, payload, false)
                .await?
            {
                Delivery::Whole(answer) => Ok(answer),
                Delivery::Stream(in_flight) => in_flight.read_whole().await,
            }
        })
    }

    /// A deterministic task call: identical ones in flight share one request,
    /// unless the client turned `dedupe` off or the call has options of its
    /// own (its signal or observer must not steer another caller's request).
    pub async fn call_shared(
        &self,
        model: &str,
        call: &CallOptions,
        payload: Payload,
        own_options: bool,
    ) -> Result<Answer, InferenceError> {
        match payload.body.as_string() {
            Some(body) if self.config.dedupe && !own_options => {
                let kind = payload.content_type.as_deref().unwrap_or_default();
                let key = format!("{model}\n{kind}\n{body}");
                self.in_flight
                    .run(key, self.call(model, call, payload))
                    .await
            }
            _ => self.call(model, call, payload).await,
        }
    }

    /// Sends a call under the retry policy, across the route's endpoints, and
    /// returns the first 2xx answer or the last error. The decisions are the
    /// pure `CallPolicy`'s; this loop only performs them. A stream is retried
    /// only until its answer starts: once delivered, it is the caller's.
    ///
    /// Boxed: one copy of this large state machine serves every caller,
    /// instead of one inlined into each (it is most of the wasm's code).
    pub fn deliver<'a>(
        &'a self,
        route: Route<'a>,
        call: &'a CallOptions,
        payload: Payload,
        stream: bool,
    ) -> BoxedFuture<'a, Delivery> {
        Box::pin(self.deliver_inner(route, call, payload, stream))
    }

    async fn deliver_inner(
        &self,
        route: Route<'_>,
        call: &CallOptions,
        payload: Payload,
        stream: bool,
    ) -> Result<Delivery, InferenceError> {
        let (endpoints, router) = match route {
            Route::Task(_) => (&self.config.endpoints, &self.router),
            Route::Chat => (&self.config.chat_endpoints, &self.chat_router),
        };
        let mut policy = CallPolicy::new(call.retry, call.timeout_ms, now_ms());
        let mut last_status = None;
        loop {
            let (index, timeout) = {
                let mut random = self.random.borrow_mut();
                policy.start_attempt(&mut router.borrow_mut(), now_ms(), &mut *random)
            };
            let endpoint = &endpoints[index];
            let started = now_ms();
            let result = self
                .attempt(endpoint, route, call, &payload, timeout, stream)
                .await;
            let ended = now_ms();
            let (outcome, meta) = match &result {
                Ok(delivery) => (Outcome::Success, Some(delivery.meta())),
                Err((err, meta)) => {
                    let header_wait = meta.as_ref().and_then(|m| m.retry_after_ms);
                    (Outcome::of_error(err, header_wait), meta.as_ref())
                }
            };
            let next = {
                let mut random = self.random.borrow_mut();
                policy.finish_attempt(&mut router.borrow_mut(), ended, &outcome, &mut *random)
            };
            if let Some(meta) = meta {
                last_status = Some(meta.status);
            }
            let err = result.as_ref().err().map(|(err, _)| err);
            AttemptReport {
                endpoint: &endpoint.name,
                attempt: policy.attempts(),
                status: meta.map(|m| m.status),
                code: err.map(|e| e.code),
                delay_ms: match next {
                    Next::Wait(ms) => Some(ms),
                    _ => None,
                },
                duration_ms: ended.saturating_sub(started),
                compute_time_ms: meta.and_then(|m| m.compute_time_ms),
                request_id: meta.and_then(|m| m.request_id.as_deref()),
            }
            .send_to(call.on_attempt.as_ref());
            let finish = |mut err: InferenceError| {
                err.attempts = policy.attempts();
                err.status = err.status.or(last_status);
                err
            };
            match (next, result) {
                (Next::Wait(delay), _) => sleep(delay, &call.signals).await.map_err(finish)?,
                (_, Err((err, _))) => return Err(finish(err)),
                (_, Ok(delivery)) => return Ok(delivery),
            }
        }
    }
}
