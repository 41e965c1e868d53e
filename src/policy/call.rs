//! The attempt loop of one call as a sans-IO state machine: the I/O layer asks
//! where the next attempt goes, performs it, reports how it ended, and is told
//! whether to wait and try again or to stop. Browser, Node and the proxy worker
//! run the same decisions, and tests drive them with a fake clock.

use super::random::Random;
use super::retry::{is_retryable, Decision, Failure, GiveUpReason, RetryConfig, RetryState};
use super::route::Router;
use crate::protocol::error::{Error, ErrorCode};

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Success,
    /// A failure (an error answer, a connection failure or a timeout).
    Failed(Failure),
    /// The caller aborted.
    Aborted,
}

impl Outcome {
    /// How an attempt that ended with `err` ended. `header_wait_ms` is the
    /// wait its answer's `Retry-After` asked for; without one, the error's own
    /// wait can only be a loading model's estimate.
    pub fn of_error(err: &Error, header_wait_ms: Option<u64>) -> Outcome {
        if err.code() == ErrorCode::Aborted {
            return Outcome::Aborted;
        }
        Outcome::Failed(Failure {
            code: err.code(),
            status: err.status(),
            retry_after_ms: header_wait_ms,
            estimated_ms: err.retry_after_ms().filter(|_| header_wait_ms.is_none()),
        })
    }
}

/// What to do after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// The call succeeded.
    Done,
    /// Wait this many milliseconds, then make the next attempt.
    Wait(u64),
    /// Stop and report the last failure.
    GiveUp(GiveUpReason),
}

/// The attempt state of one call.
#[derive(Clone, Debug)]
pub struct CallPolicy {
    retry: RetryState,
    timeout_ms: Option<u64>,
    tried: Vec<usize>,
    current: Option<usize>,
    /// A 402 PAYMENT_REQUIRED sends the next attempt to the next endpoint
    /// (a list of providers: another's credits may be there).
    fail_over_payment: bool,
    /// Endpoints the call must not go back to (one that answered 402).
    excluded: Vec<usize>,
}

impl CallPolicy {
    /// A call starting at `now_ms` with a per-attempt `timeout_ms`.
    pub fn new(config: RetryConfig, timeout_ms: Option<u64>, now_ms: u64) -> CallPolicy {
        CallPolicy {
            retry: RetryState::new(config, now_ms),
            timeout_ms,
            tried: Vec::new(),
            current: None,
            fail_over_payment: false,
            excluded: Vec::new(),
        }
    }

    /// The call fails over from an endpoint that answers 402
    /// PAYMENT_REQUIRED to the next one (never back to it), under the same
    /// attempt budget and deadline; without another, it gives up.
    pub fn failing_over_payment(mut self) -> CallPolicy {
        self.fail_over_payment = true;
        self
    }

    /// Attempts started so far.
    pub fn attempts(&self) -> u32 {
        self.retry.attempts()
    }

    /// Starts an attempt: the endpoint it goes to (index into the router's
    /// endpoints) and how long it may run.
    pub fn start_attempt(
        &mut self,
        router: &mut Router,
        now_ms: u64,
        random: &mut dyn Random,
    ) -> (usize, Option<u64>) {
        let index = router.pick_excluding(now_ms, &self.tried, &self.excluded, random);
        self.current = Some(index);
        (index, self.retry.start_attempt(now_ms, self.timeout_ms))
    }

    /// Ends the current attempt with `outcome` at `now_ms`, updating the
    /// endpoint's health, and says what comes next.
    pub fn finish_attempt(
        &mut self,
        router: &mut Router,
        now_ms: u64,
        outcome: &Outcome,
        random: &mut dyn Random,
    ) -> Next {
        let Some(index) = self.current.take() else {
            return Next::GiveUp(GiveUpReason::NotRetryable);
        };
        match outcome {
            Outcome::Success => {
                router.record_success(index);
                Next::Done
            }
            Outcome::Aborted => {
                router.record_neutral(index);
                Next::GiveUp(GiveUpReason::NotRetryable)
            }
            Outcome::Failed(failure)
                if self.fail_over_payment
                    && failure.code == ErrorCode::PaymentRequired
                    && self.excluded.len() + 1 < router.len() =>
            {
                // Upstream answered: the endpoint is up, its account is not.
                router.record_success(index);
                self.excluded.push(index);
                self.tried.push(index);
                match self.retry.another_attempt(now_ms) {
                    Some(reason) => Next::GiveUp(reason),
                    None => Next::Wait(0),
                }
            }
            Outcome::Failed(failure) => {
                if is_retryable(failure.code, failure.status) {
                    router.record_failure(index, now_ms);
                } else {
                    // Upstream answered, so the endpoint itself is up.
                    router.record_success(index);
                }
                match self.retry.after_failure(now_ms, failure, random) {
                    Decision::RetryAfter(ms) => {
                        self.tried.push(index);
                        Next::Wait(ms)
                    }
                    Decision::GiveUp(reason) => Next::GiveUp(reason),
                }
            }
        }
    }

