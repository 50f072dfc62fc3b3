//! What one client may hold: subscriptions and filter bytes per connection and per IP, and
//! unauthenticated connections per IP. Connections charge and release through the hub, which
//! keeps the per-IP totals exact (released when a subscription ends or its connection goes).

use crate::config::RealtimeConfig;
use std::collections::HashMap;
use std::sync::Mutex;

/// What a set of subscriptions costs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub subs: usize,
    /// Bytes of filter text; a compiled filter takes a multiple of this in memory.
    pub filter_bytes: usize,
}

impl Usage {
    pub fn one(filter_bytes: usize) -> Self {
        Self {
            subs: 1,
            filter_bytes,
        }
    }

    pub fn plus(self, o: Usage) -> Self {
        Self {
            subs: self.subs + o.subs,
            filter_bytes: self.filter_bytes + o.filter_bytes,
        }
    }

    pub fn minus(self, o: Usage) -> Self {
        Self {
            subs: self.subs.saturating_sub(o.subs),
            filter_bytes: self.filter_bytes.saturating_sub(o.filter_bytes),
        }
    }
}

/// Why a subscription (or an SSE subscription list) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Subscriptions { max: usize },
    FilterBytes { max: usize },
    IpSubscriptions { max: usize },
    IpFilterBytes { max: usize },
}

impl Refused {
    /// The stable code on the wire.
    pub fn code(self) -> &'static str {
        match self {
            Refused::Subscriptions { .. } => "too_many_subscriptions",
            Refused::FilterBytes { .. } => "filter_budget_exceeded",
            Refused::IpSubscriptions { .. } => "ip_subscription_limit",
            Refused::IpFilterBytes { .. } => "ip_filter_budget_exceeded",
        }
    }

    /// The code as a PocketBase field error (SSE subscriptions POST).
    pub fn field_code(self) -> &'static str {
        match self {
            Refused::Subscriptions { .. } => "validation_too_many_subscriptions",
            Refused::FilterBytes { .. } => "validation_filter_budget_exceeded",
            Refused::IpSubscriptions { .. } => "validation_ip_subscription_limit",
            Refused::IpFilterBytes { .. } => "validation_ip_filter_budget_exceeded",
        }
    }

    pub fn message(self) -> String {
        match self {
            Refused::Subscriptions { max } => {
                format!("subscription limit reached: at most {max} per connection")
            }
            Refused::FilterBytes { max } => {
                format!("filter budget exceeded: at most {max} bytes of filters per connection")
            }
            Refused::IpSubscriptions { max } => format!(
                "subscription limit reached: at most {max} per client address, over all its connections"
            ),
            Refused::IpFilterBytes { max } => format!(
                "filter budget exceeded: at most {max} bytes of filters per client address, over all its connections"
            ),
        }
    }

    /// Whether the limit is the client address's (all its connections) rather than one
    /// connection's own.
    pub fn per_ip(self) -> bool {
        matches!(
            self,
            Refused::IpSubscriptions { .. } | Refused::IpFilterBytes { .. }
        )
    }
}

#[derive(Debug, Default)]
struct PerIp {
    guests: usize,
    used: Usage,
}

/// Per-IP totals (innermost lock: taken while a connection's subscriptions are locked).
pub struct Budgets {
    limits: RealtimeConfig,
    ips: Mutex<HashMap<String, PerIp>>,
}

impl Budgets {
    pub fn new(limits: RealtimeConfig) -> Self {
        Self {
            limits,
            ips: Mutex::new(HashMap::new()),
        }
    }

    fn ips(&self) -> std::sync::MutexGuard<'_, HashMap<String, PerIp>> {
        match self.ips.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Checks one connection's usage going from `old` to `new` against the per-connection and
    /// per-IP limits and charges the difference to `ip`. Shrinking is always allowed.
    pub fn charge(&self, ip: &str, old: Usage, new: Usage) -> Result<(), Refused> {
        let l = &self.limits;
        if new.subs > old.subs && new.subs > l.max_subscriptions {
            return Err(Refused::Subscriptions {
                max: l.max_subscriptions,
            });
        }
        if new.filter_bytes > old.filter_bytes && new.filter_bytes > l.max_filter_bytes {
            return Err(Refused::FilterBytes {
                max: l.max_filter_bytes,
            });
        }
        let mut ips = self.ips();
        let entry = ips.entry(ip.to_string()).or_default();
        let next = entry.used.minus(old).plus(new);
        if new.subs > old.subs && next.subs > l.max_subscriptions_per_ip {
            return Err(Refused::IpSubscriptions {
                max: l.max_subscriptions_per_ip,
            });
        }
        if new.filter_bytes > old.filter_bytes && next.filter_bytes > l.max_filter_bytes_per_ip {
            return Err(Refused::IpFilterBytes {
                max: l.max_filter_bytes_per_ip,
            });
        }
        entry.used = next;
        Self::forget_if_idle(&mut ips, ip);
        Ok(())
    }

