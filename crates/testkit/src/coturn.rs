//! A real coturn (Debian's `coturn`), started for one test with its own configuration:
//! TURN REST credentials (`use-auth-secret`), UDP only, on one address, optionally
//! inside a network namespace. Stopped when dropped.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running coturn.
pub struct Coturn {
    child: Child,
    dir: tempfile::TempDir,
    pub ip: String,
    pub port: u16,
}

impl Coturn {
    /// Starts `turnserver` listening and relaying on `ip:port` (inside `netns`, if
    /// given), accepting credentials made with `secret` for realm `realm`. Waits (at most
    /// 10 s) until it reports its servers up.
    pub fn start(netns: Option<&str>, ip: &str, port: u16, secret: &str, realm: &str) -> Coturn {
        Coturn::start_with(netns, ip, port, secret, realm, &[])
    }

    /// [`Coturn::start`] with `extra` configuration lines (e.g. `allow-loopback-peers`
    /// for a TURN server on 127.0.0.1 relaying between peers on the same machine).
    pub fn start_with(netns: Option<&str>, ip: &str, port: u16, secret: &str, realm: &str, extra: &[&str]) -> Coturn {
        let dir = tempfile::tempdir().expect("coturn dir");
        let d = dir.path().display().to_string();
        let conf = format!(
            "listening-ip={ip}\nrelay-ip={ip}\nlistening-port={port}\nmin-port=49152\nmax-port=65000\n\
             use-auth-secret\nstatic-auth-secret={secret}\nrealm={realm}\nfingerprint\n\
             no-tls\nno-dtls\nno-tcp-relay\nno-cli\nno-multicast-peers\nsimple-log\n\
             log-file={d}/turn.log\npidfile={d}/turn.pid\nuserdb={d}/turndb\n{}\n",
            extra.join("\n")
        );
        let conf_path = dir.path().join("turnserver.conf");
        std::fs::write(&conf_path, conf).expect("write turnserver.conf");
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(binary());
                c
            }
            None => Command::new(binary()),
        };
        let child = cmd
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start coturn ({e}); scripts/test.sh installs it"));
        let mut coturn = Coturn { child, dir, ip: ip.to_string(), port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !coturn.log().contains("Total General servers") {
            if let Ok(Some(status)) = coturn.child.try_wait() {
                panic!("coturn exited ({status}): {}", coturn.log());
            }
            assert!(Instant::now() < deadline, "coturn not up within 10 s: {}", coturn.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        coturn
    }

    /// `turn:IP:PORT?transport=udp`.
    pub fn url(&self) -> String {
        format!("turn:{}:{}?transport=udp", self.ip, self.port)
    }

    /// What coturn logged so far (its log file is named after the date, so every file in
    /// its directory whose name starts with `turn` is read).
    pub fn log(&self) -> String {
        let mut all = String::new();
        if let Ok(entries) = std::fs::read_dir(self.dir.path()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with("turn") && name.ends_with(".log") {
                    if let Ok(mut f) = std::fs::File::open(e.path()) {
                        let _ = f.read_to_string(&mut all);
                    }
                }
            }
        }
        all
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> PathBuf {
    ["/usr/bin/turnserver", "/usr/sbin/turnserver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| "turnserver".into())
}
