//! Scenarios of the pure attempt loop (`CallPolicy` + `Router`) on a fake
//! clock with a seeded random source: what the JS layer will do, without any
//! network and without sleeping.
// Native only: the browser wasm build of the crate has no std to link a test harness against.
#![cfg(not(all(target_arch = "wasm32", not(feature = "worker"))))]

use hf_inference_wasm::policy::call::{CallPolicy, Next, Outcome};
use hf_inference_wasm::policy::random::SplitMix64;
use hf_inference_wasm::policy::retry::{retry_after_ms, Failure, GiveUpReason, RetryConfig};
use hf_inference_wasm::policy::route::{Breaker, BreakerConfig, Router};
use hf_inference_wasm::ErrorCode;

/// Unix time of the fake clock's zero: 2026-01-01T00:00:00Z.
const EPOCH_MS: u64 = 1_767_225_600_000;

/// What an upstream does on one attempt: how long it takes, and how it ends.
#[derive(Clone, Copy)]
enum Act {
    Ok(u64),
    Status(u64, ErrorCode, u16, Option<&'static str>, Option<u64>),
    Network(u64),
    Stall,
}

/// One attempt as it happened.
#[derive(Debug, PartialEq)]
struct Step {
    endpoint: usize,
    at: u64,
    timeout: Option<u64>,
    next: Next,
}

struct Sim {
    now: u64,
    router: Router,
    random: SplitMix64,
}

impl Sim {
    fn new(weights: &[f64]) -> Sim {
        Sim {
            now: 0,
            router: Router::new(
                weights,
                BreakerConfig {
                    failure_threshold: 3,
                    cool_down_ms: 30_000,
                },
            ),
            random: SplitMix64::new(99),
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
        loop {
            let (endpoint, attempt_timeout) =
                policy.start_attempt(&mut self.router, self.now, &mut self.random);
            let at = self.now;
            let outcome = match upstream(endpoint, policy.attempts()) {
                Act::Ok(ms) => {
                    self.now += ms;
                    Outcome::Success
                }
                Act::Status(ms, code, status, retry_after, estimated_ms) => {
                    self.now += ms;
                    Outcome::Failed(Failure {
                        code,
                        status: Some(status),
                        retry_after_ms: retry_after
                            .and_then(|v| retry_after_ms(v, EPOCH_MS + self.now)),
                        estimated_ms,
                    })
                }
                Act::Network(ms) => {
                    self.now += ms;
                    Outcome::Failed(Failure {
                        code: ErrorCode::Network,
                        status: None,
                        retry_after_ms: None,
                        estimated_ms: None,
                    })
                }
                Act::Stall => {
                    self.now += attempt_timeout.expect("a stalled attempt needs a timeout");
                    Outcome::Failed(Failure {
                        code: ErrorCode::Timeout,
                        status: None,
                        retry_after_ms: None,
                        estimated_ms: None,
                    })
                }
            };
            let next =
                policy.finish_attempt(&mut self.router, self.now, &outcome, &mut self.random);
            steps.push(Step {
                endpoint,
                at,
                timeout: attempt_timeout,
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

const RATE_LIMITED: ErrorCode = ErrorCode::RateLimited;

#[test]
fn retry_after_in_seconds_is_waited_then_the_call_succeeds() {
    let mut sim = Sim::new(&[1.0]);
    let steps = sim.call(config(4, 60_000), None, |_, n| {
        if n == 1 {
            Act::Status(20, RATE_LIMITED, 429, Some("1"), None)
        } else {
            Act::Ok(30)
        }
    });
    assert_eq!(
        steps,
        [
            Step {
                endpoint: 0,
                at: 0,
                timeout: Some(60_000),
                next: Next::Wait(1000)
            },
            Step {
                endpoint: 0,
                at: 1020,
                timeout: Some(58_980),
                next: Next::Done
            },
        ]
    );
}

#[test]
fn retry_after_as_an_http_date_is_measured_from_the_clock() {
    let mut sim = Sim::new(&[1.0]);
    // 2026-01-01T00:00:05Z, five seconds after the fake clock's zero; the answer comes at 1 s.
    let steps = sim.call(config(4, 60_000), None, |_, n| {
        if n == 1 {
            Act::Status(
                1000,
                RATE_LIMITED,
                429,
                Some("Thu, 01 Jan 2026 00:00:05 GMT"),
                None,
            )
        } else {
            Act::Ok(10)
        }
    });
    assert_eq!(steps[0].next, Next::Wait(4000));
    assert_eq!(steps[1].at, 5000);
}

#[test]
fn a_loading_models_estimate_is_a_floor_capped_at_max_delay() {
    let mut sim = Sim::new(&[1.0]);
    let steps = sim.call(config(4, 60_000), None, |_, n| match n {
        1 => Act::Status(5, ErrorCode::ModelLoading, 503, None, Some(2_500)),
        2 => Act::Status(5, ErrorCode::ModelLoading, 503, None, Some(20_000)),
        _ => Act::Ok(5),
    });
    let waits: Vec<Next> = steps.iter().map(|s| s.next).collect();
    assert!(
        matches!(waits[0], Next::Wait(ms) if (2_500..=10_000).contains(&ms)),
        "{waits:?}"
    );
    assert_eq!(waits[1], Next::Wait(10_000));
    assert_eq!(waits[2], Next::Done);
}

#[test]
fn a_wait_past_the_deadline_ends_the_call() {
    let mut sim = Sim::new(&[1.0]);
    let steps = sim.call(config(4, 10_000), None, |_, _| {
        Act::Status(10, RATE_LIMITED, 429, Some("30"), None)
    });
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].next, Next::GiveUp(GiveUpReason::Deadline));
}

#[test]
fn stalls_are_cut_by_the_timeout_and_the_deadline() {
    let mut sim = Sim::new(&[1.0]);
    let steps = sim.call(config(10, 1_000), Some(400), |_, _| Act::Stall);
    // Every attempt ends by the deadline: 400 ms timeouts, the last one cut short.
    let end = steps.last().map(|s| s.at + s.timeout.unwrap()).unwrap();
    assert!(end <= 1_000, "{steps:?}");
    assert!(steps.iter().all(|s| s.timeout.unwrap() <= 400));
    assert_eq!(
        steps.last().unwrap().next,
        Next::GiveUp(GiveUpReason::Deadline)
    );
    assert!(steps.len() >= 2, "{steps:?}");
}

#[test]
fn failures_that_cannot_pass_are_not_retried() {
    for (code, status) in [
        (ErrorCode::BadRequest, 400),
        (ErrorCode::Unauthorized, 401),
        (ErrorCode::NotFound, 404),
        (ErrorCode::Validation, 422),
    ] {
        let mut sim = Sim::new(&[1.0]);
        let steps = sim.call(config(4, 60_000), None, |_, _| {
            Act::Status(5, code, status, None, None)
        });
        assert_eq!(steps.len(), 1, "{code}");
        assert_eq!(steps[0].next, Next::GiveUp(GiveUpReason::NotRetryable));
        assert_eq!(
            sim.router.breaker(0, sim.now),
            Breaker::Closed,
            "an answer means the endpoint is up"
        );
    }
}

#[test]
fn attempts_run_out() {
    let mut sim = Sim::new(&[1.0]);
    let steps = sim.call(config(3, 60_000), None, |_, _| {
        Act::Status(5, ErrorCode::UpstreamError, 500, None, None)
    });
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[2].next, Next::GiveUp(GiveUpReason::AttemptsExhausted));
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
        trail.push(steps.iter().map(|s| s.endpoint).collect::<Vec<_>>());
        if call == 2 {
            assert!(matches!(
                sim.router.breaker(0, sim.now),
                Breaker::Open { .. }
            ));
        }
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
    for _ in 0..3 {
        sim.call(config(4, 60_000), None, |e, _| {
            if e == 0 {
                Act::Network(1)
            } else {
                Act::Ok(1)
            }
        });
    }
    sim.now += 30_000;
    let steps = sim.call(config(4, 60_000), None, |e, _| {
        if e == 0 {
            Act::Network(1)
        } else {
            Act::Ok(1)
        }
    });
    assert_eq!(steps.iter().map(|s| s.endpoint).collect::<Vec<_>>(), [0, 1]);
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

#[test]
fn an_abort_leaves_a_half_open_trial_available() {
    let mut sim = Sim::new(&[1.0]);
    let mut policy = CallPolicy::new(config(4, 60_000), None, 0);
    for _ in 0..3 {
        sim.router.record_failure(0, 0);
    }
    let (endpoint, _) = policy.start_attempt(&mut sim.router, 30_000, &mut sim.random);
    assert_eq!(
        sim.router.breaker(endpoint, 30_000),
        Breaker::HalfOpen {
            trial_in_flight: true
        }
    );
    assert_eq!(
        policy.finish_attempt(&mut sim.router, 30_001, &Outcome::Aborted, &mut sim.random),
        Next::GiveUp(GiveUpReason::NotRetryable)
    );
    assert_eq!(
        sim.router.breaker(endpoint, 30_001),
        Breaker::HalfOpen {
            trial_in_flight: false
        }
    );
}
