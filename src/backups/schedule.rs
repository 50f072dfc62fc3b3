//! Scheduled backups: the settings' `backups.cron` (5 fields or a macro such as `@daily`,
//! evaluated in UTC) and `backups.cronMaxKeep`. The task re-reads the settings at every tick,
//! so a change applies without a restart; at each fire time it makes an auto backup
//! (`@auto_ferrobase_backup_…zip`) and deletes the oldest auto backups beyond the max keep
//! (backups made by hand are never pruned).

use super::{BackupError, BackupInfo, Backups, AUTO_PREFIX};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// How often the schedule looks at the clock and the settings.
const TICK: Duration = Duration::from_secs(1);

/// The first fire time of `expr` strictly after `after`; `None` for an empty or invalid
/// expression.
pub fn next_fire(expr: &str, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let expr = match expr.trim() {
        "" => return None,
        "@midnight" => "@daily",
        e => e,
    };
    let cron = croner::Cron::new(expr).parse().ok()?;
    cron.find_next_occurrence(&after, false).ok()
}

/// The auto backups to delete so at most `keep` remain: the oldest ones. `list` is newest first.
pub fn to_prune(list: &[BackupInfo], keep: usize) -> Vec<String> {
    list.iter()
        .filter(|b| b.key.starts_with(AUTO_PREFIX))
        .skip(keep)
        .map(|b| b.key.clone())
        .collect()
}

impl Backups {
    /// Deletes the oldest auto backups beyond `keep`; returns how many went. Blocking.
    pub fn prune_auto(&self, keep: usize) -> Result<usize, BackupError> {
        let target = self.target()?;
        let doomed = to_prune(&target.list()?, keep);
        for key in &doomed {
            target.delete(key)?;
        }
        Ok(doomed.len())
    }

    /// Runs the schedule until the service is dropped.
    pub fn spawn_schedule(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut last = Utc::now();
            let mut tick = tokio::time::interval(TICK);
            loop {
                tick.tick().await;
                let Some(me) = weak.upgrade() else { break };
                let now = Utc::now();
                let settings = me.settings().current();
                let due = next_fire(&settings.backups.cron, last).is_some_and(|at| at <= now);
                last = now;
                if !due || me.restart_pending() {
                    continue;
                }
                let keep = usize::try_from(settings.backups.cron_max_keep.max(1)).unwrap_or(1);
                let name = format!("{AUTO_PREFIX}{}.zip", now.format("%Y%m%d%H%M%S"));
                if let Err(e) = me.create(Some(name)).await {
                    tracing::warn!(error = %e, "scheduled backup not made");
                    continue;
                }
                let pruned = tokio::task::spawn_blocking(move || me.prune_auto(keep)).await;
                match pruned {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => tracing::info!(removed = n, "old auto backups removed"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "pruning auto backups failed"),
                    Err(e) => tracing::warn!(error = %e, "pruning auto backups failed"),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, h, m, s)
            .single()
            .expect("time")
    }

    #[test]
    fn next_fire_follows_the_expression() {
        assert_eq!(next_fire("* * * * *", at(10, 0, 30)), Some(at(10, 1, 0)));
        assert_eq!(next_fire("* * * * *", at(10, 1, 0)), Some(at(10, 2, 0)));
        assert_eq!(next_fire("*/15 * * * *", at(10, 1, 0)), Some(at(10, 15, 0)));
        assert_eq!(
            next_fire("30 2 * * *", at(10, 0, 0)),
            Some(at(2, 30, 0) + chrono::Duration::days(1))
        );
        assert_eq!(
            next_fire("@daily", at(10, 0, 0)),
            Some(at(0, 0, 0) + chrono::Duration::days(1))
        );
        assert_eq!(
            next_fire("@midnight", at(10, 0, 0)),
            Some(at(0, 0, 0) + chrono::Duration::days(1))
        );
        assert_eq!(next_fire("@hourly", at(10, 0, 1)), Some(at(11, 0, 0)));
        assert_eq!(next_fire("", at(10, 0, 0)), None);
        assert_eq!(next_fire("61 * * * *", at(10, 0, 0)), None);
    }

    #[test]
    fn pruning_keeps_the_newest_auto_backups_and_every_manual_one() {
        let info = |key: &str| BackupInfo {
            key: key.into(),
            size: 1,
            modified: String::new(),
            modified_at: std::time::SystemTime::UNIX_EPOCH,
        };
        // Newest first.
        let list = [
            info("@auto_ferrobase_backup_4.zip"),
            info("manual.zip"),
            info("@auto_ferrobase_backup_3.zip"),
            info("@auto_ferrobase_backup_2.zip"),
            info("old_manual.zip"),
            info("@auto_ferrobase_backup_1.zip"),
        ];
        assert_eq!(
            to_prune(&list, 2),
            vec![
                "@auto_ferrobase_backup_2.zip",
                "@auto_ferrobase_backup_1.zip"
            ]
        );
        assert!(to_prune(&list, 4).is_empty());
    }
}
