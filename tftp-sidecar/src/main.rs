//! tftp-sidecar binary: config -> logging -> file source -> TFTP server (+ metrics HTTP).

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use tftp_sidecar::cli::Cli;
use tftp_sidecar::config::{self, LogFormat, Settings};
use tftp_sidecar::content::FileSource;
use tftp_sidecar::metrics::Metrics;
use tftp_sidecar::server::{shutdown, Events, Server};
use tftp_sidecar::store::LocalRoot;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match config::load(&cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tftp-sidecar: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.check_config {
        println!("{settings:#?}");
        return ExitCode::SUCCESS;
    }
    init_logging(settings.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tftp-sidecar: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("tftp-sidecar: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

async fn run(settings: Settings) -> Result<(), String> {
    let stop = shutdown::signal();
    let metrics = Arc::new(Metrics::new());
    let local = LocalRoot::new(settings.root.clone(), settings.case_insensitive);
    local
        .check()
        .map_err(|e| format!("config key `root`: {e}"))?;
    let source: Arc<dyn FileSource> = Arc::new(local);
    let events: Arc<dyn Events> = metrics.clone();
    let server = Server::bind(settings.server.clone(), source, events)
        .map_err(|e| format!("config key `listen`: {e}"))?;
    tracing::info!(root = %settings.root.display(), "serving");
    let aborted = server.run(stop, settings.drain_deadline).await;
    tracing::info!(aborted, "stopped");
    Ok(())
}
