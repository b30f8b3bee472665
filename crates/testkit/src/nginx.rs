//! A real nginx (Debian's `nginx-light` or `nginx`), started for one test with its own
//! prefix directory, configuration and logs, and stopped when dropped.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nginx.
pub struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx with `http_body` inside its `http { }` block (server blocks, upstreams);
    /// `access_log` and temp paths point into the nginx's own directory. Waits until
    /// `ready_port` accepts TCP connections on 127.0.0.1 (at most 10 s).
    pub fn start(http_body: &str, ready_port: u16) -> Nginx {
        let dir = tempfile::tempdir().expect("nginx dir");
        let p = dir.path().display().to_string();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {p}/nginx.pid;\n\
             error_log {p}/error.log info;\nevents {{ worker_connections 256; }}\n\
             http {{\n  access_log {p}/access.log;\n  client_body_temp_path {p}/body;\n\
             proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n\
             scgi_temp_path {p}/scgi;\n{http_body}\n}}\n"
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let child = Command::new(binary())
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nginx ({e}); scripts/test.sh installs it"));
        let mut nginx = Nginx { child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", ready_port)).is_err() {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                panic!("nginx exited ({status}): {}", nginx.error_log());
            }
            assert!(
                Instant::now() < deadline,
                "nginx not listening on {ready_port} within 10 s: {}",
                nginx.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    /// What nginx wrote to its access log so far.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// What nginx wrote to its error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| "nginx".into())
}

/// The `server` block the README recommends: TLS on `127.0.0.1:port` with `cert`,
/// WebSocket upgrades to the plain signalling server on `127.0.0.1:upstream`.
pub fn websocket_proxy(port: u16, cert: &crate::tls::ServerCert, upstream: u16) -> String {
    format!(
        "map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}\n\
         server {{\n  listen 127.0.0.1:{port} ssl;\n  server_name localhost;\n\
         ssl_certificate {cert};\n  ssl_certificate_key {key};\n\
         location = /v1 {{\n    proxy_pass http://127.0.0.1:{upstream};\n    proxy_http_version 1.1;\n\
         proxy_set_header Upgrade $http_upgrade;\n    proxy_set_header Connection $connection_upgrade;\n\
         proxy_set_header Host $host;\n    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
         proxy_read_timeout 120s;\n    proxy_send_timeout 120s;\n  }}\n}}\n",
        cert = cert.cert.display(),
        key = cert.key.display(),
    )
}
