//! Helpers: a backend in a temporary directory with an in-memory keyring, event sinks
//! that collect a window's events, and waits with deadlines.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use peerchat_chat::ChatEvent;
use peerchat_desktop::backend::{Backend, BackendConfig, EventSink};
use peerchat_desktop::keystore::{MemoryStore, SecretStore};
use tokio::sync::mpsc;

pub const WAIT: Duration = Duration::from_secs(20);

/// This machine's address on its default route (no packet is sent).
pub fn routed_address() -> std::net::IpAddr {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    s.connect("192.0.2.1:9").expect("a default route, to find a non-loopback address");
    let ip = s.local_addr().unwrap().ip();
    assert!(!ip.is_loopback() && !ip.is_unspecified(), "no non-loopback address to try from: {ip}");
    ip
}

/// A free loopback port (bound, then released).
pub use peerchat_testkit::ports::free_tcp_port as free_port;

pub struct TestApp {
    pub backend: Arc<Backend>,
    pub _dir: tempfile::TempDir,
    pub settings_path: PathBuf,
}

/// A backend with its own settings directory, using `store` as the keyring.
/// With `RUST_LOG` set, the SDK's and the engine's logs go to the test's output.
pub fn app_with(store: Arc<dyn SecretStore>, port: u16) -> TestApp {
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
    let dir = tempfile::tempdir().unwrap();
    let settings_path = dir.path().join("settings.json");
    TestApp { backend: backend_in(dir.path(), store, port), _dir: dir, settings_path }
}

/// A backend keeping its settings and data in `dir` (a restarted app: the same `dir`).
pub fn backend_in(dir: &std::path::Path, store: Arc<dyn SecretStore>, port: u16) -> Arc<Backend> {
    let config = BackendConfig {
        settings_path: dir.join("settings.json"),
        data_dir: dir.join("data"),
        local_port: port,
        auto_room: None,
        downloads: dir.join("Downloads"),
    };
    Arc::new(Backend::new(config, store))
}

pub fn app() -> (TestApp, MemoryStore) {
    let store = MemoryStore::default();
    (app_with(Arc::new(store.clone()), free_port()), store)
}

/// A window's event stream, as the UI would receive it over its Channel.
pub struct Window {
    pub label: &'static str,
    rx: mpsc::UnboundedReceiver<ChatEvent>,
}

pub fn window(label: &'static str) -> (Window, EventSink) {
    let (tx, rx) = mpsc::unbounded_channel();
    let sink: EventSink = Arc::new(move |ev| tx.send(ev).is_ok());
    (Window { label, rx }, sink)
}

impl Window {
    /// The next event, as it comes; `None` once the session ended.
    pub async fn next(&mut self) -> Option<ChatEvent> {
        self.rx.recv().await
    }

    /// Waits for the first event that `f` accepts, returning it.
    pub async fn wait_for(&mut self, what: &str, f: impl Fn(&ChatEvent) -> bool) -> ChatEvent {
        let found = tokio::time::timeout(WAIT, async {
            while let Some(ev) = self.rx.recv().await {
                if f(&ev) {
                    return Some(ev);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(ev)) => ev,
            Ok(None) => panic!("{}: events ended before {what}", self.label),
            Err(_) => panic!("{}: no {what} within {WAIT:?}", self.label),
        }
    }
}

/// Two app processes on one machine: one keyring, one local port; the first runs the
/// local server, the second finds it.
pub async fn two_processes() -> (TestApp, TestApp) {
    let keyring = Arc::new(MemoryStore::default());
    let port = free_port();
    let first = app_with(keyring.clone(), port);
    let second = app_with(keyring, port);
    first.backend.use_local_server("main", false).await.unwrap();
    second.backend.use_local_server("main", false).await.unwrap();
    (first, second)
}
