//! Scenarios of the pure attempt loop (`CallPolicy` + `Router`) on a fake
//! clock with an injected random source: what the client's I/O layer will do,
//! without any network and without sleeping. Error answers go through the
//! same mapping the transport uses (`error_from_answer`, `Outcome::of_error`),
//! so each scenario also checks which answers are retried.
// Native only: the browser wasm build of the crate has no std to link a test harness against.
#![cfg(not(all(target_arch = "wasm32", not(feature = "worker"))))]

use hf_inference_wasm::policy::call::{CallPolicy, Next, Outcome};
use hf_inference_wasm::policy::random::{Random, SplitMix64};
use hf_inference_wasm::policy::retry::{retry_after_ms, GiveUpReason, RetryConfig};
use hf_inference_wasm::policy::route::{Breaker, BreakerConfig, Router};
use hf_inference_wasm::protocol::error::{error_from_answer, ErrorAnswer, ErrorBody};

mod common;
use common::parse;
use hf_inference_wasm::{Error, ErrorCode};

/// Unix time of the fake clock's zero: 2026-01-01T00:00:00Z.
const EPOCH_MS: u64 = 1_767_225_600_000;

/// A random source that always draws the same fraction: jitter and weighted
/// choices become exact (a full-jitter delay is `fraction * (ceiling + 1)`).
struct Fixed(f64);

impl Random for Fixed {
    fn next_f64(&mut self) -> f64 {
        self.0
    }
}

/// What an upstream does on one attempt: how long it takes, and how it ends.
#[derive(Clone, Copy)]
enum Act {
    /// A 2xx answer after this many ms.
    Ok(u64),
    /// An error answer after this many ms: status, body, `Retry-After`.
    Answer(u64, u16, &'static str, Option<&'static str>),
    /// The connection fails after this many ms.
    Network(u64),
    /// No answer: the attempt runs into its timeout.
    Stall,
}

/// One attempt as it happened.
#[derive(Debug, PartialEq)]
struct Step {
    endpoint: usize,
    at: u64,
    timeout: Option<u64>,
    /// The code of its failure, `None` when it succeeded.
    code: Option<ErrorCode>,
    next: Next,
}

fn step(endpoint: usize, at: u64, timeout: u64, code: Option<ErrorCode>, next: Next) -> Step {
    Step {
        endpoint,
        at,
        timeout: Some(timeout),
        code,
        next,
    }
}

/// An error answer as the transport reads it (`x-request-id` aside).
fn error_answer(status: u16, body: &str, retry_after: Option<u64>) -> ErrorAnswer {
    let json = parse(body).and_then(|doc| ErrorBody::read(&doc));
    ErrorAnswer {
        status,
        request_id: None,
        retry_after_ms: retry_after,
        text: body.to_owned(),
        json,
    }
}

struct Sim {
    now: u64,
    router: Router,
    random: Box<dyn Random>,
    /// The breaker of each attempt's endpoint in the last call: as the
    /// attempt started, and after it ended.
    breakers: Vec<(Breaker, Breaker)>,
}

impl Sim {
    /// Endpoints of these weights, a breaker opening after 3 failures for
    /// 30 s, and a seeded random source.
    fn new(weights: &[f64]) -> Sim {
        Sim::with_random(weights, Box::new(SplitMix64::new(99)))
    }

    fn with_random(weights: &[f64], random: Box<dyn Random>) -> Sim {
        Sim {
            now: 0,
            router: Router::new(
                weights,
                BreakerConfig {
                    failure_threshold: 3,
                    cool_down_ms: 30_000,
                },
            ),
            random,
            breakers: Vec::new(),
        }
    }

