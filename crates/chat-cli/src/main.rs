//! `chat-cli`: a terminal peer on the peerchat SDK, for scripts, bots and tests.
//!
//! ```text
//! chat-cli --url wss://chat.example.com/v1 --key pk_... --room lobby --name alice [--json]
//! ```
//! `wss://` is verified against the system's trust store (plus `--ca-file`); `ws://` is
//! for this machine only unless `--allow-plaintext`.
//! Each stdin line is sent as chat to every connected peer over the "messages"
//! DataChannel; events are printed one per line. End of stdin leaves cleanly and exits 0.
//! Some lines are commands instead: `/safety` prints each peer's safety number,
//! `/verify PEER` and `/unverify PEER` (a peer id or name) mark it verified or not;
//! `/send PATH [PEER]` offers a file (to everyone without PEER), `/accept ID [DIR]`,
//! `/decline ID` and `/cancel ID` answer or stop a transfer.

mod chat;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

/// Command-line arguments.
#[derive(Parser)]
#[command(name = "chat-cli", version, about = "peerchat terminal peer")]
pub struct Args {
    /// Signalling server URL, e.g. ws://127.0.0.1:8787/v1.
    #[arg(long)]
    pub url: String,
    /// Publishable key. Other users of this machine can read a process's arguments:
    /// prefer `PEERCHAT_KEY` or `--key-file`.
    #[arg(long, env = "PEERCHAT_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// File holding the publishable key (its first line); used instead of `--key`.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<std::path::PathBuf>,
    /// Room to join.
    #[arg(long)]
    pub room: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// One JSON object per line on stdout.
    #[arg(long)]
    pub json: bool,
    /// PEM file of CA certificates to trust for wss://, besides the system's (a server
    /// with a private CA).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Allow unencrypted ws:// to a host other than this machine (anyone on the path can
    /// then read and alter the signalling).
    #[arg(long)]
    pub allow_plaintext: bool,
    /// Which network paths to peers may be used: `all`, or `relay` (only through a TURN
    /// server, so peers never learn this machine's addresses).
    #[arg(long, value_enum, default_value = "all")]
    pub ice_policy: IcePolicy,
    /// To a peer with no peer-to-peer channel open, send lines through the signalling
    /// server instead of waiting for one (its operator can then read them).
    #[arg(long)]
    pub server_fallback: bool,
    /// Directory that keeps this peer's DTLS certificate (`dtls.pem`), the peers you
    /// verified (`verified.json`) and file transfers under way (`transfers/`, so they go
    /// on after a restart in the same room under the same name), readable by you alone.
    /// Without it, each run has a new certificate, forgets what was verified, and a
    /// restart ends its transfers.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<std::path::PathBuf>,
    /// Accept every file offered into DIR (bots). Without it, offers wait for
    /// `/accept ID DIR` or `/decline ID`.
    #[arg(long, value_name = "DIR")]
    pub accept_files: Option<std::path::PathBuf>,
    /// Largest file accepted, in bytes; bigger offers are declined.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 30)]
    pub max_file_size: u64,
}

/// `--ice-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IcePolicy {
    All,
    Relay,
}

// Args holds the key: no derived Debug.
impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args").field("url", &self.url).field("room", &self.room).field("name", &self.name).finish()
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rtc_dtls=error,rtc_ice=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("chat-cli: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(chat::run(args));
    // Engine and stdin helper threads must not delay the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => ExitCode::from(code),
    }
}
