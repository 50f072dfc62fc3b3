//! `plugin.toml`: parsing and validation. Errors name the file and the key
//! (`plugins/x/plugin.toml: hooks[0].timeout: …`), so a bad manifest is fixed in one look.
//!
//! Placeholders in hook and webhook URLs (and webhook headers and secret) are substituted at
//! load; the sidecar's `command` and `env` keep theirs until start, when `{token}` is minted.

use super::declared::{self, DeclaredWebhook, RawWebhook};
use super::vars::{Vars, TOKEN};
use crate::records::HookEvent;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Hook timeout when the manifest gives none.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest hook timeout: a hook holds up the client's write for this long.
pub const MAX_HOOK_TIMEOUT: Duration = Duration::from_secs(60);

/// A manifest error: which file, which key, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {key}{}{message}", file.display(), if key.is_empty() { "" } else { ": " })]
pub struct ManifestError {
    pub file: PathBuf,
    /// The offending key (`plugin.name`, `hooks[1].url`); empty for syntax errors, whose message
    /// already names line and key.
    pub key: String,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    plugin: RawPlugin,
    sidecar: Option<RawSidecar>,
    #[serde(default)]
    hooks: Vec<RawHook>,
    #[serde(default)]
    webhooks: Vec<RawWebhook>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    name: String,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSidecar {
    command: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHook {
    event: String,
    #[serde(default)]
    collections: Vec<String>,
    url: String,
    timeout: Option<String>,
    on_error: Option<String>,
}

/// What a hook's failure (error status other than 4xx, timeout, unreachable) does to the write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Refuse the write (502), the default: a hook that enforces something fails closed.
    Reject,
    /// Let the write go on with the values as they were.
    Allow,
}

impl OnError {
    pub fn name(self) -> &'static str {
        match self {
            Self::Reject => "reject",
            Self::Allow => "allow",
        }
    }
}

/// The process a plugin runs beside the server; placeholders still in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidecarSpec {
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
}

impl SidecarSpec {
    /// Whether `{needle}` appears in the command or an env value.
    pub fn uses(&self, needle: &str) -> bool {
        self.command
            .iter()
            .chain(self.env.values())
            .any(|s| s.contains(needle))
    }
}

/// One synchronous before-hook, URL substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSpec {
    pub event: HookEvent,
    /// Collection names or ids; empty = every collection.
    pub collections: Vec<String>,
    pub url: String,
    pub timeout: Duration,
    pub on_error: OnError,
}

/// A validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub name: String,
    pub description: String,
    /// The plugin's folder (the sidecar's working directory).
    pub dir: PathBuf,
    pub sidecar: Option<SidecarSpec>,
    pub hooks: Vec<HookSpec>,
    pub webhooks: Vec<DeclaredWebhook>,
}

/// Collects the first error with its key.
pub(super) struct Check<'a> {
    pub file: &'a Path,
}

impl Check<'_> {
    pub fn err(&self, key: impl Into<String>, message: impl Into<String>) -> ManifestError {
        ManifestError {
            file: self.file.to_path_buf(),
            key: key.into(),
            message: message.into(),
        }
    }

    /// An absolute http(s) URL without `{token}`.
    pub fn url(&self, key: &str, raw: &str, vars: &Vars) -> Result<String, ManifestError> {
        self.no_token(key, raw)?;
        let url = vars.apply(raw);
        match reqwest::Url::parse(&url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(url),
            Ok(_) => Err(self.err(key, format!("{url:?} is not an http(s) URL"))),
            Err(e) => Err(self.err(key, format!("{url:?} is not a valid URL: {e}"))),
        }
    }

    pub fn no_token(&self, key: &str, raw: &str) -> Result<(), ManifestError> {
        if raw.contains(TOKEN) {
            return Err(self.err(key, "{token} may only be used in [sidecar] command and env"));
        }
        Ok(())
    }

    /// Collection names or ids: non-empty strings.
    pub fn collections(&self, key: &str, list: &[String]) -> Result<(), ManifestError> {
        match list.iter().position(|c| c.trim().is_empty()) {
            Some(i) => Err(self.err(format!("{key}[{i}]"), "must not be empty")),
            None => Ok(()),
        }
    }
}