    /// Runs one call; `upstream(endpoint, attempt)` scripts each attempt.
    fn call(
        &mut self,
        config: RetryConfig,
        timeout: Option<u64>,
        mut upstream: impl FnMut(usize, u32) -> Act,
    ) -> Vec<Step> {
        let mut policy = CallPolicy::new(config, timeout, self.now);
        let mut steps = Vec::new();
        self.breakers.clear();
        loop {
            let (endpoint, attempt_timeout) =
                policy.start_attempt(&mut self.router, self.now, &mut *self.random);
            let at = self.now;
            let started = self.router.breaker(endpoint, self.now);
            let failed = |error: Error, header_wait_ms| {
                let code = error.code();
                (Outcome::of_error(&error, header_wait_ms), Some(code))
            };
            let (outcome, code) = match upstream(endpoint, policy.attempts()) {
                Act::Ok(ms) => {
                    self.now += ms;
                    (Outcome::Success, None)
                }
                Act::Answer(ms, status, body, retry_after) => {
                    self.now += ms;
                    let wait = retry_after.and_then(|v| retry_after_ms(v, EPOCH_MS + self.now));
                    let answer = error_answer(status, body, wait);
                    failed(error_from_answer(&answer), answer.retry_after_ms)
                }
                Act::Network(ms) => {
                    self.now += ms;
                    failed(Error::new(ErrorCode::Network, "connection reset"), None)
                }
                Act::Stall => {
                    self.now += attempt_timeout.expect("a stalled attempt needs a timeout");
                    failed(Error::new(ErrorCode::Timeout, "timed out"), None)
                }
            };
            let next =
                policy.finish_attempt(&mut self.router, self.now, &outcome, &mut *self.random);
            self.breakers
                .push((started, self.router.breaker(endpoint, self.now)));
            steps.push(Step {
                endpoint,
                at,
                timeout: attempt_timeout,
                code,
                next,
            });
            match next {
                Next::Wait(ms) => self.now += ms,
                Next::Done | Next::GiveUp(_) => return steps,
            }
        }
    }
}

fn config(max_attempts: u32, deadline_ms: u64) -> RetryConfig {
    RetryConfig {
        max_attempts,
        base_delay_ms: 100,
        max_delay_ms: 10_000,
        deadline_ms,
    }
}

const RATE_LIMITED: &str = r#"{"error":"Rate limit reached. Please retry later."}"#;
const SERVER_ERROR: &str = r#"{"error":"Internal Server Error"}"#;

const LOADING_SOON: &str = r#"{"error":"Model gpt2 is currently loading","estimated_time":2.5}"#;
const LOADING_LONG: &str = r#"{"error":"Model gpt2 is currently loading","estimated_time":20.0}"#;

fn endpoints(steps: &[Step]) -> Vec<usize> {
    steps.iter().map(|s| s.endpoint).collect()
}

#[test]
fn retry_after_in_seconds_is_waited_then_the_call_succeeds() {
    let mut sim = Sim::new(&[1.0]);
    let steps = sim.call(config(4, 60_000), None, |_, n| {
        if n == 1 {
            Act::Answer(20, 429, RATE_LIMITED, Some("1"))
        } else {
            Act::Ok(30)
        }
    });
    assert_eq!(
        steps,
        [
            step(0, 0, 60_000, Some(ErrorCode::RateLimited), Next::Wait(1000)),
            step(0, 1020, 58_980, None, Next::Done),
        ]
    );
}

#[test]
fn retry_after_as_an_http_date_is_measured_from_the_clock() {
    let mut sim = Sim::new(&[1.0]);
    // 2026-01-01T00:00:05Z, five seconds after the fake clock's zero; the answer comes at 1 s.
    let steps = sim.call(config(4, 60_000), None, |_, n| {
        if n == 1 {
            Act::Answer(
                1000,
                429,
                RATE_LIMITED,
                Some("Thu, 01 Jan 2026 00:00:05 GMT"),
            )
        } else {
            Act::Ok(10)
        }
    });
    assert_eq!(
        steps,
        [
            step(0, 0, 60_000, Some(ErrorCode::RateLimited), Next::Wait(4000)),
            step(0, 5000, 55_000, None, Next::Done),
        ]
    );
}

