//! The harness: a tauri-driver per app process on its own ports, each app in its own
//! config and data directories (the keyring is the test's private Secret Service),
//! scenarios one at a time, screenshots under `target/e2e-screenshots/`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::process::{Child, Command};

use crate::wd::{self, Session};

/// How long the UI may take to show something.
pub const UI_WAIT: Duration = Duration::from_secs(30);

/// One scenario at a time: each starts WebKit processes, and the machine has 2 cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

pub use peerchat_testkit::ports::free_tcp_port as free_port;

/// The app binary under test: the freshly built one, or `PEERCHAT_APP_UNDER_TEST`
/// (the test command points it at the installed .deb's binary).
pub fn app_path() -> String {
    std::env::var("PEERCHAT_APP_UNDER_TEST").unwrap_or_else(|_| env!("CARGO_BIN_EXE_peerchat").to_string())
}

/// An isolated app installation: config and data directories, and the local port.
pub struct Home {
    pub dir: tempfile::TempDir,
    pub local_port: u16,
}

impl Home {
    pub fn new() -> Home {
        Home { dir: tempfile::tempdir().unwrap(), local_port: free_port() }
    }

    pub fn settings_path(&self) -> PathBuf {
        self.dir.path().join("config/dev.peerchat.app/settings.json")
    }

    /// The app's data directory (its DTLS certificate, the verified peers, the logs).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data/dev.peerchat.app")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.dir.path().join("data/dev.peerchat.app/logs")
    }

    /// Writes the settings file, as a previous run would have.
    pub fn write_settings(&self, v: serde_json::Value) {
        let p = self.settings_path();
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, v.to_string()).unwrap();
    }

    /// Everything the app wrote to its logs.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        if let Ok(dir) = std::fs::read_dir(self.log_dir()) {
            for e in dir.flatten() {
                all.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
        all
    }
}

/// A failing scenario shows what the app logged: its windows are gone by then.
impl Drop for Home {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- the app's logs ---\n{}--- end of the app's logs ---", self.logs());
        }
    }
}

/// A running tauri-driver (and, once a session starts, WebKitWebDriver and the app).
pub struct Driver {
    child: Child,
    pub addr: SocketAddr,
}

impl Driver {
    pub async fn start(home: &Home) -> Driver {
        Driver::start_with(home, &[]).await
    }

