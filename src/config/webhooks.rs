//! `[webhooks]`: delivery schedule, concurrency, SSRF policy and the delivery log's retention.

use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Delays between attempts after a failure, comma-separated durations (`5s,30s,2m`); after
    /// the last one fails the delivery is `failed`. Each delay gets ±20 % jitter.
    pub retry_schedule: String,
    /// Most attempts in flight to one webhook's endpoint at a time.
    pub max_concurrency_per_endpoint: usize,
    /// Let webhooks reach loopback and private networks (link-local/metadata never).
    pub allow_private_targets: bool,
    /// How long delivery records are kept (a duration such as `7d`).
    pub delivery_retention: String,
    /// Most deliveries of one webhook waiting for a retry; beyond it the webhook stops taking
    /// new events from the change log (which then keeps them) and reports itself backlogged.
    pub max_pending: usize,
    /// Consecutive failed attempts after which new events skip their first attempt and wait
    /// for the retry schedule (the endpoint is down; don't hammer it).
    pub breaker_after: u32,
    /// Most webhooks.
    pub max_webhooks: usize,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            retry_schedule: "5s,30s,2m,10m,30m,1h,3h,6h,12h".into(),
            max_concurrency_per_endpoint: 4,
            allow_private_targets: false,
            delivery_retention: "7d".into(),
            max_pending: 100_000,
            breaker_after: 5,
            max_webhooks: 200,
        }
    }
}

impl WebhooksConfig {
    /// The parsed retry schedule.
    pub fn retry_delays(&self) -> Result<Vec<Duration>, String> {
        let delays = self
            .retry_schedule
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                humantime::parse_duration(s)
                    .map_err(|e| format!("[webhooks] retry_schedule: {s:?}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if delays.len() > 50 {
            return Err("[webhooks] retry_schedule: at most 50 delays".into());
        }
        Ok(delays)
    }

    /// The parsed delivery retention.
    pub fn retention(&self) -> Result<Duration, String> {
        humantime::parse_duration(self.delivery_retention.trim())
            .map_err(|e| format!("[webhooks] delivery_retention: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_bad_values_say_which_key() {
        let c = WebhooksConfig::default();
        let d = c.retry_delays().expect("default schedule");
        assert_eq!(d.len(), 9);
        assert_eq!(d[0], Duration::from_secs(5));
        assert_eq!(d[8], Duration::from_secs(12 * 3600));
        assert_eq!(c.retention().expect("7d"), Duration::from_secs(7 * 86400));
        let fast = WebhooksConfig {
            retry_schedule: "200ms, 400ms".into(),
            ..c.clone()
        };
        assert_eq!(
            fast.retry_delays().expect("ms"),
            vec![Duration::from_millis(200), Duration::from_millis(400)]
        );
        let bad = WebhooksConfig {
            retry_schedule: "5s,soon".into(),
            ..c
        };
        assert!(bad.retry_delays().unwrap_err().contains("retry_schedule"));
    }
}