#[test]
fn a_loading_models_estimate_is_a_floor_capped_at_max_delay_and_the_header_wins() {
    let mut sim = Sim::new(&[1.0]);
    let steps = sim.call(config(5, 60_000), None, |_, n| match n {
        1 => Act::Answer(5, 503, LOADING_SOON, None),
        2 => Act::Answer(5, 503, LOADING_LONG, None),
        // With a Retry-After, the header's wait replaces the estimate.
        3 => Act::Answer(5, 503, LOADING_LONG, Some("1")),
        _ => Act::Ok(5),
    });
    let loading = Some(ErrorCode::ModelLoading);
    assert_eq!(
        steps,
        [
            step(0, 0, 60_000, loading, Next::Wait(2_500)),
            step(0, 2_505, 57_495, loading, Next::Wait(10_000)),
            step(0, 12_510, 47_490, loading, Next::Wait(1_000)),
            step(0, 13_515, 46_485, None, Next::Done),
        ]
    );
    // Three loading answers in a row opened the breaker, the third at
    // 12_515 ms; the only endpoint still took the next attempt as its trial,
    // which closed it.
    let trial = Breaker::HalfOpen {
        trial_in_flight: true,
    };
    assert_eq!(
        sim.breakers,
        [
            (Breaker::Closed, Breaker::Closed),
            (Breaker::Closed, Breaker::Closed),
            (Breaker::Closed, Breaker::Open { until_ms: 42_515 }),
            (trial, Breaker::Closed),
        ]
    );
    assert_eq!(sim.router.breaker(0, sim.now), Breaker::Closed);
}

#[test]
fn a_wait_past_the_deadline_ends_the_call() {
    let mut sim = Sim::new(&[1.0]);
    let steps = sim.call(config(4, 10_000), None, |_, _| {
        Act::Answer(10, 429, RATE_LIMITED, Some("30"))
    });
    assert_eq!(
        steps,
        [step(
            0,
            0,
            10_000,
            Some(ErrorCode::RateLimited),
            Next::GiveUp(GiveUpReason::Deadline)
        )]
    );
}

#[test]
fn stalls_are_cut_by_the_timeout_and_the_deadline() {
    let mut sim = Sim::with_random(&[1.0], Box::new(Fixed(0.5)));
    let steps = sim.call(config(10, 1_000), Some(400), |_, _| Act::Stall);
    let timeout = Some(ErrorCode::Timeout);
    // 400 ms timeouts, then the last attempt cut to the 50 ms the deadline
    // leaves; it ends exactly at the deadline, and the call with it.
    assert_eq!(
        steps,
        [
            step(0, 0, 400, timeout, Next::Wait(50)),
            step(0, 450, 400, timeout, Next::Wait(100)),
            step(0, 950, 50, timeout, Next::GiveUp(GiveUpReason::Deadline)),
        ]
    );
    assert_eq!(sim.now, 1_000);
    assert_eq!(
        sim.router.breaker(0, sim.now),
        Breaker::Open { until_ms: 31_000 }
    );
}

