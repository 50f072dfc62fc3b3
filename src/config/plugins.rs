//! `[plugins]`: where plugin manifests live and how sidecar processes are started and stopped.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// Folder whose `*/plugin.toml` manifests are loaded at start (flag `serve --plugins`);
    /// empty = no plugins.
    pub dir: PathBuf,
    /// Seconds to wait at start for each sidecar to accept connections on its `{port}`.
    pub ready_timeout_secs: u64,
    /// Seconds a sidecar may take to exit after SIGTERM before it is killed.
    pub stop_grace_secs: u64,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::new(),
            ready_timeout_secs: 10,
            stop_grace_secs: 5,
        }
    }
}
