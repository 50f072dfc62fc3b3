//! Loading: built-in defaults < `ferrobase.toml` < `FERROBASE_*` environment < CLI flags.

use super::{Config, LogFormat};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Values given on the command line (highest precedence).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub http: Option<String>,
    pub dir: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
    /// `serve --plugins DIR`.
    pub plugins: Option<PathBuf>,
    /// `serve --public DIR`.
    pub public: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid environment variable {name}={value}: {message}")]
    Env {
        name: String,
        value: String,
        message: String,
    },
}

impl Config {
    /// Loads the layered configuration from the real environment.
    pub fn load(over: &Overrides) -> Result<Self, ConfigError> {
        Self::load_from(over, std::env::vars())
    }

    /// Loads the layered configuration with `env` as the environment (testable).
    pub fn load_from(
        over: &Overrides,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("FERROBASE_"))
            .collect();
        let file = over.config.clone().or_else(|| {
            env.iter()
                .find(|(k, _)| k == "FERROBASE_CONFIG")
                .map(|(_, v)| PathBuf::from(v))
        });
        let mut cfg = match file {
            Some(path) => Self::from_file(&path)?,
            None if Path::new("ferrobase.toml").exists() => {
                Self::from_file(Path::new("ferrobase.toml"))?
            }
            None => Self::default(),
        };
        for (name, value) in &env {
            cfg.apply_env(name, value)?;
        }
        if let Some(http) = &over.http {
            cfg.server.http = http.clone();
        }
        if let Some(dir) = &over.dir {
            cfg.server.dir = dir.clone();
        }
        if let Some(format) = over.log_format {
            cfg.log.format = format;
        }
        if let Some(dir) = &over.plugins {
            cfg.plugins.dir = dir.clone();
        }
        if let Some(dir) = &over.public {
            cfg.server.public_dir = dir.clone();
        }
        Ok(cfg)
    }

    fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.to_string(),
        })
    }

    /// Sets the key `FERROBASE_<SECTION>_<KEY>` names (`FERROBASE_HTTP` / `FERROBASE_DIR` are
    /// short for the `server` ones). The keys come from the struct itself, so a new config field
    /// is settable from the environment without a hand-kept table; the value is parsed as the
    /// key's type and checked by the same deserializer as the file.
    fn apply_env(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let err = |message: String| ConfigError::Env {
            name: name.into(),
            value: value.into(),
            message,
        };
        let mut tree = serde_json::to_value(&*self).map_err(|e| err(e.to_string()))?;
        let Some((section, key)) = env_key(&tree, name) else {
            return Ok(()); // not a configuration key: reported by `unknown_env`
        };
        let slot = &mut tree[section.as_str()][key.as_str()];
        *slot = match slot {
            Value::Bool(_) => Value::Bool(
                value
                    .trim()
                    .parse()
                    .map_err(|_| err("expected true or false".into()))?,
            ),
            Value::Number(_) => {
                let n: serde_json::Number = value
                    .trim()
                    .parse()
                    .map_err(|_| err("expected a number".into()))?;
                Value::Number(n)
            }
            _ => Value::String(value.to_string()),
        };
        *self = serde_json::from_value(tree).map_err(|e| err(e.to_string()))?;
        Ok(())
    }
}

/// `(section, key)` of a `FERROBASE_*` variable that names a configuration key.
fn env_key(tree: &Value, name: &str) -> Option<(String, String)> {
    let rest = name.strip_prefix("FERROBASE_")?.to_ascii_lowercase();
    let rest = match rest.as_str() {
        "http" | "dir" => format!("server_{rest}"),
        _ => rest,
    };
    tree.as_object()?.iter().find_map(|(section, keys)| {
        let key = rest.strip_prefix(section.as_str())?.strip_prefix('_')?;
        keys.get(key).map(|_| (section.clone(), key.to_string()))
    })
}

