//! Ferrobase: a self-hosted backend-as-a-service in one binary.

use clap::Parser;
use ferrobase::{cli, config, inspect, serve};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if let cli::Command::SidecarExec { parent, command } = &cli.command {
        // Only returns when the exec failed.
        eprintln!(
            "error: {}",
            ferrobase::plugins::exec_sidecar(*parent, command)
        );
        return ExitCode::from(127);
    }
    if let cli::Command::Version = cli.command {
        println!("ferrobase {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let config = match config::Config::load(&cli.overrides()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let cli::Command::Inspect { json } = cli.command {
        // Synchronous and read-only: no runtime, no log lines mixed into the report.
        return match inspect::inspect(&config, json) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let cli::Command::Typegen {
        url,
        email,
        password,
        out,
    } = &cli.command
    {
        let source = match (url, email, password) {
            (Some(url), Some(email), Some(password)) if cli.dir.is_none() => {
                serve::TypegenSource::Server {
                    url: url.clone(),
                    email: email.clone(),
                    password: password.clone(),
                }
            }
            (Some(_), _, _) => {
                eprintln!("error: use either --url (a running server) or --dir (a stopped one)");
                return ExitCode::from(2);
            }
            _ => serve::TypegenSource::DataDir,
        };
        // No log lines: the output may be stdout.
        return match serve::typegen(&config, source, out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    serve::init_tracing(&config.log);
    for name in config::unknown_env(std::env::vars()) {
        tracing::warn!(%name, "ignoring unknown configuration variable");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let serving = matches!(cli.command, cli::Command::Serve { .. });
    let checkpoint_config = config.clone();
    let result = runtime.block_on(async move {
        match cli.command {
            cli::Command::Serve { .. } => serve::serve(config).await,
            cli::Command::Superuser { action } => serve::superuser(config, action).await,
            cli::Command::Inspect { .. }
            | cli::Command::Typegen { .. }
            | cli::Command::Version
            | cli::Command::SidecarExec { .. } => Ok(()),
        }
    });
    // Tasks still holding the store go with the runtime; then the store can be checkpointed.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    if serving && result.is_ok() {
        serve::checkpoint(&checkpoint_config);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
