//! Logs: a daily-rolling `peerchat.log` in the app's log directory (and stdout in debug
//! builds). `RUST_LOG` filters (default `info`). Frame payloads of the WebSocket crates
//! are never logged, and keys print redacted, so no key reaches a log.

use std::path::Path;
use std::sync::OnceLock;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Keeps the log writer flushing until the process exits.
static GUARD: OnceLock<WorkerGuard> = OnceLock::new();

/// Installs the global subscriber; a second call does nothing. `console` adds stdout
/// (debug builds).
pub fn init(log_dir: &Path, console: bool) {
    let env = || {
        EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("info,rtc_dtls=error,rtc_ice=error,webrtc=warn,rtc=warn"))
    };
    let _ = std::fs::create_dir_all(log_dir);
    let file = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("peerchat")
        .filename_suffix("log")
        .max_log_files(7)
        .build(log_dir);
    let file_layer = match file {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let _ = GUARD.set(guard);
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(writer)
                    .with_filter(filter_fn(|m| !signal_server::logging::prints_payloads(m)))
                    .with_filter(env()),
            )
        }
        Err(e) => {
            eprintln!("peerchat: cannot write logs to {}: {e}", log_dir.display());
            None
        }
    };
    let stdout_layer = console.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stdout)
            .with_filter(filter_fn(|m| !signal_server::logging::prints_payloads(m)))
            .with_filter(env())
    });
    let _ = tracing_subscriber::registry().with(file_layer).with(stdout_layer).try_init();
}