    /// Ends an attempt left unfinished (its caller dropped the call): like
    /// an abort, it says nothing of the endpoint's health, and a half-open
    /// trial it was may be made again. Nothing happens after
    /// [`finish_attempt`](Self::finish_attempt).
    pub fn abandon(&mut self, router: &mut Router) {
        if let Some(index) = self.current.take() {
            router.record_neutral(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_errors_wait_is_the_header_else_the_estimate() {
        let loading = Error::new(ErrorCode::ModelLoading, "loading")
            .with_status(503)
            .with_retry_after_ms(Some(20_000));
        let failed = |outcome| match outcome {
            Outcome::Failed(f) => (f.retry_after_ms, f.estimated_ms, f.status),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            failed(Outcome::of_error(&loading, None)),
            (None, Some(20_000), Some(503))
        );
        // With a header, the error's wait came from it: no estimate to add.
        assert_eq!(
            failed(Outcome::of_error(&loading, Some(20_000))),
            (Some(20_000), None, Some(503))
        );
        let aborted = Error::new(ErrorCode::Aborted, "aborted");
        assert_eq!(Outcome::of_error(&aborted, None), Outcome::Aborted);
    }

    #[test]
    fn providers_are_tried_in_order_and_a_402_fails_over_without_a_wait() {
        use crate::policy::random::SplitMix64;
        use crate::policy::route::BreakerConfig;
        let mut router = Router::ordered(3, BreakerConfig::default());
        let mut random = SplitMix64::new(1);
        let config = RetryConfig {
            max_attempts: 4,
            base_delay_ms: 0,
            ..RetryConfig::default()
        };
        let mut call = CallPolicy::new(config, None, 0).failing_over_payment();
        let failed = |code, status| {
            Outcome::Failed(Failure {
                code,
                status: Some(status),
                retry_after_ms: None,
                estimated_ms: None,
            })
        };
        let mut went = Vec::new();
        for (outcome, next) in [
            (failed(ErrorCode::PaymentRequired, 402), Next::Wait(0)),
            (failed(ErrorCode::UpstreamError, 503), Next::Wait(0)),
            (failed(ErrorCode::RateLimited, 429), Next::Wait(0)),
        ] {
            went.push(call.start_attempt(&mut router, 0, &mut random).0);
            assert_eq!(
                call.finish_attempt(&mut router, 0, &outcome, &mut random),
                next
            );
        }
        // Every provider tried once; the one that answered 402 is never
        // tried again, so the fourth attempt goes back to the second.
        went.push(call.start_attempt(&mut router, 0, &mut random).0);
        assert_eq!(went, [0, 1, 2, 1]);
        // A 402 with no provider left to fail over to ends the call.
        let mut alone = CallPolicy::new(config, None, 0).failing_over_payment();
        let mut one = Router::ordered(1, BreakerConfig::default());
        alone.start_attempt(&mut one, 0, &mut random);
        assert_eq!(
            alone.finish_attempt(
                &mut one,
                0,
                &failed(ErrorCode::PaymentRequired, 402),
                &mut random
            ),
            Next::GiveUp(GiveUpReason::NotRetryable)
        );
    }

    #[test]
    fn an_abandoned_trial_may_be_made_again() {
        use crate::policy::random::SplitMix64;
        use crate::policy::route::{Breaker, BreakerConfig};
        let config = BreakerConfig {
            failure_threshold: 1,
            cool_down_ms: 100,
        };
        let mut router = Router::new(&[1.0], config);
        let mut random = SplitMix64::new(7);
        router.record_failure(0, 0);
        let mut call = CallPolicy::new(RetryConfig::default(), None, 100);
        assert_eq!(call.start_attempt(&mut router, 100, &mut random).0, 0);
        let trial = |in_flight| Breaker::HalfOpen {
            trial_in_flight: in_flight,
        };
        assert_eq!(router.breaker(0, 100), trial(true));
        call.abandon(&mut router);
        assert_eq!(router.breaker(0, 100), trial(false));
        // Once finished, abandoning changes nothing.
        call.start_attempt(&mut router, 100, &mut random);
        call.finish_attempt(&mut router, 110, &Outcome::Success, &mut random);
        call.abandon(&mut router);
        assert_eq!(router.breaker(0, 110), Breaker::Closed);
    }
}
