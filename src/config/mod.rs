//! The one `Config`: built-in defaults < `ferrobase.toml` < `FERROBASE_*` environment < CLI flags.
//! This is the only place that reads the environment. `ferrobase.example.toml` documents every key.
//!
//! - `load`: the layering (file, environment, flags) and its errors.
//! - one file per group of sections, each struct with its defaults beside it: `server`
//!   (`[server]`, `[rate_limit]`, `[batch]`, `[log]`), `store` (`[store]`, `[query]`),
//!   `realtime`, `accounts` (`[auth]`, `[smtp]`), `webhooks`, `plugins`, `ops` (`[request_logs]`,
//!   `[metrics]`, `[backups]`), `storage`.

mod accounts;
mod load;
mod ops;
mod plugins;
mod realtime;
mod server;
mod storage;
mod store;
mod webhooks;

pub use accounts::{AuthConfig, SmtpConfig};
pub use load::{unknown_env, ConfigError, Overrides};
pub use ops::{BackupsConfig, MetricsConfig, RequestLogsConfig};
pub use plugins::PluginsConfig;
pub use realtime::RealtimeConfig;
pub use server::{BatchConfig, LogConfig, LogFormat, RateLimitConfig, ServerConfig};
pub use storage::StorageConfig;
pub use store::{Durability, QueryConfig, StoreConfig};
pub use webhooks::WebhooksConfig;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub auth: AuthConfig,
    pub realtime: RealtimeConfig,
    pub smtp: SmtpConfig,
    pub batch: BatchConfig,
    pub rate_limit: RateLimitConfig,
    pub query: QueryConfig,
    pub log: LogConfig,
    pub webhooks: WebhooksConfig,
    pub plugins: PluginsConfig,
    pub request_logs: RequestLogsConfig,
    pub metrics: MetricsConfig,
    pub storage: StorageConfig,
    pub backups: BackupsConfig,
}
