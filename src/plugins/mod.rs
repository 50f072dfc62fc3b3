//! Plugins: folders with a `plugin.toml` that add synchronous before-hooks (HTTP, through the
//! `records::WriteHooks` seam), declared webhooks (handed to the webhooks service) and an
//! optional sidecar process that the server starts, restarts with backoff and stops.
//!
//! Uses records, schema, auth, config and error; nothing below (records in particular) names
//! this module. `GET /api/plugins` renders [`Plugins::list`].
//!
//! - `manifest`, `declared`: parsing and validation, errors naming file and key.
//! - `vars`: `{port}`, `{url}`, `{secret}`, `{token}`.
//! - `supervisor`: sidecar processes, backoff, process groups.
//! - `hooks`: the HTTP hook client (`HookRunner`).
//! - `identity`: the superuser record behind each plugin's `{token}`.
//! - `service`: [`Plugins`], load → start → stop.

mod declared;
mod hooks;
pub mod identity;
mod manifest;
mod service;
mod supervisor;
mod vars;

pub use declared::DeclaredWebhook;
pub use manifest::{HookSpec, Manifest, ManifestError, OnError, SidecarSpec};
pub use service::Plugins;
pub use supervisor::{exec_sidecar, State, Status};
