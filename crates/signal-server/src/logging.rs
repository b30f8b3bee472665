//! `tracing` set-up for the binary: human-readable or JSON lines on stderr (stdout is
//! kept for the `listening on` line). `RUST_LOG` filters, default `info`.

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per event, for log pipelines.
    Json,
}

/// Crates whose verbose levels print frame contents (chat text, keys pasted into
/// messages): capped whatever `RUST_LOG` asks for.
const PAYLOAD_LOGGERS: [&str; 2] = ["tungstenite=debug", "tokio_tungstenite=debug"];

/// Installs the global subscriber. Safe to call once per process.
pub fn init(format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Only ever lowers verbosity: the caps apply when some directive asks for trace.
    if filter
        .max_level_hint()
        .is_none_or(|l| l >= tracing::level_filters::LevelFilter::TRACE)
    {
        for directive in PAYLOAD_LOGGERS {
            if let Ok(d) = directive.parse() {
                filter = filter.add_directive(d);
            }
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
