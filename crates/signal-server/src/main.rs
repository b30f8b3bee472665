//! `signal-server` binary: parses the command line, loads the configuration, prints
//! `listening on ws://HOST:PORT/v1`, and serves until SIGTERM or Ctrl-C.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

mod cli;

use clap::Parser;
use cli::Args;
use signal_server::{Config, FileConfig, PublishableKey, Server};

/// How long a graceful shutdown may take before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(4_500);

fn load(args: &Args) -> Result<Config, signal_server::ConfigError> {
    let mut file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    if let Some(url) = &args.redis {
        file.cluster.redis = Some(signal_server::cluster::RedisUrl::new(url.as_str()));
    }
    let keys = args.keys.iter().map(|k| PublishableKey::new(k.as_str())).collect();
    let mut cfg = Config::build(file, args.listen.clone(), keys)?;
    if let Some(a) = &args.operator_listen {
        cfg.operator_listen = Some(a.parse().map_err(|_| {
            signal_server::ConfigError::Invalid(format!("--operator-listen `{a}` is not HOST:PORT with a literal IP"))
        })?);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        cfg.tls = Some(signal_server::tls::TlsFiles { cert: cert.clone(), key: key.clone() });
    }
    Ok(cfg)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    signal_server::logging::init(args.log_format);
    let cfg = match load(&args) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("signal-server: {e}");
            return ExitCode::from(2);
        }
    };
    raise_fd_limit();
    let cfg_drain = cfg.cluster.as_ref().map_or(Duration::ZERO, |c| c.drain);
    let server = match Server::bind(cfg).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("signal-server: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let handle = server.handle();
    let drain = cfg_drain;
    // Signal handlers are in place before the ready line, so a script that signals as
    // soon as it reads that line gets the graceful path.
    let stop = Stop::install();
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {}", handle.url());
        let _ = out.flush();
    }
    let run = tokio::spawn(server.run());
    stop.wait(&args, &handle).await;
    tracing::info!("shutting down: going_away to every socket");
    handle.shutdown();
    if tokio::time::timeout(SHUTDOWN_GRACE + drain, run).await.is_err() {
        tracing::warn!("connections did not close in time; exiting anyway");
    }
    ExitCode::SUCCESS
}

#[cfg(unix)]
type SigStream = tokio::signal::unix::Signal;
#[cfg(not(unix))]
type SigStream = ();

/// The process signals the server reacts to.
struct Stop {
    int: Option<SigStream>,
    term: Option<SigStream>,
    hup: Option<SigStream>,
}

impl Stop {
    fn install() -> Stop {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Stop {
                int: signal(SignalKind::interrupt()).ok(),
                term: signal(SignalKind::terminate()).ok(),
                hup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(not(unix))]
        Stop { int: None, term: None, hup: None }
    }

    /// Waits for SIGTERM or Ctrl-C; on SIGHUP, reloads the keys from the config file and
    /// the TLS certificate and key from their files.
    async fn wait(mut self, args: &Args, handle: &signal_server::ServerHandle) {
        // Where there are no Unix signal streams, Ctrl-C is watched directly.
        let mut ctrl_c = std::pin::pin!(async {
            if cfg!(unix) {
                std::future::pending::<()>().await
            } else {
                let _ = tokio::signal::ctrl_c().await;
            }
        });
        loop {
            tokio::select! {
                _ = &mut ctrl_c => return,
                _ = recv(&mut self.int) => return,
                _ = recv(&mut self.term) => return,
                _ = recv(&mut self.hup) => reload(args, handle).await,
            }
        }
    }
}

/// SIGHUP: the keys from the config file, then the TLS files. A failed part keeps what
/// is in use and says so in the log.
async fn reload(args: &Args, handle: &signal_server::ServerHandle) {
    match load(args) {
        Ok(cfg) => {
            let closed = handle.set_keys(cfg.keys).await;
            tracing::info!(closed, "configuration reloaded: keys replaced");
        }
        Err(e) => tracing::error!(error = %e, "reload failed; keeping the current keys"),
    }
    match handle.reload_tls() {
        Ok(true) => tracing::info!("TLS certificate and key reloaded"),
        Ok(false) => {}
        Err(e) => tracing::error!(error = %e, "TLS reload failed; keeping the current certificate"),
    }
}

async fn recv(sig: &mut Option<SigStream>) {
    match sig {
        #[cfg(unix)]
        Some(s) => {
            s.recv().await;
        }
        _ => std::future::pending().await,
    }
}

/// Each connection is a file descriptor: lift the soft limit to the hard one so the
/// server can hold tens of thousands of sockets without operator tuning.
fn raise_fd_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    unsafe {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                tracing::debug!(limit = lim.rlim_cur, "raised the open-file limit");
            }
        }
    }
}