/// Plugin names: the folder-like `[a-z0-9][a-z0-9_-]{0,39}` (they become identities and URLs).
fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 40
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
}

/// `"500ms"`, `"2s"`, `"1m"`: a whole number and a unit.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like \"500ms\", \"2s\" or \"1m\""))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        _ => Err(format!(
            "{s:?} has no unit: use ms, s or m (e.g. \"500ms\", \"2s\")"
        )),
    }
}

/// `2s`, `500ms`: how a timeout is written back in messages and listings.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

impl Manifest {
    /// Parses and validates `text` (the contents of `file`, in folder `dir`).
    pub fn parse(text: &str, file: &Path, dir: &Path, vars: &Vars) -> Result<Self, ManifestError> {
        let check = Check { file };
        let raw: RawManifest =
            toml::from_str(text).map_err(|e| check.err("", e.to_string().trim_end()))?;
        if !valid_name(&raw.plugin.name) {
            return Err(check.err(
                "plugin.name",
                format!(
                    "{:?} must be 1-40 of a-z, 0-9, '-' and '_', starting with a letter or digit",
                    raw.plugin.name
                ),
            ));
        }
        let sidecar = raw.sidecar.map(|s| sidecar(&check, s)).transpose()?;
        let hooks = raw
            .hooks
            .into_iter()
            .enumerate()
            .map(|(i, h)| hook(&check, i, h, vars))
            .collect::<Result<Vec<_>, _>>()?;
        let webhooks = raw
            .webhooks
            .into_iter()
            .enumerate()
            .map(|(i, w)| declared::validate(&check, &raw.plugin.name, i, w, vars))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Manifest {
            name: raw.plugin.name,
            description: raw.plugin.description,
            dir: dir.to_path_buf(),
            sidecar,
            hooks,
            webhooks,
        })
    }
}

fn sidecar(check: &Check, raw: RawSidecar) -> Result<SidecarSpec, ManifestError> {
    if raw.command.first().is_none_or(|c| c.trim().is_empty()) {
        return Err(check.err(
            "sidecar.command",
            "must name a program, e.g. [\"python3\", \"server.py\"]",
        ));
    }
    for key in raw.env.keys() {
        if key.is_empty() || key.contains(['=', '\0']) {
            return Err(check.err(
                format!("sidecar.env.{key}"),
                "is not a valid environment variable name",
            ));
        }
    }
    if let Some((k, _)) = raw.env.iter().find(|(_, v)| v.contains('\0')) {
        return Err(check.err(format!("sidecar.env.{k}"), "must not contain NUL"));
    }
    Ok(SidecarSpec {
        command: raw.command,
        env: raw.env,
    })
}

fn hook(check: &Check, i: usize, raw: RawHook, vars: &Vars) -> Result<HookSpec, ManifestError> {
    let key = |k: &str| format!("hooks[{i}].{k}");
    let event = HookEvent::from_name(&raw.event).ok_or_else(|| {
        check.err(
            key("event"),
            format!(
                "unknown event {:?} (expected before_create, before_update or before_delete)",
                raw.event
            ),
        )
    })?;
    check.collections(&key("collections"), &raw.collections)?;
    let url = check.url(&key("url"), &raw.url, vars)?;
    let timeout = match raw.timeout.as_deref() {
        None => DEFAULT_HOOK_TIMEOUT,
        Some(t) => parse_duration(t).map_err(|m| check.err(key("timeout"), m))?,
    };
    if timeout.is_zero() || timeout > MAX_HOOK_TIMEOUT {
        return Err(check.err(
            key("timeout"),
            format!(
                "must be between 1ms and {}",
                format_duration(MAX_HOOK_TIMEOUT)
            ),
        ));
    }
    let on_error = match raw.on_error.as_deref() {
        None | Some("reject") => OnError::Reject,
        Some("allow") => OnError::Allow,
        Some(other) => {
            return Err(check.err(
                key("on_error"),
                format!("{other:?} is not \"reject\" or \"allow\""),
            ))
        }
    };
    Ok(HookSpec {
        event,
        collections: raw.collections,
        url,
        timeout,
        on_error,
    })
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
