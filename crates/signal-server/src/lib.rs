//! peerchat's signalling server: rooms, presence, relay, publishable keys with quotas and
//! rate limits, and resume after a drop, speaking protocol v1 (`docs/protocol.md`).
//!
//! Layout, one concept per module:
//! * [`config`]: the TOML file, defaults and validation.
//! * [`key`]: the redacting key type and constant-time lookup.
//! * [`tls`]: TLS termination with reloadable PEM files.
//! * [`turn`]: time-limited TURN credentials for `welcome`.
//! * [`per_ip`]: caps per client address (connections, handshakes; trusted proxies).
//! * [`quota`]: per-key quotas, counted here or shared by a cluster.
//! * `upgrade`: checks before the WebSocket upgrade (path, key, origin, address cap).
//! * `connection`: WebSocket bytes ↔ typed frames.
//! * `handler`: the task that serves one connection.
//! * [`hub`]: the task that owns sessions and channels.
//! * [`cluster`]: several instances sharing rooms through Redis (`[cluster]`, `--redis`).
//! * [`server`]: the accept loop and [`ServerHandle`].
//! * [`metrics`] and `operator`: counters, and `GET /metrics` and `GET /healthz` on the
//!   operator port.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let cfg = signal_server::Config::for_keys(&["pk_test_x"]);
//! let server = signal_server::Server::spawn(cfg).await?;
//! println!("{}", server.url());
//! # Ok(()) }
//! ```

pub mod cluster;
pub mod config;
mod connection;
pub mod glob;
mod handler;
pub mod hub;
pub mod key;
pub mod logging;
pub mod metrics;
mod operator;
pub mod outbox;
pub mod per_ip;
pub mod quota;
pub mod rate;
pub mod server;
pub mod tls;
pub mod token;
pub mod turn;
mod upgrade;

pub use config::{Config, ConfigError, FileConfig, KeyConfig};
pub use key::PublishableKey;
pub use server::{Server, ServerHandle};
