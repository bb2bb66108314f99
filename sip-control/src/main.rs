//! `sip-control --config FILE`: the SIP trunk B2BUA of sluice.
//!
//! SIGHUP reloads the file (a bad file is reported and the running
//! configuration kept); SIGTERM/SIGINT stop taking calls and wait up to
//! `--shutdown-grace` for calls in progress to end.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use sip_control::b2bua::Server;
use sip_control::config::{self, LogFormat};
use tokio::signal::unix::{signal, SignalKind};

/// Command line.
#[derive(Debug, Parser)]
#[command(name = "sip-control", version, about = "sluice's SIP trunk B2BUA")]
struct Args {
    /// The TOML configuration file.
    #[arg(long, short = 'c')]
    config: PathBuf,
    /// Check the file and exit.
    #[arg(long)]
    check: bool,
    /// How long a shutdown waits for calls in progress.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    shutdown_grace: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match config::load(&args.config) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("sip-control: {error}");
            return ExitCode::from(2);
        }
    };
    if args.check {
        println!("{}: ok", args.config.display());
        return ExitCode::SUCCESS;
    }
    init_logging(
        &config.observability.log_format,
        config.observability.log_level.as_deref(),
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("sip-control: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sip-control: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args, config: config::Config) -> anyhow::Result<()> {
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let server = Server::start(config).await?;
    loop {
        tokio::select! {
            _ = hangup.recv() => match config::load(&args.config) {
                Ok(config) => {
                    if let Err(error) = server.reload(config) {
                        tracing::error!("reload failed, keeping the running configuration: {error:#}");
                    }
                }
                Err(error) => tracing::error!("reload refused, keeping the running configuration: {error}"),
            },
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    tracing::info!("shutting down");
    server.shutdown(args.shutdown_grace).await;
    Ok(())
}

fn init_logging(format: &LogFormat, level: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    // rsipstack logs every datagram at info; keep it at warn unless asked.
    let default = level.unwrap_or("info,rsipstack=warn");
    let filter = EnvFilter::try_from_env("SLUICE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
