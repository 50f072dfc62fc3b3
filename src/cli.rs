//! Command-line interface: `serve`, `superuser upsert|delete`, `inspect`, `typegen`, `backup`,
//! `restore`, `version`.

use crate::config::{LogFormat, Overrides};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "ferrobase",
    about = "Self-hosted backend-as-a-service in one binary",
    version
)]
pub struct Cli {
    /// Config file (TOML); defaults to ./ferrobase.toml when present.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Data directory.
    #[arg(long, global = true)]
    pub dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the server.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8090.
        #[arg(long)]
        http: Option<String>,
        /// Log line format: text or json.
        #[arg(long, value_enum)]
        log_format: Option<LogFormat>,
        /// Plugins folder: loads every DIR/*/plugin.toml.
        #[arg(long)]
        plugins: Option<PathBuf>,
        /// Static files served at `/` (like PocketBase's pb_public).
        #[arg(long)]
        public: Option<PathBuf>,
    },
    /// Manage superusers.
    Superuser {
        #[command(subcommand)]
        action: SuperuserAction,
    },
    /// Measure a stopped server's data dir: entries and bytes per key kind and collection,
    /// disk usage and sled's overhead.
    Inspect {
        /// Print JSON (for scripts) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Back up a stopped server's data dir (store + local files) into a zip; for a running
    /// server use POST /api/backups.
    Backup {
        /// The zip to write (default: DIR/backups/ferrobase_backup_<time>.zip).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Restore a backup zip into a stopped server's data dir, replacing its data and files.
    Restore {
        /// The backup zip.
        file: PathBuf,
    },
    /// Write TypeScript types for every collection (records, create/update bodies, select
    /// unions, expand) for the PocketBase JS SDK: from a running server with --url (as a
    /// superuser), else from a stopped server's data dir (--dir).
    Typegen {
        /// A running server, e.g. http://127.0.0.1:8090 (fetches its /api/typegen.ts).
        #[arg(long, requires_all = ["email", "password"])]
        url: Option<String>,
        /// Superuser email for --url.
        #[arg(long, requires = "url")]
        email: Option<String>,
        /// Superuser password for --url.
        #[arg(long, requires = "url")]
        password: Option<String>,
        /// Output file; `-` writes to stdout.
        #[arg(long, default_value = "ferrobase-types.ts")]
        out: PathBuf,
    },
    /// Print the version.
    Version,
    /// Internal: how `serve` starts a plugin sidecar on Linux — arrange to be killed when the
    /// server (`--parent`) dies, then exec COMMAND.
    #[command(hide = true)]
    SidecarExec {
        #[arg(long)]
        parent: u32,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SuperuserAction {
    /// Create a superuser or reset its password.
    Upsert { email: String, password: String },
    /// Delete a superuser.
    Delete { email: String },
}

impl Cli {
    pub fn overrides(&self) -> Overrides {
        let (http, log_format, plugins, public) = match &self.command {
            Command::Serve {
                http,
                log_format,
                plugins,
                public,
            } => (http.clone(), *log_format, plugins.clone(), public.clone()),
            _ => (None, None, None, None),
        };
        Overrides {
            config: self.config.clone(),
            http,
            dir: self.dir.clone(),
            log_format,
            plugins,
            public,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn log_format_flag_overrides_the_config() {
        let cli =
            Cli::try_parse_from(["ferrobase", "serve", "--log-format", "json"]).expect("parse");
        let over = cli.overrides();
        assert_eq!(over.log_format, Some(LogFormat::Json));
        let env = [("FERROBASE_LOG_FORMAT".to_string(), "text".to_string())];
        let cfg = Config::load_from(&over, env).expect("load");
        assert_eq!(cfg.log.format, LogFormat::Json); // flag beats env
        let cli = Cli::try_parse_from(["ferrobase", "serve"]).expect("parse");
        let env = [("FERROBASE_LOG_FORMAT".to_string(), "json".to_string())];
        let cfg = Config::load_from(&cli.overrides(), env).expect("load");
        assert_eq!(cfg.log.format, LogFormat::Json);
        assert!(Cli::try_parse_from(["ferrobase", "serve", "--log-format", "xml"]).is_err());
    }

    #[test]
    fn plugins_dir_comes_from_the_flag_or_the_environment() {
        let cli = Cli::try_parse_from(["ferrobase", "serve", "--plugins", "p1"]).expect("parse");
        let env = [("FERROBASE_PLUGINS_DIR".to_string(), "p2".to_string())];
        let cfg = Config::load_from(&cli.overrides(), env.clone()).expect("load");
        assert_eq!(cfg.plugins.dir, PathBuf::from("p1")); // flag beats env
        let cli = Cli::try_parse_from(["ferrobase", "serve"]).expect("parse");
        let cfg = Config::load_from(&cli.overrides(), env).expect("load");
        assert_eq!(cfg.plugins.dir, PathBuf::from("p2"));
        let cfg = Config::load_from(&cli.overrides(), []).expect("load");
        assert_eq!(cfg.plugins.dir, PathBuf::new(), "no plugins by default");
    }

    #[test]
    fn typegen_needs_the_login_with_url() {
        let cli = Cli::try_parse_from(["ferrobase", "typegen", "--dir", "d"]).expect("parse");
        assert!(matches!(
            cli.command,
            Command::Typegen { url: None, ref out, .. } if out == &PathBuf::from("ferrobase-types.ts")
        ));
        let full = [
            "ferrobase",
            "typegen",
            "--url",
            "http://127.0.0.1:8090",
            "--email",
            "a@b.co",
            "--password",
            "pw",
            "--out",
            "-",
        ];
        assert!(Cli::try_parse_from(full).is_ok());
        assert!(
            Cli::try_parse_from(&full[..4]).is_err(),
            "--url without a login"
        );
        assert!(Cli::try_parse_from(["ferrobase", "typegen", "--email", "a@b.co"]).is_err());
    }

    #[test]
    fn public_dir_comes_from_the_flag_or_the_environment() {
        let cli = Cli::try_parse_from(["ferrobase", "serve", "--public", "web"]).expect("parse");
        let env = [(
            "FERROBASE_SERVER_PUBLIC_DIR".to_string(),
            "site".to_string(),
        )];
        let cfg = Config::load_from(&cli.overrides(), env.clone()).expect("load");
        assert_eq!(cfg.server.public_dir, PathBuf::from("web")); // flag beats env
        let cli = Cli::try_parse_from(["ferrobase", "serve"]).expect("parse");
        let cfg = Config::load_from(&cli.overrides(), env).expect("load");
        assert_eq!(cfg.server.public_dir, PathBuf::from("site"));
        let cfg = Config::load_from(&cli.overrides(), []).expect("load");
        assert_eq!(cfg.server.public_dir, PathBuf::new(), "none by default");
    }
}
