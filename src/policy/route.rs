//! Which endpoint an attempt goes to: a weighted choice among healthy
//! endpoints, away from those a call already tried, with a circuit breaker per
//! endpoint that keeps a failing one out of the way until a cool-down ends.

use super::random::Random;

/// Circuit-breaker settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// How long an open breaker keeps its endpoint out before one trial call.
    pub cool_down_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> BreakerConfig {
        BreakerConfig {
            failure_threshold: 3,
            cool_down_ms: 30_000,
        }
    }
}

/// The breaker state of one endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Breaker {
    /// Healthy: takes traffic.
    Closed,
    /// Failing: no traffic until `until_ms`.
    Open {
        /// When the cool-down ends.
        until_ms: u64,
    },
    /// Cool-down over: one trial attempt decides.
    HalfOpen {
        /// Whether the trial attempt is under way.
        trial_in_flight: bool,
    },
}

#[derive(Clone, Debug)]
struct EndpointHealth {
    weight: f64,
    consecutive_failures: u32,
    breaker: Breaker,
}

/// Endpoint health shared by every call of a client.
#[derive(Clone, Debug)]
pub struct Router {
    config: BreakerConfig,
    endpoints: Vec<EndpointHealth>,
    /// Endpoints are tried in their order rather than by weight (a list of
    /// providers).
    ordered: bool,
}

impl Router {
    /// A router over endpoints of these weights (non-positive or non-finite
    /// weights count as 1).
    pub fn new(weights: &[f64], config: BreakerConfig) -> Router {
        let mut router = Router::closed(weights.len(), config);
        for (endpoint, &w) in router.endpoints.iter_mut().zip(weights) {
            endpoint.weight = if w.is_finite() && w > 0.0 { w } else { 1.0 };
        }
        router
    }

    /// A router over `count` endpoints tried in their order: the first
    /// healthy one the call has not tried.
    pub fn ordered(count: usize, config: BreakerConfig) -> Router {
        Router {
            ordered: true,
            ..Router::closed(count, config)
        }
    }

    /// `count` endpoints of weight 1, every breaker closed (without a
    /// `vec![1.0; count]` of weights, whose filling is code of its own).
    fn closed(count: usize, config: BreakerConfig) -> Router {
        let mut endpoints = Vec::with_capacity(count);
        for _ in 0..count {
            endpoints.push(EndpointHealth {
                weight: 1.0,
                consecutive_failures: 0,
                breaker: Breaker::Closed,
            });
        }
        Router {
            config,
            endpoints,
            ordered: false,
        }
    }

    /// How many endpoints.
    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    /// Whether it has no endpoint.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// The breaker state of endpoint `index` at `now_ms`.
    pub fn breaker(&self, index: usize, now_ms: u64) -> Breaker {
        match self.endpoints[index].breaker {
            Breaker::Open { until_ms } if now_ms >= until_ms => Breaker::HalfOpen {
                trial_in_flight: false,
            },
            state => state,
        }
    }

    fn available(&self, index: usize, now_ms: u64) -> bool {
        matches!(
            self.breaker(index, now_ms),
            Breaker::Closed
                | Breaker::HalfOpen {
                    trial_in_flight: false
                }
        )
    }

    /// Picks the endpoint of the next attempt. Prefers available endpoints the
    /// call has not tried, then any available one; when every breaker is open
    /// it still answers, with the endpoint whose cool-down ends first, so a
    /// client is never left with nowhere to send.
    pub fn pick(&mut self, now_ms: u64, tried: &[usize], random: &mut dyn Random) -> usize {
        self.pick_excluding(now_ms, tried, &[], random)
    }