    /// As [`Driver::start`], with more environment for the app (`GTK_THEME`, say).
    pub async fn start_with(home: &Home, env: &[(&str, &str)]) -> Driver {
        let (port, native) = (free_port(), free_port());
        let bin = std::env::var("TAURI_DRIVER").unwrap_or_else(|_| "tauri-driver".into());
        let child = Command::new(&bin)
            .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
            .envs(env.iter().copied())
            .env("XDG_CONFIG_HOME", home.dir.path().join("config"))
            .env("XDG_DATA_HOME", home.dir.path().join("data"))
            .env("XDG_CACHE_HOME", home.dir.path().join("cache"))
            .env("PEERCHAT_LOCAL_PORT", home.local_port.to_string())
            .env("RUST_LOG", "info,peerchat_chat=debug,peerchat_peer=debug")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so dropping the driver also ends the WebKitWebDriver
            // it starts (killing tauri-driver alone would leave that child running).
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin} (scripts/test.sh installs it): {e}"));
        // Ready once both tauri-driver and the WebKitWebDriver it starts listen.
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let native = SocketAddr::from(([127, 0, 0, 1], native));
        for _ in 0..200 {
            let up = tokio::net::TcpStream::connect(addr).await.is_ok()
                && tokio::net::TcpStream::connect(native).await.is_ok();
            if up {
                return Driver { child, addr };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("tauri-driver did not listen on {addr} (and WebKitWebDriver on {native})");
    }

    /// Launches the app with `args` in a new session.
    pub async fn launch(&self, args: &[&str]) -> Session {
        let app = app_path();
        Session::start(self.addr, &app, args).await.unwrap_or_else(|e| panic!("launching {app}: {e}"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) on the process group this harness created for the driver.
            unsafe {
                libc::kill(-(pid as i32), libc::SIGKILL);
            }
        }
        let _ = self.child.start_kill();
    }
}

/// Waits until the element `id` is visible (`what` names it in the failure).
pub async fn shown(s: &Session, what: &str, id: &str) {
    wd::until(what, UI_WAIT, || async { Ok(s.visible(id).await?.then_some(())) }).await
}

/// The window handle whose chat shows "you are NAME".
pub async fn window_of(s: &Session, name: &str) -> String {
    let want = format!("you are {name} ·");
    wd::until(&format!("the window of {name}"), UI_WAIT, || async {
        for h in s.handles().await? {
            s.switch_to(&h).await?;
            let me = s.js("return document.getElementById('me').textContent", json!([])).await?;
            if me.as_str().unwrap_or_default().starts_with(&want) {
                return Ok(Some(h));
            }
        }
        Ok(None)
    })
    .await
}

/// Launches the app with two windows in `room` for a person called `name` (the settings'
/// display name) and waits until each window lists the other as connected peer to peer;
/// in window 2, `name` arrived with the server-routed hello. Returns the session and the
/// handles of `name` and `name 2`; the current window is the first.
pub async fn two_windows(driver: &Driver, room: &str, name: &str) -> (Session, String, String) {
    let s = driver.launch(&["--windows", "2", "--room", room]).await;
    let w1 = window_of(&s, name).await;
    let w2 = window_of(&s, &format!("{name} 2")).await;
    wait_connected_to(&s, name).await;
    s.switch_to(&w1).await.unwrap();
    wait_connected_to(&s, &format!("{name} 2")).await;
    (s, w1, w2)
}

/// Waits until the current window lists `peer` as connected over a DataChannel.
pub async fn wait_connected_to(s: &Session, peer: &str) {
    wd::until(&format!("{peer} connected peer-to-peer"), UI_WAIT, || async {
        let v = s
            .js(
                "return [...document.querySelectorAll('[data-testid=peer]')].some(li => \
                 li.querySelector('.peer-name').textContent === arguments[0] && \
                 li.dataset.state === 'connected' && li.dataset.path === 'p2p');",
                json!([peer]),
            )
            .await?;
        Ok(v.as_bool().unwrap_or(false).then_some(()))
    })
    .await
}

/// The messages of the current window: (sender, via, text).
pub async fn messages(s: &Session) -> wd::Result<Vec<(String, String, String)>> {
    let v = s
        .js(
            "return [...document.querySelectorAll('[data-testid=message]')].map(li => [\
             li.querySelector('.msg-sender').textContent, li.dataset.via, \
             li.querySelector('[data-testid=message-text]').textContent]);",
            json!([]),
        )
        .await?;
    Ok(v.as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    let f = |i: usize| m[i].as_str().unwrap_or_default().to_string();
                    (f(0), f(1), f(2))
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Waits for a message with `text` in the current window and returns (sender, via).
pub async fn wait_message(s: &Session, text: &str) -> (String, String) {
    wd::until(&format!("message {text:?}"), UI_WAIT, || async {
        Ok(messages(s).await?.into_iter().find(|m| m.2 == text).map(|m| (m.0, m.1)))
    })
    .await
}

/// Names in the current window's peer list.
pub async fn peer_names(s: &Session) -> wd::Result<Vec<String>> {
    let v = s
        .js(
            "return [...document.querySelectorAll('[data-testid=peer] .peer-name')].map(e => e.textContent);",
            json!([]),
        )
        .await?;
    Ok(v.as_array().map(|a| a.iter().filter_map(|n| n.as_str().map(str::to_string)).collect()).unwrap_or_default())
}

/// Screenshots of every window of `s`, as `target/e2e-screenshots/<scenario>-<n>.png`.
pub async fn screenshots(s: &Session, scenario: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e-screenshots");
    if let Ok(handles) = s.handles().await {
        for (i, h) in handles.iter().enumerate() {
            if s.switch_to(h).await.is_ok() {
                let _ = s.screenshot(&dir.join(format!("{scenario}-{}.png", i + 1))).await;
            }
        }
    }
}

/// The key the Secret Service holds for `server_url`, read with `secret-tool`.
pub fn keyring_lookup(server_url: &str) -> Option<String> {
    let out = std::process::Command::new("secret-tool")
        .args(["lookup", "service", "dev.peerchat.app", "username", server_url])
        .output()
        .expect("secret-tool (libsecret-tools) is installed by scripts/test.sh");
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).to_string()).filter(|k| !k.is_empty())
}

/// Puts a key into the Secret Service for `server_url`, as a previous run would have.
pub fn keyring_store(server_url: &str, key: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("secret-tool")
        .args(["store", "--label", "peerchat test", "service", "dev.peerchat.app", "username", server_url])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(key.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
}

/// The state of the (first) transfer row in the current window (`verified`, `failed`,
/// or `""`), and its progress bar's value and maximum.
pub async fn transfer(s: &wd::Session) -> wd::Result<Option<(String, f64, f64)>> {
    let v = s
        .js(
            "const li = document.querySelector('[data-testid=transfer]');
             if (!li) return null;
             const bar = li.querySelector('progress');
             return [li.dataset.state || '', bar.value, bar.max];",
            serde_json::json!([]),
        )
        .await?;
    Ok(v.as_array()
        .map(|a| (a[0].as_str().unwrap_or("").to_string(), a[1].as_f64().unwrap_or(0.0), a[2].as_f64().unwrap_or(0.0))))
}
