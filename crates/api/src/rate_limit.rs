//! Rate limits on what is worth abusing (logins, reports, supports), per IP, account or API
//! key: token buckets in the server's memory, answered `429` with `Retry-After`.
//!
//! Each replica counts on its own, so N replicas allow N times the rate; the limits are about
//! stopping floods and password guessing, where that slack does not matter.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::error::ApiError;

/// What is limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limited {
    /// Sign-in attempts (and sign-ups, refreshes).
    Login,
    /// New reports, whatever the entry point.
    Report,
    /// "Me too" supports.
    Support,
}

/// Requests allowed per minute for each kind; each bucket holds a minute's worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub login_per_minute: u32,
    pub reports_per_minute: u32,
    pub supports_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            login_per_minute: 10,
            reports_per_minute: 30,
            supports_per_minute: 60,
        }
    }
}

impl RateLimits {
    fn per_minute(&self, limited: Limited) -> u32 {
        match limited {
            Limited::Login => self.login_per_minute,
            Limited::Report => self.reports_per_minute,
            Limited::Support => self.supports_per_minute,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

/// Buckets beyond this many are pruned of the full ones, so memory stays bounded.
const PRUNE_ABOVE: usize = 50_000;

/// The buckets of one server process.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    buckets: Mutex<HashMap<(Limited, String), Bucket>>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request of `limited` from each of `identities` (an IP, an account, a key):
    /// all must have room, or none is charged and the answer says when to retry.
    pub fn check(&self, limited: Limited, identities: &[String]) -> Result<(), ApiError> {
        self.check_at(limited, identities, Instant::now())
    }

    fn check_at(
        &self,
        limited: Limited,
        identities: &[String],
        now: Instant,
    ) -> Result<(), ApiError> {
        let capacity = f64::from(self.limits.per_minute(limited).max(1));
        let per_second = capacity / 60.0;
        let mut buckets = self
            .buckets
            .lock()
            .map_err(|_| ApiError::internal(&"rate limiter lock poisoned"))?;
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|(kind, _), bucket| {
                let capacity = f64::from(self.limits.per_minute(*kind).max(1));
                let elapsed = now.duration_since(bucket.refilled_at).as_secs_f64();
                bucket.tokens + elapsed * capacity / 60.0 < capacity
            });
        }
        let mut wait = Duration::ZERO;
        let mut refreshed = Vec::with_capacity(identities.len());
        for identity in identities {
            let key = (limited, identity.clone());
            let bucket = buckets.get(&key).copied().unwrap_or(Bucket {
                tokens: capacity,
                refilled_at: now,
            });
            let elapsed = now.duration_since(bucket.refilled_at).as_secs_f64();
            let tokens = (bucket.tokens + elapsed * per_second).min(capacity);
            if tokens < 1.0 {
                wait = wait.max(Duration::from_secs_f64((1.0 - tokens) / per_second));
            }
            refreshed.push((key, tokens));
        }
        if !wait.is_zero() {
            return Err(ApiError::too_many_requests(wait.as_secs_f64().ceil() as u64));
        }
        for (key, tokens) in refreshed {
            buckets.insert(
                key,
                Bucket {
                    tokens: tokens - 1.0,
                    refilled_at: now,
                },
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32) -> RateLimiter {
        RateLimiter::new(RateLimits {
            login_per_minute: per_minute,
            ..RateLimits::default()
        })
    }

    #[test]
    fn a_burst_beyond_the_limit_waits_for_refill() {
        let limiter = limiter(3);
        let start = Instant::now();
        let ip = vec!["ip:10.0.0.1".to_owned()];
        for _ in 0..3 {
            limiter.check_at(Limited::Login, &ip, start).unwrap();
        }
        let refused = limiter.check_at(Limited::Login, &ip, start).unwrap_err();
        assert_eq!(refused.code(), "rate_limited");
        // one token comes back every 20 s at 3 a minute
        limiter
            .check_at(Limited::Login, &ip, start + Duration::from_secs(21))
            .unwrap();
    }

    #[test]
    fn identities_and_kinds_have_their_own_buckets_and_refusals_charge_nothing() {
        let limiter = limiter(1);
        let now = Instant::now();
        let both = vec!["ip:1".to_owned(), "account:a".to_owned()];
        limiter.check_at(Limited::Login, &both, now).unwrap();
        // the account is spent: another IP with the same account is refused...
        let other_ip = vec!["ip:2".to_owned(), "account:a".to_owned()];
        assert!(limiter.check_at(Limited::Login, &other_ip, now).is_err());
        // ...without charging ip:2
        limiter
            .check_at(Limited::Login, &["ip:2".to_owned()], now)
            .unwrap();
        limiter
            .check_at(Limited::Report, &["ip:1".to_owned()], now)
            .unwrap();
    }
}