    /// [`pick`](Self::pick) among the endpoints not in `excluded` (those a
    /// call must not go back to); at least one must be left.
    pub fn pick_excluding(
        &mut self,
        now_ms: u64,
        tried: &[usize],
        excluded: &[usize],
        random: &mut dyn Random,
    ) -> usize {
        // One loop filling the three lists (three `filter().collect()`s
        // were three copies of the collecting code in the wasm).
        let (mut all, mut available, mut untried) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..self.endpoints.len() {
            if excluded.contains(&i) {
                continue;
            }
            all.push(i);
            if self.available(i, now_ms) {
                available.push(i);
                if !tried.contains(&i) {
                    untried.push(i);
                }
            }
        }
        let candidates = if untried.is_empty() {
            available
        } else {
            untried
        };
        let chosen = match candidates.first() {
            None => self.soonest_to_reopen(&all),
            Some(first) if self.ordered => *first,
            Some(_) => self.weighted(&candidates, random),
        };
        if let Breaker::Open { .. } | Breaker::HalfOpen { .. } = self.breaker(chosen, now_ms) {
            self.endpoints[chosen].breaker = Breaker::HalfOpen {
                trial_in_flight: true,
            };
        }
        chosen
    }

    fn weighted(&self, candidates: &[usize], random: &mut dyn Random) -> usize {
        let mut total = 0.0;
        for &i in candidates {
            total += self.endpoints[i].weight;
        }
        let mut point = random.next_f64() * total;
        for &i in candidates {
            point -= self.endpoints[i].weight;
            if point < 0.0 {
                return i;
            }
        }
        candidates[candidates.len() - 1]
    }

    /// With every endpoint out: the open one whose cool-down ends first. A
    /// half-open endpoint already has its one trial in flight, so it comes
    /// only when no endpoint is open.
    fn soonest_to_reopen(&self, among: &[usize]) -> usize {
        let open = among
            .iter()
            .filter_map(|&i| match self.endpoints[i].breaker {
                Breaker::Open { until_ms } => Some((until_ms, i)),
                _ => None,
            });
        open.min()
            .map_or(among.first().copied().unwrap_or(0), |(_, i)| i)
    }

    /// An attempt to `index` succeeded: its breaker closes.
    pub fn record_success(&mut self, index: usize) {
        let endpoint = &mut self.endpoints[index];
        endpoint.consecutive_failures = 0;
        endpoint.breaker = Breaker::Closed;
    }

    /// An attempt to `index` failed in a way that speaks of the endpoint's
    /// health: after `failure_threshold` in a row, or at once after a failed
    /// half-open trial, the breaker opens for the cool-down.
    pub fn record_failure(&mut self, index: usize, now_ms: u64) {
        let threshold = self.config.failure_threshold;
        let cool_down = self.config.cool_down_ms;
        let endpoint = &mut self.endpoints[index];
        endpoint.consecutive_failures += 1;
        let trial_failed = matches!(endpoint.breaker, Breaker::HalfOpen { .. });
        if trial_failed || endpoint.consecutive_failures >= threshold {
            endpoint.breaker = Breaker::Open {
                until_ms: now_ms + cool_down,
            };
        }
    }

