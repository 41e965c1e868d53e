//! The in-isolate rate limit used when no `LIMITER` binding is bound: a token
//! bucket per client, refilled continuously, clock injected.

use std::collections::HashMap;

/// Buckets kept before full ones are forgotten, so memory stays bounded.
const MAX_BUCKETS: usize = 10_000;

/// Token buckets of `per_minute` tokens, one per client key.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: HashMap<String, (f64, u64)>,
}

impl RateLimiter {
    /// Takes one token for `key` at `now_ms` from a bucket of `per_minute`;
    /// `Err(ms)` says how long until a token is back.
    pub fn check(&mut self, key: &str, per_minute: u32, now_ms: u64) -> Result<(), u64> {
        let capacity = f64::from(per_minute);
        let per_ms = capacity / 60_000.0;
        if self.buckets.len() >= MAX_BUCKETS && !self.buckets.contains_key(key) {
            // Forget buckets that have refilled: they hold no state worth keeping.
            self.buckets.retain(|_, (tokens, at)| {
                *tokens + (now_ms.saturating_sub(*at)) as f64 * per_ms < capacity
            });
        }
        let (tokens, at) = self
            .buckets
            .entry(key.to_owned())
            .or_insert((capacity, now_ms));
        *tokens = (*tokens + now_ms.saturating_sub(*at) as f64 * per_ms).min(capacity);
        *at = now_ms;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / per_ms).ceil() as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_gets_the_capacity_then_waits_for_refill() {
        let mut limiter = RateLimiter::default();
        let passed = (0..100)
            .filter(|_| limiter.check("ip:1", 20, 1_000).is_ok())
            .count();
        assert_eq!(passed, 20);
        // One token comes back every 3 s at 20 per minute.
        assert_eq!(limiter.check("ip:1", 20, 1_000), Err(3000));
        assert_eq!(limiter.check("ip:1", 20, 2_500), Err(1500));
        assert_eq!(limiter.check("ip:1", 20, 4_000), Ok(()));
        assert!(limiter.check("ip:1", 20, 4_000).is_err());
    }

    #[test]
    fn clients_are_counted_apart() {
        let mut limiter = RateLimiter::default();
        assert!(limiter.check("ip:1", 1, 0).is_ok());
        assert!(limiter.check("ip:1", 1, 0).is_err());
        assert!(limiter.check("key:a", 1, 0).is_ok());
    }

    #[test]
    fn memory_stays_bounded() {
        let mut limiter = RateLimiter::default();
        for i in 0..(MAX_BUCKETS + 10) {
            let _ = limiter.check(&format!("ip:{i}"), 60, i as u64 * 1000);
        }
        assert!(
            limiter.buckets.len() <= MAX_BUCKETS,
            "{}",
            limiter.buckets.len()
        );
    }
}
