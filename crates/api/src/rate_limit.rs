//! Rate limits on what is worth abusing (logins, reports, supports, apps' API-key requests),
//! per IP, account or API key: token buckets in the server's memory, answered `429` with
//! `Retry-After`.
//!
//! Each replica counts on its own, so N replicas allow N times the rate; the limits are about
//! stopping floods and password guessing, where that slack does not matter.

use std::{
    collections::HashMap,
    net::IpAddr,
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
    /// "Me too" supports and follows.
    Support,
    /// Requests an app makes with its API key to manage its webhooks.
    AppRequest,
}

/// Who a request is counted against. An IP is shared by everyone behind it (an office, a
/// phone carrier's NAT), so its bucket may hold more than one person's (`ip_factor`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    Ip(IpAddr),
    /// The peer's address could not be read (not a TCP connection).
    UnknownIp,
    Account(i64),
    /// An app's API key, by the SHA-256 of the key as presented (so an unknown key is counted
    /// before any database lookup).
    ApiKey(Vec<u8>),
    /// A sign-in address, by its SHA-256.
    Email(Vec<u8>),
}

impl Identity {
    /// The client of `req`, as the trusted proxies allow it to be known (see
    /// [`crate::client_ip`]).
    pub fn client(req: &actix_web::HttpRequest) -> Self {
        crate::client_ip::client_ip(req).map_or(Self::UnknownIp, Self::Ip)
    }

    /// The app key presented as `key`.
    pub fn api_key(key: &str) -> Self {
        Self::ApiKey(crate::auth::sha256(key.trim()))
    }

    fn is_ip(&self) -> bool {
        matches!(self, Self::Ip(_) | Self::UnknownIp)
    }
}

/// Requests allowed per minute for each kind and each account, key or sign-in address; an IP
/// gets `ip_factor` times as many. Each bucket holds a minute's worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub login_per_minute: u32,
    pub reports_per_minute: u32,
    pub supports_per_minute: u32,
    pub app_requests_per_minute: u32,
    /// How many times the per-account rate one IP may use (at least 1).
    pub ip_factor: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            login_per_minute: 10,
            reports_per_minute: 30,
            supports_per_minute: 60,
            app_requests_per_minute: 120,
            ip_factor: 1,
        }
    }
}

impl RateLimits {
    fn per_minute(&self, limited: Limited, identity: &Identity) -> f64 {
        let base = match limited {
            Limited::Login => self.login_per_minute,
            Limited::Report => self.reports_per_minute,
            Limited::Support => self.supports_per_minute,
            Limited::AppRequest => self.app_requests_per_minute,
        }
        .max(1);
        let factor = if identity.is_ip() {
            self.ip_factor.max(1)
        } else {
            1
        };
        f64::from(base) * f64::from(factor)
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
    buckets: Mutex<HashMap<(Limited, Identity), Bucket>>,
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
    pub fn check(&self, limited: Limited, identities: &[Identity]) -> Result<(), ApiError> {
        self.check_at(limited, identities, Instant::now())
    }

    fn check_at(
        &self,
        limited: Limited,
        identities: &[Identity],
        now: Instant,
    ) -> Result<(), ApiError> {
        let mut buckets = self
            .buckets
            .lock()
            .map_err(|_| ApiError::internal(&"rate limiter lock poisoned"))?;
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|(kind, identity), bucket| {
                let capacity = self.limits.per_minute(*kind, identity);
                let elapsed = now.duration_since(bucket.refilled_at).as_secs_f64();
                bucket.tokens + elapsed * capacity / 60.0 < capacity
            });
        }
        let mut wait = Duration::ZERO;
        let mut refreshed = Vec::with_capacity(identities.len());
        for identity in identities {
            let capacity = self.limits.per_minute(limited, identity);
            let per_second = capacity / 60.0;
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

    fn limiter(per_minute: u32, ip_factor: u32) -> RateLimiter {
        RateLimiter::new(RateLimits {
            login_per_minute: per_minute,
            ip_factor,
            ..RateLimits::default()
        })
    }

    fn ip(last: u8) -> Identity {
        Identity::Ip(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn a_burst_beyond_the_limit_waits_for_refill() {
        let limiter = limiter(3, 1);
        let start = Instant::now();
        let ip = vec![ip(1)];
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
        let limiter = limiter(1, 1);
        let now = Instant::now();
        let both = vec![ip(1), Identity::Account(7)];
        limiter.check_at(Limited::Login, &both, now).unwrap();
        // the account is spent: another IP with the same account is refused...
        let other_ip = vec![ip(2), Identity::Account(7)];
        assert!(limiter.check_at(Limited::Login, &other_ip, now).is_err());
        // ...without charging ip 2
        limiter.check_at(Limited::Login, &[ip(2)], now).unwrap();
        limiter.check_at(Limited::Report, &[ip(1)], now).unwrap();
    }

    #[test]
    fn an_ip_holds_its_factor_of_accounts() {
        let limiter = limiter(2, 3);
        let now = Instant::now();
        for account in 0..3 {
            for _ in 0..2 {
                limiter
                    .check_at(Limited::Login, &[ip(1), Identity::Account(account)], now)
                    .unwrap();
            }
            // each account is spent after its two
            assert!(
                limiter
                    .check_at(Limited::Login, &[ip(1), Identity::Account(account)], now)
                    .is_err()
            );
        }
        // six from the IP in all: a fourth account is refused there
        assert!(
            limiter
                .check_at(Limited::Login, &[ip(1), Identity::Account(9)], now)
                .is_err()
        );
    }
}
