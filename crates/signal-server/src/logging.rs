//! `tracing` set-up for the binary: human-readable or JSON lines on stderr (stdout is
//! kept for the `listening on` line). `RUST_LOG` filters, default `info`.

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per event, for log pipelines.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("`{other}` is not a log format: text or json")),
        }
    }
}

/// Crates whose trace level prints frame contents (chat text, keys pasted into
/// messages). Their trace events are dropped whatever `RUST_LOG` asks for.
const PAYLOAD_LOGGERS: [&str; 2] = ["tungstenite", "tokio_tungstenite"];

pub fn prints_payloads(meta: &tracing::Metadata<'_>) -> bool {
    *meta.level() == tracing::Level::TRACE && PAYLOAD_LOGGERS.iter().any(|p| meta.target().starts_with(p))
}

/// Installs the global subscriber. Safe to call once per process.
pub fn init(format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::filter::{filter_fn, EnvFilter};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let env = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let no_payloads = filter_fn(|meta| !prints_payloads(meta));
    let fmt = tracing_subscriber::fmt::layer().with_ansi(std::io::stderr().is_terminal()).with_writer(std::io::stderr);
    let layer = match format {
        LogFormat::Text => fmt.with_filter(no_payloads).boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).with_filter(no_payloads).boxed(),
    };
    let _ = tracing_subscriber::registry().with(env).with(layer).try_init();
}
