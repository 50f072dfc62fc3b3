//! Durable state and reading it: `[store]` and `[query]`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// A write is acknowledged once fsynced (group commit amortises the cost).
    Fsync,
    /// Acknowledged once in memory; sled flushes every `relaxed_flush_ms`. A crash may lose the
    /// last writes.
    Relaxed,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    pub durability: Durability,
    /// sled page cache size in MiB.
    pub cache_mb: u64,
    /// Change-log retention (realtime resume): keep at most this many newest entries…
    pub changelog_entries: u64,
    /// …and none older than this many hours (0: no age bound). Entries a consumer (webhooks)
    /// has not processed yet are kept regardless of both.
    pub changelog_hours: u64,
    /// Seconds between change-log trims.
    pub changelog_trim_secs: u64,
    /// Most transactions committed in one group (one batch, one flush); 0 counts as 1.
    pub writer_max_group: usize,
    /// Transactions queued for the writer before writers wait to enqueue; 0 counts as 1.
    pub writer_queue: usize,
    /// Change events buffered per subscriber (realtime) before it lags and catches up from the
    /// change log; 0 counts as 1.
    pub event_buffer: usize,
    /// With `durability = "relaxed"`: milliseconds between sled's background flushes.
    pub relaxed_flush_ms: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            durability: Durability::Fsync,
            cache_mb: 64,
            changelog_entries: 10_000,
            changelog_hours: 72,
            changelog_trim_secs: 60,
            writer_max_group: 2048,
            writer_queue: 8192,
            event_buffer: 8192,
            relaxed_flush_ms: 500,
        }
    }
}

/// The in-memory column cache that answers unindexed filtered/sorted lists.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QueryConfig {
    /// Estimated MiB of all cached columns before least-recently-used collections are evicted.
    pub column_cache_mb: usize,
    /// Collections with more records are never cached (their lists scan records).
    pub column_cache_max_rows: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            column_cache_mb: 256,
            column_cache_max_rows: 2_000_000,
        }
    }
}