    /// An attempt to `index` ended without saying anything about its health
    /// (the caller aborted): a half-open trial may be made again.
    pub fn record_neutral(&mut self, index: usize) {
        if let Breaker::HalfOpen { .. } = self.endpoints[index].breaker {
            self.endpoints[index].breaker = Breaker::HalfOpen {
                trial_in_flight: false,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::random::SplitMix64;

    fn router(weights: &[f64]) -> Router {
        Router::new(
            weights,
            BreakerConfig {
                failure_threshold: 3,
                cool_down_ms: 1000,
            },
        )
    }

    #[test]
    fn weights_are_honoured_over_many_picks() {
        let mut r = router(&[1.0, 3.0, 6.0]);
        let mut random = SplitMix64::new(2024);
        let mut counts = [0u32; 3];
        for _ in 0..100_000 {
            counts[r.pick(0, &[], &mut random)] += 1;
        }
        for (count, share) in counts.iter().zip([0.1, 0.3, 0.6]) {
            let observed = f64::from(*count) / 100_000.0;
            assert!((observed - share).abs() < 0.01, "{counts:?}");
        }
    }

    #[test]
    fn a_retry_goes_to_another_endpoint() {
        let mut r = router(&[100.0, 1.0]);
        let mut random = SplitMix64::new(1);
        for _ in 0..100 {
            assert_eq!(r.pick(0, &[0], &mut random), 1);
            assert_eq!(r.pick(0, &[1], &mut random), 0);
        }
        // Everything tried: any available endpoint again.
        let again = r.pick(0, &[0, 1], &mut random);
        assert!(again < 2);
    }

    #[test]
    fn breaker_opens_half_opens_and_closes() {
        let mut r = router(&[1.0, 1.0]);
        let mut random = SplitMix64::new(3);
        r.record_failure(0, 0);
        r.record_failure(0, 10);
        assert_eq!(r.breaker(0, 10), Breaker::Closed);
        r.record_failure(0, 20);
        assert_eq!(r.breaker(0, 20), Breaker::Open { until_ms: 1020 });
        // While open, traffic goes elsewhere even when 1 was tried.
        for _ in 0..50 {
            assert_eq!(r.pick(500, &[], &mut random), 1);
            assert_eq!(r.pick(500, &[1], &mut random), 1);
        }
        // Cool-down over: half-open, one trial.
        assert_eq!(
            r.breaker(0, 1020),
            Breaker::HalfOpen {
                trial_in_flight: false
            }
        );
        assert_eq!(r.pick(1020, &[1], &mut random), 0);
        assert_eq!(
            r.breaker(0, 1020),
            Breaker::HalfOpen {
                trial_in_flight: true
            }
        );
        for _ in 0..50 {
            assert_eq!(
                r.pick(1030, &[], &mut random),
                1,
                "no second trial while one is in flight"
            );
        }
        // A failed trial opens it again at once.
        r.record_failure(0, 1100);
        assert_eq!(r.breaker(0, 1100), Breaker::Open { until_ms: 2100 });
        // A successful trial closes it.
        assert_eq!(r.pick(2100, &[1], &mut random), 0);
        r.record_success(0);
        assert_eq!(r.breaker(0, 2100), Breaker::Closed);
    }

    #[test]
    fn success_resets_the_failure_count() {
        let mut r = router(&[1.0]);
        r.record_failure(0, 0);
        r.record_failure(0, 0);
        r.record_success(0);
        r.record_failure(0, 0);
        r.record_failure(0, 0);
        assert_eq!(r.breaker(0, 0), Breaker::Closed);
    }

    #[test]
    fn with_every_breaker_open_the_soonest_to_reopen_is_used() {
        let mut r = router(&[1.0, 1.0]);
        let mut random = SplitMix64::new(4);
        for _ in 0..3 {
            r.record_failure(1, 0);
        }
        for _ in 0..3 {
            r.record_failure(0, 100);
        }
        assert_eq!(r.pick(200, &[], &mut random), 1);
    }

    #[test]
    fn with_every_breaker_out_an_open_one_is_preferred_to_a_trial_in_flight() {
        let mut r = router(&[1.0, 1.0]);
        let mut random = SplitMix64::new(8);
        for _ in 0..3 {
            r.record_failure(0, 0);
            r.record_failure(1, 500);
        }
        // Endpoint 0 reopens at 1000: its trial goes out and stays in flight.
        assert_eq!(r.pick(1000, &[], &mut random), 0);
        assert_eq!(
            r.breaker(0, 1000),
            Breaker::HalfOpen {
                trial_in_flight: true
            }
        );
        // Endpoint 1 is still open until 1500: it reopens first, so it goes
        // rather than a second call to the endpoint under trial.
        assert_eq!(r.pick(1200, &[], &mut random), 1);
        // Both under trial now: one of them still answers.
        assert!(r.pick(1300, &[], &mut random) < 2);
    }

    #[test]
    fn an_aborted_trial_can_be_made_again() {
        let mut r = router(&[1.0]);
        let mut random = SplitMix64::new(5);
        for _ in 0..3 {
            r.record_failure(0, 0);
        }
        assert_eq!(r.pick(1000, &[], &mut random), 0);
        r.record_neutral(0);
        assert_eq!(
            r.breaker(0, 1000),
            Breaker::HalfOpen {
                trial_in_flight: false
            }
        );
    }

    #[test]
    fn bad_weights_count_as_one() {
        let mut r = router(&[0.0, f64::NAN]);
        let mut random = SplitMix64::new(6);
        let mut counts = [0u32; 2];
        for _ in 0..10_000 {
            counts[r.pick(0, &[], &mut random)] += 1;
        }
        assert!(counts[0] > 4500 && counts[1] > 4500, "{counts:?}");
    }
}