/// `FERROBASE_*` variables that are not configuration keys (likely typos), to warn about.
pub fn unknown_env(env: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let Ok(tree) = serde_json::to_value(Config::default()) else {
        return Vec::new();
    };
    env.into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("FERROBASE_") && k != "FERROBASE_CONFIG")
        .filter(|k| env_key(&tree, k).is_none())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Durability;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f.toml");
        std::fs::write(
            &file,
            "[server]\nhttp = \"127.0.0.1:1\"\nbody_limit = 10\n[store]\ncache_mb = 7\n",
        )
        .expect("write");
        let over = Overrides {
            config: Some(file),
            http: Some("127.0.0.1:3".into()),
            dir: None,
            log_format: None,
            plugins: None,
            public: None,
        };
        let cfg = Config::load_from(
            &over,
            env(&[
                ("FERROBASE_SERVER_BODY_LIMIT", "20"),
                ("FERROBASE_STORE_DURABILITY", "relaxed"),
            ]),
        )
        .expect("load");
        assert_eq!(cfg.server.http, "127.0.0.1:3"); // flag beats file
        assert_eq!(cfg.server.body_limit, 20); // env beats file
        assert_eq!(cfg.store.cache_mb, 7); // file beats default
        assert_eq!(cfg.store.durability, Durability::Relaxed);
        assert_eq!(cfg.server.dir, PathBuf::from("fb_data")); // default
    }

    #[test]
    fn bad_values_are_reported() {
        let over = Overrides::default();
        let err =
            Config::load_from(&over, env(&[("FERROBASE_STORE_CACHE_MB", "lots")])).unwrap_err();
        assert!(err.to_string().contains("FERROBASE_STORE_CACHE_MB"));
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f.toml");
        std::fs::write(&file, "[server]\nhtp = 1\n").expect("write");
        let err = Config::load_from(
            &Overrides {
                config: Some(file),
                ..Default::default()
            },
            env(&[]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("htp"), "{err}");
    }

    #[test]
    fn every_key_is_settable_from_the_environment() {
        let cfg = Config::load_from(
            &Overrides::default(),
            env(&[
                ("FERROBASE_RATE_LIMIT_ENABLED", "true"),
                ("FERROBASE_REALTIME_QUEUE", "7"),
                ("FERROBASE_SMTP_APP_NAME", "X"),
                ("FERROBASE_HTTP", "127.0.0.1:9"),
                ("FERROBASE_STORAGE_S3_ENABLED", "true"),
                ("FERROBASE_STORAGE_S3_BUCKET", "files"),
                ("FERROBASE_STORAGE_S3_FORCE_PATH_STYLE", "true"),
            ]),
        )
        .expect("load");
        assert!(cfg.storage.s3_enabled && cfg.storage.s3_force_path_style);
        assert_eq!(cfg.storage.s3_bucket, "files");
        assert_eq!(cfg.store.cache_mb, 64, "store_* and storage_* do not mix");
        assert!(cfg.rate_limit.enabled);
        assert_eq!(cfg.realtime.queue, 7);
        assert_eq!(cfg.smtp.app_name, "X");
        assert_eq!(cfg.server.http, "127.0.0.1:9");
        for (name, value) in [
            ("FERROBASE_STORE_DURABILITY", "sometimes"),
            ("FERROBASE_RATE_LIMIT_ENABLED", "yes"),
            ("FERROBASE_REALTIME_QUEUE", "-1"),
        ] {
            let err =
                Config::load_from(&Overrides::default(), env(&[(name, value)])).expect_err(name);
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn unknown_variables_are_reported() {
        let unknown = unknown_env(env(&[
            ("FERROBASE_STORE_CACHE_MB", "1"),
            ("FERROBASE_STORE_CACHE", "1"),
            ("FERROBASE_CONFIG", "x"),
            ("PATH", "/bin"),
        ]));
        assert_eq!(unknown, vec!["FERROBASE_STORE_CACHE".to_string()]);
    }

    #[test]
    fn example_file_parses_to_defaults() {
        let text = include_str!("../../ferrobase.example.toml");
        let cfg: Config = toml::from_str(text).expect("example parses");
        assert_eq!(cfg, Config::default());
    }
}
