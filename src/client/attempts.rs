//! The attempt loop: drives the pure [`CallPolicy`] over a route's endpoints,
//! performing each attempt, reporting it, waiting between attempts (abortable
//! by the caller's signals) and giving up as the policy says. The client's
//! calls and the proxy's forwarding both run through [`run`].

use std::cell::RefCell;
use std::future::Future;

use futures_util::future::{select, Either};
use web_sys::AbortSignal;

use super::abort::AbortWait;
use super::options::{AttemptInfo, EndpointTarget, Observer};
use super::timer::Sleep;
use super::transport::{now_ms, ABORTED_MESSAGE};
use crate::policy::call::{CallPolicy, Next, Outcome};
use crate::policy::random::SplitMix64;
use crate::policy::retry::RetryConfig;
use crate::policy::route::{BreakerConfig, Router};
use crate::protocol::error::{Error, ErrorCode, ProviderFailure};

/// The endpoints of one route (task calls or chat calls) and their health,
/// shared by every call that takes the route.
pub(crate) struct Route {
    /// The endpoints, in the order given.
    pub targets: Vec<EndpointTarget>,
    router: RefCell<Router>,
}

impl Route {
    /// A route over `targets` (at least one).
    pub fn new(targets: Vec<EndpointTarget>) -> Route {
        let mut weights = Vec::with_capacity(targets.len());
        for target in &targets {
            weights.push(target.weight);
        }
        Route {
            router: RefCell::new(Router::new(&weights, BreakerConfig::default())),
            targets,
        }
    }

    /// A route over `targets` tried in their order (a list of providers).
    pub fn ordered(targets: Vec<EndpointTarget>) -> Route {
        Route {
            router: RefCell::new(Router::ordered(targets.len(), BreakerConfig::default())),
            targets,
        }
    }
}

/// Where one attempt goes and how long it may run.
pub(crate) struct Plan<'a> {
    /// The endpoint.
    pub target: &'a EndpointTarget,
    /// Its index in the route.
    pub index: usize,
    /// Its time limit (the call's timeout, cut to what the deadline leaves).
    pub timeout_ms: Option<u64>,
}

/// What an answer told, for reports and errors.
#[derive(Clone, Debug, Default)]
pub(crate) struct Facts {
    pub status: Option<u16>,
    pub request_id: Option<String>,
    pub compute_time_ms: Option<u64>,
    /// `x-inference-provider`: who served the attempt.
    pub provider: Option<String>,
    /// `x-usage-cost`: what a proxy counted it as costing, in USD.
    pub cost_usd: Option<f64>,
}

/// How one attempt ended.
pub(crate) enum AttemptEnd<T, R> {
    /// It succeeded with this value.
    Done(T, Facts),
    /// It failed; `answer` is what to pass on if the call gives up here.
    Failed {
        error: Error,
        /// The wait the answer's `Retry-After` asked for.
        header_wait_ms: Option<u64>,
        facts: Facts,
        answer: Option<R>,
    },
}

/// A call that gave up: its last error (with the attempts made and the last
/// status) and the last failed attempt's answer, if it kept one.
pub(crate) struct GaveUp<R> {
    pub error: Error,
    /// The proxy passes it on; the client only reports the error.
    #[cfg_attr(not(all(feature = "worker", target_arch = "wasm32")), allow(dead_code))]
    pub answer: Option<R>,
}

/// What one call runs with.
pub(crate) struct Setup<'a> {
    pub route: &'a Route,
    pub random: &'a RefCell<SplitMix64>,
    pub retry: RetryConfig,
    pub timeout_ms: Option<u64>,
    pub signals: &'a [AbortSignal],
    pub on_attempt: Option<&'a Observer>,
    /// The route's endpoints are providers: a 402 fails over to the next,
    /// reports name them, and the final error lists every failure.
    pub providers: bool,
}

/// Waits `ms`, or returns `false` as soon as a signal aborts.
pub(crate) async fn sleep(ms: u64, signals: &[AbortSignal]) -> bool {
    if signals.iter().any(AbortSignal::aborted) {
        return false;
    }
    // Armed even at 0: the timer fires once the tasks queued now have run,
    // which is what a batch's window of 0 is for (batch.rs).
    let timer = Sleep::new(ms);
    if signals.is_empty() {
        timer.await;
        return true;
    }
    matches!(
        select(timer, AbortWait::new(signals)).await,
        Either::Left(_)
    )
}

