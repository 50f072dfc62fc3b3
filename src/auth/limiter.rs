//! Failed-login limiting, on by default: per account and per client IP. Only failures count, so
//! normal traffic (and test suites that log in correctly) is never throttled. A blocked key gets
//! 429 with `Retry-After` until its window expires.

use crate::error::ApiError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limits, from `[auth]` in the config.
#[derive(Debug, Clone, Copy)]
pub struct LimitPolicy {
    pub max_per_identity: u32,
    pub max_per_ip: u32,
    pub window: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// A request window that knows its own length (rules differ).
struct RuleWindow {
    started: Instant,
    failures: u32,
    length: Duration,
}

/// Counts failed logins per key within a fixed window.
pub struct LoginLimiter {
    policy: LimitPolicy,
    windows: Mutex<HashMap<String, Window>>,
}

/// Keys are bounded: past this many, expired windows are pruned on the next failure.
const PRUNE_ABOVE: usize = 10_000;

impl LoginLimiter {
    pub fn new(policy: LimitPolicy) -> Self {
        Self {
            policy,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn keys(collection: &str, identity: &str, ip: &str) -> [(String, u32); 2] {
        [
            (format!("id:{collection}:{}", identity.to_lowercase()), 0),
            (format!("ip:{ip}"), 1),
        ]
    }

    fn limit(&self, kind: u32) -> u32 {
        if kind == 0 {
            self.policy.max_per_identity
        } else {
            self.policy.max_per_ip
        }
    }

    /// Fails with 429 when the account or the IP has used up its failures.
    pub fn check(&self, collection: &str, identity: &str, ip: &str) -> Result<(), ApiError> {
        let Ok(map) = self.windows.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        for (key, kind) in Self::keys(collection, identity, ip) {
            if let Some(w) = map.get(&key) {
                let elapsed = now.duration_since(w.started);
                if elapsed < self.policy.window && w.failures >= self.limit(kind) {
                    let retry = (self.policy.window - elapsed).as_secs().max(1);
                    return Err(ApiError::TooManyRequests {
                        retry_after_secs: retry,
                    });
                }
            }
        }
        Ok(())
    }

    /// Records one failed attempt.
    pub fn failed(&self, collection: &str, identity: &str, ip: &str) {
        let Ok(mut map) = self.windows.lock() else {
            return;
        };
        let now = Instant::now();
        let window = self.policy.window;
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, w| now.duration_since(w.started) < window);
        }
        for (key, _) in Self::keys(collection, identity, ip) {
            let w = map.entry(key).or_insert(Window {
                started: now,
                failures: 0,
            });
            if now.duration_since(w.started) >= window {
                *w = Window {
                    started: now,
                    failures: 0,
                };
            }
            w.failures += 1;
        }
    }

    /// A successful login clears the account's counter (not the IP's).
    pub fn succeeded(&self, collection: &str, identity: &str) {
        if let Ok(mut map) = self.windows.lock() {
            map.remove(&format!("id:{collection}:{}", identity.to_lowercase()));
        }
    }
}

/// Request limits: at most `max` requests per key (a rule and a client IP) per fixed window.
/// With [`RequestLimiter::new`]'s budget through [`RequestLimiter::hit`], or a rule's own
/// through [`RequestLimiter::hit_with`] (settings `rateLimits.rules`).
pub struct RequestLimiter {
    max: u32,
    window: Duration,
    windows: Mutex<HashMap<String, RuleWindow>>,
}

impl RequestLimiter {
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request from `ip`; 429 once the window's budget is spent.
    pub fn hit(&self, ip: &str) -> Result<(), ApiError> {
        self.hit_with(ip, self.max, self.window)
    }

    /// Counts one request under `key` with this budget; 429 once it is spent.
    pub fn hit_with(&self, key: &str, max: u32, window: Duration) -> Result<(), ApiError> {
        let Ok(mut map) = self.windows.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        if map.len() > PRUNE_ABOVE {
            // Windows differ per rule: keep only those started within the longest one.
            map.retain(|_, w| now.duration_since(w.started) < w.length);
        }
        let w = map.entry(key.to_string()).or_insert(RuleWindow {
            started: now,
            failures: 0,
            length: window,
        });
        if now.duration_since(w.started) >= window {
            *w = RuleWindow {
                started: now,
                failures: 0,
                length: window,
            };
        }
        if w.failures >= max {
            let retry = window
                .saturating_sub(now.duration_since(w.started))
                .as_secs()
                .max(1);
            return Err(ApiError::TooManyRequests {
                retry_after_secs: retry,
            });
        }
        w.failures += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(window_ms: u64) -> LoginLimiter {
        LoginLimiter::new(LimitPolicy {
            max_per_identity: 3,
            max_per_ip: 5,
            window: Duration::from_millis(window_ms),
        })
    }

    #[test]
    fn request_limit_counts_per_ip() {
        let l = RequestLimiter::new(2, Duration::from_secs(60));
        assert!(l.hit("a").is_ok());
        assert!(l.hit("a").is_ok());
        assert!(matches!(
            l.hit("a"),
            Err(ApiError::TooManyRequests { retry_after_secs }) if retry_after_secs >= 1
        ));
        assert!(l.hit("b").is_ok());
    }

    #[test]
    fn blocks_an_account_after_its_failures() {
        let l = limiter(60_000);
        for _ in 0..3 {
            assert!(l.check("c", "Bob@x.io", "1.1.1.1").is_ok());
            l.failed("c", "Bob@x.io", "1.1.1.1");
        }
        let err = l.check("c", "bob@x.io", "2.2.2.2").unwrap_err();
        assert!(
            matches!(err, ApiError::TooManyRequests { retry_after_secs } if retry_after_secs >= 1)
        );
        // Another account from another IP is unaffected.
        assert!(l.check("c", "alice@x.io", "3.3.3.3").is_ok());
    }

    #[test]
    fn blocks_an_ip_spraying_accounts() {
        let l = limiter(60_000);
        for i in 0..5 {
            l.failed("c", &format!("u{i}@x.io"), "9.9.9.9");
        }
        assert!(l.check("c", "fresh@x.io", "9.9.9.9").is_err());
        assert!(l.check("c", "fresh@x.io", "8.8.8.8").is_ok());
    }

    #[test]
    fn success_resets_the_account_and_windows_expire() {
        let l = limiter(30);
        l.failed("c", "a", "ip");
        l.failed("c", "a", "ip");
        l.succeeded("c", "a");
        l.failed("c", "a", "ip");
        assert!(l.check("c", "a", "ip2").is_ok());
        for _ in 0..3 {
            l.failed("c", "b", "ip3");
        }
        assert!(l.check("c", "b", "ip4").is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(l.check("c", "b", "ip4").is_ok());
    }
}
