//! The command line: `signal-server --listen ADDR [--config FILE] [--key KEY]...`. The
//! binary's own module: the library (embedded by the app) has no clap.

use std::path::PathBuf;

use signal_server::logging::LogFormat;

/// Command-line arguments.
#[derive(clap::Parser)]
#[command(name = "signal-server", version, about = "peerchat signalling server (protocol v1)")]
pub struct Args {
    /// Address to listen on, HOST:PORT (port 0 picks a free port). Overrides the config.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// TOML configuration file ([server] and [[keys]] tables). Re-read on SIGHUP.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// PEM certificate chain: serve `wss://` (TLS) directly. Re-read on SIGHUP.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `--tls-cert`. Re-read on SIGHUP.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Operator port for `/healthz` and `/metrics`, HOST:PORT (keep it private).
    /// Overrides the config.
    #[arg(long, value_name = "ADDR")]
    pub operator_listen: Option<String>,
    /// Redis shared by every instance, `redis://[:PASSWORD@]HOST:PORT[/DB]` (scale-out;
    /// none: a single node). Overrides `[cluster] redis`. Prefer the environment
    /// variable or the config file when it holds a password (arguments show in `ps`).
    #[arg(long, value_name = "URL", env = "PEERCHAT_REDIS_URL", hide_env_values = true)]
    pub redis: Option<String>,
    /// A publishable key with default limits (repeatable).
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// Log format on stderr.
    #[arg(long, value_name = "text|json", default_value = "text")]
    pub log_format: LogFormat,
}

// Args holds keys: never derive Debug for it.
impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args")
            .field("listen", &self.listen)
            .field("operator_listen", &self.operator_listen)
            .field("config", &self.config)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("keys", &format_args!("<{} redacted>", self.keys.len()))
            .field("redis", &self.redis.as_ref().map(|u| signal_server::cluster::RedisUrl::new(u.as_str())))
            .finish()
    }
}
