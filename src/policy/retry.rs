//! When a failed attempt is tried again, and after how long.
//!
//! Sans-IO: the caller passes the clock reading and the random source, so the
//! same decisions run in the browser, in Node, in the proxy worker and in
//! deterministic native tests.

use super::random::Random;
use crate::protocol::error::ErrorCode;

/// Retry settings of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// Upper bound of the first backoff; it doubles with each retry.
    pub base_delay_ms: u64,
    /// Upper bound of any backoff (also caps a loading model's estimate).
    pub max_delay_ms: u64,
    /// No attempt starts, and no attempt runs, past this long after the call began.
    pub deadline_ms: u64,
}

impl Default for RetryConfig {
    /// Suits a browser: a person waits, so four attempts within a minute.
    fn default() -> RetryConfig {
        RetryConfig {
            max_attempts: 4,
            base_delay_ms: 500,
            max_delay_ms: 10_000,
            deadline_ms: 60_000,
        }
    }
}

impl RetryConfig {
    /// One attempt, no deadline: `retry: false`.
    pub fn disabled() -> RetryConfig {
        RetryConfig {
            max_attempts: 1,
            base_delay_ms: 0,
            max_delay_ms: 0,
            deadline_ms: u64::MAX,
        }
    }
}

/// Whether a failure of this kind may succeed when tried again: rate limits,
/// loading models, 500/502/503/504, connection failures and attempt timeouts.
/// Other 4xx, bad answers and aborts never are.
pub fn is_retryable(code: ErrorCode, status: Option<u16>) -> bool {
    match code {
        ErrorCode::RateLimited
        | ErrorCode::ModelLoading
        | ErrorCode::Network
        | ErrorCode::Timeout => true,
        ErrorCode::UpstreamError => matches!(status, None | Some(500 | 502 | 503 | 504)),
        _ => false,
    }
}

/// What a failed attempt tells the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Its code.
    pub code: ErrorCode,
    /// Its HTTP status, if an answer came.
    pub status: Option<u16>,
    /// The wait upstream asked for with `Retry-After`.
    pub retry_after_ms: Option<u64>,
    /// A loading model's `estimated_time`.
    pub estimated_ms: Option<u64>,
}

/// The policy's answer after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Wait this long, then try again.
    RetryAfter(u64),
    /// Stop and report the failure.
    GiveUp(GiveUpReason),
}

/// Why a call stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GiveUpReason {
    /// The failure cannot be cured by trying again.
    NotRetryable,
    /// Every allowed attempt was made.
    AttemptsExhausted,
    /// The wait needed would end past the deadline.
    Deadline,
}

/// The retry state of one call.
#[derive(Clone, Debug)]
pub struct RetryState {
    config: RetryConfig,
    started_ms: u64,
    attempts: u32,
}

impl RetryState {
    /// A call that starts at `now_ms`.
    pub fn new(config: RetryConfig, now_ms: u64) -> RetryState {
        RetryState {
            config,
            started_ms: now_ms,
            attempts: 0,
        }
    }

    /// Attempts started so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Records that an attempt starts now; returns the time it may run, the
    /// smaller of `timeout_ms` and what is left before the deadline.
    pub fn start_attempt(&mut self, now_ms: u64, timeout_ms: Option<u64>) -> Option<u64> {
        self.attempts += 1;
        let left = self.remaining_ms(now_ms);
        match (timeout_ms, left) {
            (Some(t), Some(l)) => Some(t.min(l)),
            (t, l) => t.or(l),
        }
    }

    /// Time left before the deadline (`None` when there is none).
    pub fn remaining_ms(&self, now_ms: u64) -> Option<u64> {
        (self.config.deadline_ms != u64::MAX).then(|| {
            self.config
                .deadline_ms
                .saturating_sub(now_ms.saturating_sub(self.started_ms))
        })
    }

    /// Whether another attempt may start at once (a failover that needs no
    /// wait): `None` if so, else why not.
    pub fn another_attempt(&self, now_ms: u64) -> Option<GiveUpReason> {
        if self.attempts >= self.config.max_attempts {
            return Some(GiveUpReason::AttemptsExhausted);
        }
        match self.remaining_ms(now_ms) {
            Some(0) => Some(GiveUpReason::Deadline),
            _ => None,
        }
    }