    /// Registers an unauthenticated connection from `ip`, unless the IP is at its cap.
    pub fn admit_guest(&self, ip: &str) -> bool {
        let mut ips = self.ips();
        let entry = ips.entry(ip.to_string()).or_default();
        if entry.guests >= self.limits.max_guest_connections_per_ip {
            Self::forget_if_idle(&mut ips, ip);
            return false;
        }
        entry.guests += 1;
        true
    }

    /// A connection from `ip` became (`true`) or stopped being (`false`) unauthenticated. Not
    /// refused: a token can expire at any time.
    pub fn guest_changed(&self, ip: &str, guest: bool) {
        let mut ips = self.ips();
        let entry = ips.entry(ip.to_string()).or_default();
        if guest {
            entry.guests += 1;
        } else {
            entry.guests = entry.guests.saturating_sub(1);
        }
        Self::forget_if_idle(&mut ips, ip);
    }

    /// A connection went away: returns what it held.
    pub fn release(&self, ip: &str, used: Usage, guest: bool) {
        let mut ips = self.ips();
        if let Some(entry) = ips.get_mut(ip) {
            entry.used = entry.used.minus(used);
            if guest {
                entry.guests = entry.guests.saturating_sub(1);
            }
        }
        Self::forget_if_idle(&mut ips, ip);
    }

    fn forget_if_idle(ips: &mut HashMap<String, PerIp>, ip: &str) {
        if ips
            .get(ip)
            .is_some_and(|e| e.guests == 0 && e.used == Usage::default())
        {
            ips.remove(ip);
        }
    }

    /// Addresses currently tracked (tests: entries are dropped once idle).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.ips().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budgets() -> Budgets {
        Budgets::new(RealtimeConfig {
            max_subscriptions: 3,
            max_filter_bytes: 100,
            max_subscriptions_per_ip: 4,
            max_filter_bytes_per_ip: 150,
            max_guest_connections_per_ip: 2,
            ..RealtimeConfig::default()
        })
    }

    #[test]
    fn per_connection_then_per_ip() {
        let b = budgets();
        let a = Usage::default();
        let a1 = a.plus(Usage::one(60));
        assert_eq!(b.charge("ip", a, a1), Ok(()));
        assert_eq!(
            b.charge("ip", a1, a1.plus(Usage::one(60))),
            Err(Refused::FilterBytes { max: 100 })
        );
        let c1 = Usage::one(60);
        assert_eq!(b.charge("ip", Usage::default(), c1), Ok(()));
        assert_eq!(
            b.charge("ip", c1, c1.plus(Usage::one(40))),
            Err(Refused::IpFilterBytes { max: 150 })
        );
        // Shrinking is always fine, and frees the IP's budget.
        assert_eq!(b.charge("ip", c1, Usage::default()), Ok(()));
        assert_eq!(b.charge("ip", Usage::default(), Usage::one(90)), Ok(()));
        b.release("ip", Usage::one(90), false);
        b.release("ip", a1, false);
        assert_eq!(b.tracked(), 0);
    }

    #[test]
    fn subscription_counts() {
        let b = budgets();
        let three = Usage {
            subs: 3,
            filter_bytes: 0,
        };
        assert_eq!(b.charge("ip", Usage::default(), three), Ok(()));
        assert_eq!(
            b.charge("ip", three, three.plus(Usage::one(0))),
            Err(Refused::Subscriptions { max: 3 })
        );
        assert_eq!(b.charge("ip", Usage::default(), Usage::one(0)), Ok(()));
        assert_eq!(
            b.charge("ip", Usage::one(0), Usage::one(0).plus(Usage::one(0))),
            Err(Refused::IpSubscriptions { max: 4 })
        );
        assert_eq!(b.charge("other", Usage::default(), three), Ok(()));
    }

    #[test]
    fn guests() {
        let b = budgets();
        assert!(b.admit_guest("ip"));
        assert!(b.admit_guest("ip"));
        assert!(!b.admit_guest("ip"));
        assert!(b.admit_guest("other"));
        b.guest_changed("ip", false);
        assert!(b.admit_guest("ip"));
        b.release("ip", Usage::default(), true);
        b.release("ip", Usage::default(), true);
        b.release("other", Usage::default(), true);
        assert_eq!(b.tracked(), 0);
    }
}