/// A call's attempt state, which abandons the attempt under way if the call
/// is dropped in the middle of it (a caller that let go of its future):
/// else a half-open endpoint would wait for that trial's end forever.
struct Attempting<'r> {
    policy: CallPolicy,
    route: &'r Route,
}

impl Drop for Attempting<'_> {
    fn drop(&mut self) {
        self.policy.abandon(&mut self.route.router.borrow_mut());
    }
}

/// Runs a call: attempts as `attempt` performs them, retried and failed over
/// as the policy decides. Returns the successful value and the attempts made.
pub(crate) async fn run<'r, T, R, F, Fut>(
    setup: Setup<'r>,
    mut attempt: F,
) -> Result<(T, u32), GaveUp<R>>
where
    F: FnMut(Plan<'r>) -> Fut,
    Fut: Future<Output = AttemptEnd<T, R>>,
{
    let mut policy = CallPolicy::new(setup.retry, setup.timeout_ms, now_ms());
    if setup.providers {
        policy = policy.failing_over_payment();
    }
    let mut attempting = Attempting {
        policy,
        route: setup.route,
    };
    let mut failures = Vec::new();
    let policy = &mut attempting.policy;
    let mut last_status = None;
    loop {
        let aborted = |status, attempts| GaveUp {
            error: Error::new(ErrorCode::Aborted, ABORTED_MESSAGE)
                .with_call_facts(status, None, attempts),
            answer: None,
        };
        if setup.signals.iter().any(AbortSignal::aborted) {
            return Err(aborted(last_status, policy.attempts()));
        }
        let started = now_ms();
        let (index, timeout_ms) = policy.start_attempt(
            &mut setup.route.router.borrow_mut(),
            started,
            &mut *setup.random.borrow_mut(),
        );
        let target = &setup.route.targets[index];
        let end = attempt(Plan {
            target,
            index,
            timeout_ms,
        })
        .await;
        let ended = now_ms();
        let outcome = match &end {
            AttemptEnd::Done(..) => Outcome::Success,
            AttemptEnd::Failed {
                error,
                header_wait_ms,
                ..
            } => Outcome::of_error(error, *header_wait_ms),
        };
        let next = policy.finish_attempt(
            &mut setup.route.router.borrow_mut(),
            ended,
            &outcome,
            &mut *setup.random.borrow_mut(),
        );
        let attempts = policy.attempts();
        let facts = match &end {
            AttemptEnd::Done(_, facts) | AttemptEnd::Failed { facts, .. } => facts,
        };
        let status = facts.status;
        if status.is_some() {
            last_status = status;
        }
        let provider = facts
            .provider
            .clone()
            .or_else(|| setup.providers.then(|| target.name.clone()));
        if let (true, AttemptEnd::Failed { error, .. }) = (setup.providers, &end) {
            failures.push(ProviderFailure {
                provider: provider.clone().unwrap_or_default(),
                status,
                code: error.code(),
                message: error.message().to_owned(),
            });
        }
        if let Some(observer) = setup.on_attempt {
            observer(&AttemptInfo {
                endpoint: target.name.clone(),
                attempt: attempts,
                status: facts.status,
                code: match &end {
                    AttemptEnd::Failed { error, .. } => Some(error.code()),
                    AttemptEnd::Done(..) => None,
                },
                delay_ms: match next {
                    Next::Wait(ms) => Some(ms),
                    _ => None,
                },
                duration_ms: ended.saturating_sub(started),
                compute_time_ms: facts.compute_time_ms,
                request_id: facts.request_id.clone(),
                provider,
                cost_usd: facts.cost_usd,
            });
        }
        match (end, next) {
            (AttemptEnd::Done(value, _), _) => return Ok((value, attempts)),
            (AttemptEnd::Failed { .. }, Next::Wait(ms)) => {
                // A wait of 0 (a failover to the next provider) goes on at
                // once: `sleep` arms its timer even at 0, for batches.
                let went_on = if ms == 0 {
                    !setup.signals.iter().any(AbortSignal::aborted)
                } else {
                    sleep(ms, setup.signals).await
                };
                if !went_on {
                    return Err(aborted(last_status, attempts));
                }
            }
            (AttemptEnd::Failed { error, answer, .. }, _) => {
                // The last attempt's own status: a timeout after a 503 is
                // no 503 (the proxy answers with this status).
                return Err(GaveUp {
                    error: error
                        .with_call_facts(status, None, attempts)
                        .with_failures(failures),
                    answer,
                });
            }
        }
    }
}