    /// Decides what follows a failed attempt.
    ///
    /// The delay is full-jitter exponential (uniform in `0..=min(max, base * 2^n)`),
    /// never shorter than `Retry-After` nor than a loading model's estimate
    /// (capped at `max_delay_ms`), and never ends past the deadline: a drawn
    /// delay that would is drawn again within the time left, and a wait
    /// upstream asked for that would ends the call.
    pub fn after_failure(
        &self,
        now_ms: u64,
        failure: &Failure,
        random: &mut dyn Random,
    ) -> Decision {
        if !is_retryable(failure.code, failure.status) {
            return Decision::GiveUp(GiveUpReason::NotRetryable);
        }
        if self.attempts >= self.config.max_attempts {
            return Decision::GiveUp(GiveUpReason::AttemptsExhausted);
        }
        let exponent = self.attempts.saturating_sub(1).min(32);
        let ceiling = self
            .config
            .base_delay_ms
            .saturating_mul(1u64 << exponent)
            .min(self.config.max_delay_ms);
        let jitter = (random.next_f64() * (ceiling as f64 + 1.0)) as u64;
        let floor = failure.retry_after_ms.unwrap_or(0).max(
            failure
                .estimated_ms
                .unwrap_or(0)
                .min(self.config.max_delay_ms),
        );
        let delay = jitter.min(ceiling).max(floor);
        match self.remaining_ms(now_ms) {
            // A wait upstream asked for that ends past the deadline: stop now.
            Some(left) if floor >= left => Decision::GiveUp(GiveUpReason::Deadline),
            // A drawn wait that would: draw again within the first half of
            // what is left past the floor, so the retry still has time to run.
            Some(left) if delay >= left => {
                let span = (left - floor) / 2;
                Decision::RetryAfter(floor + (random.next_f64() * span as f64) as u64)
            }
            _ => Decision::RetryAfter(delay),
        }
    }
}

/// The wait a `Retry-After` header asks for, in milliseconds: either
/// delta-seconds (`"120"`) or an HTTP date in any of the three forms RFC 9110
/// allows, measured from `now_unix_ms`. A date in the past means no wait;
/// anything unreadable is ignored.
pub fn retry_after_ms(value: &str, now_unix_ms: u64) -> Option<u64> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits to be a number of seconds: as long a wait as can be.
        return Some(
            value
                .parse::<u64>()
                .map_or(u64::MAX, |s| s.saturating_mul(1000)),
        );
    }
    let at_secs = date_header::parse(value.as_bytes()).ok()?;
    Some(at_secs.saturating_mul(1000).saturating_sub(now_unix_ms))
}

