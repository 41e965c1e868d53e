//! The in-isolate rate limit used when no `LIMITER` binding is bound: a token
//! bucket per client, refilled continuously, clock injected. The buckets are
//! an LRU map of bounded size, so a flood of distinct clients costs constant
//! time per request and bounded memory: past the bound, the client heard from
//! least recently loses its bucket (and starts again full).

use std::num::NonZeroUsize;

use lru::LruCache;

/// Buckets kept at most.
pub const MAX_BUCKETS: NonZeroUsize = NonZeroUsize::new(10_000).expect("not zero");

/// One client's bucket: its tokens at `at_ms`.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at_ms: u64,
}

/// Token buckets of `per_minute` tokens, one per client key.
#[derive(Debug)]
pub struct RateLimiter {
    buckets: LruCache<String, Bucket>,
}

impl Default for RateLimiter {
    fn default() -> RateLimiter {
        RateLimiter {
            buckets: LruCache::new(MAX_BUCKETS),
        }
    }
}

impl RateLimiter {
    /// Takes one token for `key` at `now_ms` from a bucket of `per_minute`;
    /// `Err(ms)` says how long until a token is back.
    pub fn check(&mut self, key: &str, per_minute: u32, now_ms: u64) -> Result<(), u64> {
        let capacity = f64::from(per_minute);
        let per_ms = capacity / 60_000.0;
        // A new client starts full; when the map is full this evicts the
        // least recently used bucket, in O(1). The key is copied only then.
        let bucket = self.buckets.get_or_insert_mut_ref(key, || Bucket {
            tokens: capacity,
            at_ms: now_ms,
        });
        bucket.tokens =
            (bucket.tokens + now_ms.saturating_sub(bucket.at_ms) as f64 * per_ms).min(capacity);
        bucket.at_ms = now_ms;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / per_ms).ceil() as u64)
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
    fn twenty_thousand_clients_within_a_minute_stay_within_the_bound() {
        let mut limiter = RateLimiter::default();
        // A client over its limit that keeps calling among the flood.
        assert!(limiter.check("ip:busy", 1, 0).is_ok());
        for i in 0..20_000u64 {
            assert_eq!(
                limiter.check(&format!("ip:10.0.{}.{}", i / 256, i % 256), 60, i),
                Ok(())
            );
            if i % 1000 == 0 {
                assert!(limiter.check("ip:busy", 1, i).is_err(), "at {i}");
            }
        }
        assert_eq!(limiter.buckets.len(), MAX_BUCKETS.get());
        // Recently heard from: still limited.
        assert!(limiter.check("ip:busy", 1, 20_000).is_err());
        // The first of the flood was heard from least recently: forgotten.
        assert!(!limiter.buckets.contains("ip:10.0.0.0"));
    }
}