#[test]
fn failures_that_cannot_pass_are_not_retried() {
    for (status, body, code) in [
        (400, r#"{"error":"Bad request"}"#, ErrorCode::BadRequest),
        (
            401,
            r#"{"error":"Invalid credentials in Authorization header"}"#,
            ErrorCode::Unauthorized,
        ),
        (
            402,
            r#"{"error":"You have exceeded your monthly included credits for Inference Providers."}"#,
            ErrorCode::PaymentRequired,
        ),
        (
            402,
            r#"{"error":"the daily cap is reached","code":"BUDGET_EXCEEDED"}"#,
            ErrorCode::BudgetExceeded,
        ),
        (403, "Forbidden", ErrorCode::Forbidden),
        (
            404,
            r#"{"error":"Model gpt3 does not exist"}"#,
            ErrorCode::NotFound,
        ),
        (405, "", ErrorCode::MethodNotAllowed),
        (
            410,
            r#"{"error":"api-inference is no longer supported"}"#,
            ErrorCode::Gone,
        ),
        (413, "", ErrorCode::PayloadTooLarge),
        (
            422,
            r#"{"error":"Input validation error","error_type":"validation"}"#,
            ErrorCode::Validation,
        ),
        (501, "Not Implemented", ErrorCode::UpstreamError),
        (
            500,
            r#"{"error":"HF_TOKEN is not set","code":"CONFIG"}"#,
            ErrorCode::Config,
        ),
    ] {
        let mut sim = Sim::new(&[1.0]);
        // Two failures already: one more would open the breaker.
        sim.router.record_failure(0, 0);
        sim.router.record_failure(0, 0);
        let steps = sim.call(config(4, 60_000), None, |_, _| {
            Act::Answer(5, status, body, Some("1"))
        });
        assert_eq!(
            steps,
            [step(
                0,
                0,
                60_000,
                Some(code),
                Next::GiveUp(GiveUpReason::NotRetryable)
            )],
            "{status} {body}"
        );
        // An answer means the endpoint is up: its failures start over.
        sim.router.record_failure(0, sim.now);
        assert_eq!(
            sim.router.breaker(0, sim.now),
            Breaker::Closed,
            "{status} {body}"
        );
    }
}

/// A code of ours in a body counts only with the status it is answered
/// with: a foreign upstream's 500 that says BUDGET_EXCEEDED is still a
/// server error, and retried.
#[test]
fn a_code_in_a_body_with_another_status_does_not_stop_retries() {
    let mut sim = Sim::with_random(&[1.0], Box::new(Fixed(0.5)));
    let steps = sim.call(config(4, 60_000), None, |_, n| match n {
        1 => Act::Answer(
            5,
            500,
            r#"{"error":"the daily cap is reached","code":"BUDGET_EXCEEDED"}"#,
            None,
        ),
        2 => Act::Answer(5, 429, r#"{"error":"slow down","code":"VALIDATION"}"#, None),
        3 => Act::Answer(5, 503, r#"{"error":"busy","code":"NOT_FOUND"}"#, None),
        _ => Act::Ok(5),
    });
    assert_eq!(
        steps,
        [
            step(0, 0, 60_000, Some(ErrorCode::UpstreamError), Next::Wait(50)),
            step(0, 55, 59_945, Some(ErrorCode::RateLimited), Next::Wait(100)),
            step(
                0,
                160,
                59_840,
                Some(ErrorCode::UpstreamError),
                Next::Wait(200)
            ),
            step(0, 365, 59_635, None, Next::Done),
        ]
    );
}

#[test]
fn attempts_run_out() {
    let mut sim = Sim::with_random(&[1.0], Box::new(Fixed(0.5)));
    let steps = sim.call(config(3, 60_000), None, |_, _| {
        Act::Answer(5, 500, SERVER_ERROR, None)
    });
    let failed = Some(ErrorCode::UpstreamError);
    // Full jitter at the middle of each doubling range: 50 of 0..=100, 100 of 0..=200.
    assert_eq!(
        steps,
        [
            step(0, 0, 60_000, failed, Next::Wait(50)),
            step(0, 55, 59_945, failed, Next::Wait(100)),
            step(
                0,
                160,
                59_840,
                failed,
                Next::GiveUp(GiveUpReason::AttemptsExhausted)
            ),
        ]
    );
    assert_eq!(
        sim.router.breaker(0, sim.now),
        Breaker::Open { until_ms: 30_165 }
    );
}

#[test]
fn a_retry_goes_to_an_endpoint_not_tried_then_to_any() {
    // With a draw of 0.25, the weighted choice between two equal endpoints is the first.
    let mut sim = Sim::with_random(&[1.0, 1.0], Box::new(Fixed(0.25)));
    let steps = sim.call(config(4, 60_000), None, |_, _| {
        Act::Answer(5, 503, SERVER_ERROR, None)
    });
    let failed = Some(ErrorCode::UpstreamError);
    assert_eq!(
        steps,
        [
            step(0, 0, 60_000, failed, Next::Wait(25)),
            step(1, 30, 59_970, failed, Next::Wait(50)),
            step(0, 85, 59_915, failed, Next::Wait(100)),
            step(
                0,
                190,
                59_810,
                failed,
                Next::GiveUp(GiveUpReason::AttemptsExhausted)
            ),
        ]
    );
    assert_eq!(
        sim.router.breaker(0, sim.now),
        Breaker::Open { until_ms: 30_195 }
    );
    assert_eq!(sim.router.breaker(1, sim.now), Breaker::Closed);
}

#[test]
fn a_dead_endpoint_fails_over_then_its_breaker_opens_half_opens_and_closes() {
    let mut sim = Sim::new(&[1e12, 1.0]);
    let mut a_alive = false;
    let mut trail = Vec::new();
    for call in 0..6 {
        if call == 5 {
            sim.now += 30_000; // the cool-down passes, and A is back
            a_alive = true;
        }
        let steps = sim.call(config(4, 60_000), None, |endpoint, _| match endpoint {
            0 if !a_alive => Act::Network(2),
            _ => Act::Ok(10),
        });
        trail.push(endpoints(&steps));
        match call {
            0 | 1 => assert_eq!(sim.router.breaker(0, sim.now), Breaker::Closed),
            // The third failure in a row, 2 ms into this call, opened it.
            2 => assert_eq!(
                sim.router.breaker(0, sim.now),
                Breaker::Open {
                    until_ms: steps[0].at + 2 + 30_000
                }
            ),
            _ => {}
        }
        let codes: Vec<Option<ErrorCode>> = steps.iter().map(|s| s.code).collect();
        let expected = if call < 3 {
            vec![Some(ErrorCode::Network), None]
        } else {
            vec![None]
        };
        assert_eq!(codes, expected, "call {call}");
    }
    assert_eq!(
        trail,
        [
            vec![0, 1],
            vec![0, 1],
            vec![0, 1],
            vec![1],
            vec![1],
            vec![0]
        ]
    );
    assert_eq!(sim.router.breaker(0, sim.now), Breaker::Closed);
}

#[test]
fn a_failed_half_open_trial_reopens_the_breaker() {
    let mut sim = Sim::new(&[1e12, 1.0]);
    let a_down = |e: usize, _| {
        if e == 0 {
            Act::Network(1)
        } else {
            Act::Ok(1)
        }
    };
    for _ in 0..3 {
        sim.call(config(4, 60_000), None, a_down);
    }
    sim.now += 30_000;
    assert_eq!(
        sim.router.breaker(0, sim.now),
        Breaker::HalfOpen {
            trial_in_flight: false
        }
    );
    let steps = sim.call(config(4, 60_000), None, a_down);
    assert_eq!(endpoints(&steps), [0, 1]);
    // The trial failed 1 ms after it started: a new cool-down from then.
    assert_eq!(
        sim.router.breaker(0, sim.now),
        Breaker::Open {
            until_ms: steps[0].at + 1 + 30_000
        }
    );
}

#[test]
fn weights_are_honoured_across_calls() {
    let mut sim = Sim::new(&[1.0, 3.0]);
    let mut counts = [0u32; 2];
    for _ in 0..20_000 {
        let steps = sim.call(config(4, 60_000), None, |_, _| Act::Ok(1));
        counts[steps[0].endpoint] += 1;
    }
    let share = f64::from(counts[1]) / 20_000.0;
    assert!((share - 0.75).abs() < 0.015, "{counts:?}");
}

/// With every endpoint out, a call goes to the open endpoint whose cool-down
/// ends first, not to a half-open one whose single trial is under way; only
/// when every endpoint is under trial does one of those take it.
#[test]
fn with_every_endpoint_out_an_open_one_is_tried_before_a_trial_in_flight() {
    let mut sim = Sim::with_random(&[1.0, 1.0], Box::new(Fixed(0.25)));
    let (a, b) = (0, 1);
    for _ in 0..3 {
        sim.router.record_failure(a, 0); // open until 30 s
        sim.router.record_failure(b, 5_000); // open until 35 s
    }
    let in_flight = Breaker::HalfOpen {
        trial_in_flight: true,
    };

    // 30 s: A's cool-down is over, and a first call makes its trial there.
    let mut first = CallPolicy::new(config(4, 60_000), None, 30_000);
    let (endpoint, _) = first.start_attempt(&mut sim.router, 30_000, &mut *sim.random);
    assert_eq!(endpoint, a);
    assert_eq!(sim.router.breaker(a, 30_000), in_flight);

    // 31 s: A is under trial and B still open: B, whose cool-down ends first
    // (of the open ones), takes the call as its own trial.
    let mut second = CallPolicy::new(config(4, 60_000), None, 31_000);
    let (endpoint, _) = second.start_attempt(&mut sim.router, 31_000, &mut *sim.random);
    assert_eq!(endpoint, b);
    assert_eq!(sim.router.breaker(b, 31_000), in_flight);

    // 32 s: both under trial; the call still goes somewhere (A).
    let mut third = CallPolicy::new(config(4, 60_000), None, 32_000);
    let (endpoint, _) = third.start_attempt(&mut sim.router, 32_000, &mut *sim.random);
    assert_eq!(endpoint, a);
    assert_eq!(
        (sim.router.breaker(a, 32_000), sim.router.breaker(b, 32_000)),
        (in_flight, in_flight)
    );

    // A's trial passes; B's fails, opening it again, and the second call's
    // retry goes to A.
    let success = &Outcome::Success;
    assert_eq!(
        first.finish_attempt(&mut sim.router, 32_500, success, &mut *sim.random),
        Next::Done
    );
    assert_eq!(sim.router.breaker(a, 32_500), Breaker::Closed);
    let reset = Outcome::of_error(&Error::new(ErrorCode::Network, "reset"), None);
    assert_eq!(
        second.finish_attempt(&mut sim.router, 33_000, &reset, &mut *sim.random),
        Next::Wait(25)
    );
    assert_eq!(
        sim.router.breaker(b, 33_000),
        Breaker::Open { until_ms: 63_000 }
    );
    let (endpoint, timeout) = second.start_attempt(&mut sim.router, 33_025, &mut *sim.random);
    assert_eq!((endpoint, timeout), (a, Some(57_975)));
    assert_eq!(
        second.finish_attempt(&mut sim.router, 33_100, success, &mut *sim.random),
        Next::Done
    );
    assert_eq!(
        third.finish_attempt(&mut sim.router, 33_200, success, &mut *sim.random),
        Next::Done
    );
    assert_eq!(
        (sim.router.breaker(a, 33_200), sim.router.breaker(b, 33_200)),
        (Breaker::Closed, Breaker::Open { until_ms: 63_000 })
    );
}

#[test]
fn an_abort_leaves_a_half_open_trial_available() {
    let mut sim = Sim::new(&[1.0]);
    let mut policy = CallPolicy::new(config(4, 60_000), None, 0);
    for _ in 0..3 {
        sim.router.record_failure(0, 0);
    }
    let (endpoint, _) = policy.start_attempt(&mut sim.router, 30_000, &mut *sim.random);
    assert_eq!(
        sim.router.breaker(endpoint, 30_000),
        Breaker::HalfOpen {
            trial_in_flight: true
        }
    );
    let aborted = Outcome::of_error(&Error::new(ErrorCode::Aborted, "aborted"), None);
    assert_eq!(aborted, Outcome::Aborted);
    assert_eq!(
        policy.finish_attempt(&mut sim.router, 30_001, &aborted, &mut *sim.random),
        Next::GiveUp(GiveUpReason::NotRetryable)
    );
    assert_eq!(
        sim.router.breaker(endpoint, 30_001),
        Breaker::HalfOpen {
            trial_in_flight: false
        }
    );
    // Another call may make the trial now.
    let mut next = CallPolicy::new(config(4, 60_000), None, 30_002);
    assert_eq!(
        next.start_attempt(&mut sim.router, 30_002, &mut *sim.random)
            .0,
        endpoint
    );
    assert_eq!(
        sim.router.breaker(endpoint, 30_002),
        Breaker::HalfOpen {
            trial_in_flight: true
        }
    );
}