/// The compute time an `x-compute-time` header reports, in whole
/// milliseconds, from its seconds (`"0.016"`) as the runtime's `parseFloat`
/// read them (`f64::from_str` would bring its 20 KB of tables into the wasm).
pub fn compute_time_ms(seconds: f64) -> Option<u64> {
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::random::SplitMix64;

    /// A random source that always answers the same fraction.
    struct Fixed(f64);
    impl Random for Fixed {
        fn next_f64(&mut self) -> f64 {
            self.0
        }
    }

    fn failure(code: ErrorCode, status: Option<u16>) -> Failure {
        Failure {
            code,
            status,
            retry_after_ms: None,
            estimated_ms: None,
        }
    }

    fn config(max_attempts: u32, deadline_ms: u64) -> RetryConfig {
        RetryConfig {
            max_attempts,
            base_delay_ms: 100,
            max_delay_ms: 1000,
            deadline_ms,
        }
    }

    #[test]
    fn which_failures_retry() {
        use ErrorCode::*;
        for (code, status, retry) in [
            (RateLimited, Some(429), true),
            (ModelLoading, Some(503), true),
            (UpstreamError, Some(500), true),
            (UpstreamError, Some(502), true),
            (UpstreamError, Some(503), true),
            (UpstreamError, Some(504), true),
            (UpstreamError, Some(501), false),
            (Network, None, true),
            (Timeout, None, true),
            (BadRequest, Some(400), false),
            (Unauthorized, Some(401), false),
            (Forbidden, Some(403), false),
            (NotFound, Some(404), false),
            (Validation, Some(422), false),
            (Aborted, None, false),
            (BadResponse, Some(200), false),
            (InvalidInput, None, false),
            (Config, Some(500), false),
            (PaymentRequired, Some(402), false),
            (BudgetExceeded, Some(402), false),
        ] {
            assert_eq!(is_retryable(code, status), retry, "{code} {status:?}");
        }
    }

    #[test]
    fn full_jitter_grows_exponentially_up_to_the_cap() {
        let mut state = RetryState::new(config(10, 1_000_000), 0);
        let mut ceilings = Vec::new();
        for _ in 0..6 {
            state.start_attempt(0, None);
            // The top of the jitter range is the ceiling itself.
            match state.after_failure(
                0,
                &failure(ErrorCode::Network, None),
                &mut Fixed(0.999_999_9),
            ) {
                Decision::RetryAfter(ms) => ceilings.push(ms),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(
            state.after_failure(0, &failure(ErrorCode::Network, None), &mut Fixed(0.0)),
            Decision::RetryAfter(0)
        );
    }

    #[test]
    fn retry_after_is_a_floor_even_above_max_delay() {
        let mut state = RetryState::new(config(4, 60_000), 0);
        state.start_attempt(0, None);
        let limited = Failure {
            retry_after_ms: Some(5000),
            ..failure(ErrorCode::RateLimited, Some(429))
        };
        assert_eq!(
            state.after_failure(0, &limited, &mut Fixed(0.5)),
            Decision::RetryAfter(5000)
        );
    }

    #[test]
    fn estimated_time_is_a_floor_capped_at_max_delay() {
        let mut state = RetryState::new(config(4, 60_000), 0);
        state.start_attempt(0, None);
        let loading = |ms| Failure {
            estimated_ms: Some(ms),
            ..failure(ErrorCode::ModelLoading, Some(503))
        };
        assert_eq!(
            state.after_failure(0, &loading(700), &mut Fixed(0.0)),
            Decision::RetryAfter(700)
        );
        assert_eq!(
            state.after_failure(0, &loading(20_000), &mut Fixed(0.0)),
            Decision::RetryAfter(1000)
        );
    }

    #[test]
    fn deadline_cuts_off_waits_and_bounds_attempts() {
        let mut state = RetryState::new(config(10, 2000), 1_000);
        assert_eq!(state.start_attempt(1_000, Some(5000)), Some(2000));
        assert_eq!(state.start_attempt(2_500, Some(300)), Some(300));
        assert_eq!(state.start_attempt(2_900, None), Some(100));
        let limited = Failure {
            retry_after_ms: Some(1500),
            ..failure(ErrorCode::RateLimited, Some(429))
        };
        // 1500 ms from t=2000 would end at 3500, past the deadline at 3000.
        assert_eq!(
            state.after_failure(2_000, &limited, &mut Fixed(0.0)),
            Decision::GiveUp(GiveUpReason::Deadline)
        );
        assert_eq!(
            state.after_failure(1_400, &limited, &mut Fixed(0.0)),
            Decision::RetryAfter(1500)
        );
        assert_eq!(state.remaining_ms(4_000), Some(0));
        // A drawn delay past the deadline (400 ms, the third ceiling, with 300 ms
        // left at t=2700) is drawn again within half of what is left: 0..150.
        let timeout = failure(ErrorCode::Timeout, None);
        assert_eq!(
            state.after_failure(2_700, &timeout, &mut Fixed(0.999_999)),
            Decision::RetryAfter(149)
        );
        assert_eq!(
            state.after_failure(2_700, &timeout, &mut Fixed(0.0)),
            Decision::RetryAfter(0)
        );
        assert_eq!(
            state.after_failure(3_000, &timeout, &mut Fixed(0.5)),
            Decision::GiveUp(GiveUpReason::Deadline)
        );
    }

    #[test]
    fn attempts_and_non_retryable_failures_stop() {
        let mut state = RetryState::new(config(2, 60_000), 0);
        state.start_attempt(0, None);
        assert_eq!(
            state.after_failure(0, &failure(ErrorCode::NotFound, Some(404)), &mut Fixed(0.0)),
            Decision::GiveUp(GiveUpReason::NotRetryable)
        );
        assert!(matches!(
            state.after_failure(0, &failure(ErrorCode::Timeout, None), &mut Fixed(0.0)),
            Decision::RetryAfter(_)
        ));
        state.start_attempt(0, None);
        assert_eq!(
            state.after_failure(0, &failure(ErrorCode::Timeout, None), &mut Fixed(0.0)),
            Decision::GiveUp(GiveUpReason::AttemptsExhausted)
        );
        assert_eq!(state.attempts(), 2);
    }

    #[test]
    fn disabled_means_one_attempt_and_no_deadline() {
        let mut state = RetryState::new(RetryConfig::disabled(), 0);
        assert_eq!(state.start_attempt(0, None), None);
        assert_eq!(state.start_attempt(0, Some(50)), Some(50));
        assert_eq!(
            state.after_failure(0, &failure(ErrorCode::Network, None), &mut Fixed(0.0)),
            Decision::GiveUp(GiveUpReason::AttemptsExhausted)
        );
    }

    #[test]
    fn seeded_jitter_stays_in_range_and_spreads() {
        let mut random = SplitMix64::new(7);
        let mut state = RetryState::new(config(100, u64::MAX), 0);
        state.start_attempt(0, None);
        state.start_attempt(0, None);
        let delays: Vec<u64> = (0..1000)
            .map(|_| {
                match state.after_failure(0, &failure(ErrorCode::Network, None), &mut random) {
                    Decision::RetryAfter(ms) => ms,
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        assert!(delays.iter().all(|d| *d <= 200));
        let mean = delays.iter().sum::<u64>() as f64 / delays.len() as f64;
        assert!((90.0..110.0).contains(&mean), "mean {mean}");
    }

    #[test]
    fn seconds_form() {
        assert_eq!(retry_after_ms("1", 0), Some(1000));
        assert_eq!(retry_after_ms(" 120 ", 0), Some(120_000));
        assert_eq!(retry_after_ms("-1", 0), None);
        assert_eq!(retry_after_ms("99999999999999999999999", 0), Some(u64::MAX));
        assert_eq!(retry_after_ms("soon", 0), None);
    }

    #[test]
    fn http_date_form() {
        // 784111777 s is Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example).
        let at = 784_111_777_000;
        assert_eq!(
            retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", at - 5000),
            Some(5000)
        );
        assert_eq!(
            retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", at + 5000),
            Some(0)
        );
        assert_eq!(retry_after_ms("Thu, 01 Jan 1970 00:00:00 GMT", 0), Some(0));
        assert_eq!(
            retry_after_ms("Tue, 29 Feb 2028 23:59:59 GMT", 0),
            Some(1_835_481_599_000)
        );
        assert_eq!(retry_after_ms("Sun, 06 Foo 1994 08:49:37 GMT", 0), None);
        assert_eq!(retry_after_ms("Sun, 06 Nov 1994 08:49:37 PST", 0), None);
        // The weekday must be the date's.
        assert_eq!(retry_after_ms("Mon, 06 Nov 1994 08:49:37 GMT", 0), None);
        // A day past the month's end is read as the day it rolls into, when
        // the weekday is that day's (date_header; httpdate refused it).
        let may_first = Some(1_777_593_600_000);
        assert_eq!(
            retry_after_ms("Fri, 01 May 2026 00:00:00 GMT", 0),
            may_first
        );
        assert_eq!(
            retry_after_ms("Fri, 31 Apr 2026 00:00:00 GMT", 0),
            may_first
        );
        assert_eq!(retry_after_ms("Thu, 31 Apr 2026 00:00:00 GMT", 0), None);
    }

    #[test]
    fn the_obsolete_date_forms_are_read_too() {
        let at = 784_111_777_000;
        for form in ["Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            assert_eq!(retry_after_ms(form, at - 2000), Some(2000), "{form}");
        }
    }

    #[test]
    fn compute_time_is_read_in_milliseconds() {
        assert_eq!(compute_time_ms(0.016), Some(16));
        assert_eq!(compute_time_ms(57.0), Some(57_000));
        assert_eq!(compute_time_ms(-1.0), None);
        assert_eq!(compute_time_ms(f64::NAN), None);
        assert_eq!(compute_time_ms(f64::INFINITY), None);
    }
}
