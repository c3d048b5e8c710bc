//! tftp-sidecar binary: config -> logging -> file source -> TFTP server (+ phone files over
//! HTTP, + the status listener).

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use tftp_sidecar::cli::Cli;
use tftp_sidecar::config::{self, KeyError, LogFormat, Problem, Settings};
use tftp_sidecar::content::FileSource;
use tftp_sidecar::metrics::Metrics;
use tftp_sidecar::page::{Page, RootCheck};
use tftp_sidecar::phones::PhoneTable;
use tftp_sidecar::server::events::Both;
use tftp_sidecar::server::{shutdown, Events, Server};
use tftp_sidecar::store::NoStoreEvents;
use tokio::net::TcpListener;
use tokio::sync::watch;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(tftp_sidecar::cli::Command::Check {
        root,
        json,
        model,
        case_insensitive,
    }) = &cli.command
    {
        let opts = tftp_sidecar::firmware_check::CheckOptions {
            models: model.clone(),
            case_insensitive: *case_insensitive,
        };
        return ExitCode::from(tftp_sidecar::firmware_check::run(root, *json, &opts));
    }
    let settings = match config::load(&cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tftp-sidecar: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match runtime(settings.threads) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tftp-sidecar: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if cli.check_config {
        // Every key is checked by now; opening the disk cache (created, indexed) is the one
        // check left. Nothing is counted.
        let built = rt.block_on(async { settings.store.build(Arc::new(NoStoreEvents)) });
        if let Err(e) = built {
            eprintln!("tftp-sidecar: {e}");
            return ExitCode::from(2);
        }
        println!("{settings:#?}");
        return ExitCode::SUCCESS;
    }
    init_logging(settings.log_format);
    match rt.block_on(run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fatal::Config(e)) => {
            eprintln!("tftp-sidecar: {e}");
            ExitCode::from(2)
        }
    }
}

/// One thread avoids cross-thread wake-ups, the main per-packet cost of a UDP server on
/// few cores; more threads help when the TFTP work outgrows one core.
fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
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

/// Why the process stops with an error (config problems exit 2): a key whose value could
/// not be put to use (an address already bound, a Kea source that cannot be registered).
enum Fatal {
    Config(KeyError),
}

fn key_fatal(key: &'static str, e: impl std::fmt::Display) -> Fatal {
    Fatal::Config(KeyError::new(key, Problem::Invalid(e.to_string())))
}

async fn run(settings: Settings) -> Result<(), Fatal> {
    let stop = shutdown::signal();
    let metrics = Arc::new(Metrics::new());
    if !settings.kea.is_empty() {
        let sources = tftp_sidecar::kea_stats::start_all(&settings.kea, metrics.registry())
            .map_err(|e| key_fatal("kea", e))?;
        metrics.set_kea_sources(sources);
    }
    let store = settings
        .store
        .build(metrics.clone())
        .map_err(Fatal::Config)?;
    tracing::info!(
        root = ?settings.store.root,
        origin = ?settings.store.origin_url,
        disk = ?settings.store.disk_dir,
        memory_cache_bytes = settings.store.memory_cache_bytes,
        "file store ready"
    );
    let source: Arc<dyn FileSource> = Arc::new(store);
    // The metrics and the phone table each listen to both engines' events.
    let phones = Arc::new(PhoneTable::registered(
        settings.page.phone_capacity,
        metrics.registry(),
    ));
    let events: Arc<dyn Events> = Arc::new(Both(metrics.clone(), phones.clone()));
    // Phone files over HTTP, from the same store (so one origin fetch serves both protocols).
    let (http_stop_tx, http_stop) = watch::channel(false);
    if let Some(h) = settings.http.clone() {
        let files = tftp_sidecar::http_files::HttpFiles::bind(h, source.clone(), events.clone())
            .map_err(|e| key_fatal("http_listen", e))?;
        files.spawn(http_stop);
    }
    let (ready_tx, ready_rx) = watch::channel(false);
    if let Some(addr) = settings.metrics_listen {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| key_fatal("metrics_listen", format!("{addr}: {e}")))?;
        tracing::info!(%addr, "status listener (the operator's page at /, /metrics, /healthz, /readyz, /api/v1/phones)");
        let m = metrics.clone();
        // The firmware check runs only for the page, so only with the status listener.
        let check = match &settings.store.root {
            Some(root) => RootCheck::spawn(
                root.clone(),
                settings.store.case_insensitive,
                settings.page.check_interval(),
            ),
            None => RootCheck::none(),
        };
        let page = Page::new(phones, check, settings.page.clone());
        tokio::spawn(async move {
            if let Err(e) = tftp_sidecar::http::serve_with_page(l, m, ready_rx, page).await {
                tracing::error!(error = %e, "status listener failed");
            }
        });
    }
    let server = Server::bind(settings.server.clone(), source, events)
        .map_err(|e| key_fatal("listen", e))?;
    let _ = ready_tx.send(true);
    let stop = async move {
        stop.await;
        // Not ready while draining: load balancers stop sending new phones here.
        let _ = ready_tx.send(false);
        // No new HTTP connections either; open ones finish their responses meanwhile.
        let _ = http_stop_tx.send(true);
    };
    let aborted = server.run(stop, settings.drain_deadline).await;
    tracing::info!(aborted, "stopped");
    Ok(())
}
