//! Command-line interface: `serve`, `superuser upsert|delete`, `version`.

use crate::config::Overrides;
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
    },
    /// Manage superusers.
    Superuser {
        #[command(subcommand)]
        action: SuperuserAction,
    },
    /// Print the version.
    Version,
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
        let http = match &self.command {
            Command::Serve { http } => http.clone(),
            _ => None,
        };
        Overrides {
            config: self.config.clone(),
            http,
            dir: self.dir.clone(),
        }
    }
}
