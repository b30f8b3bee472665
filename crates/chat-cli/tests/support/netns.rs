//! Two test hosts in their own network namespaces (root only, as CI runs). Each reaches
//! the signalling server in the root namespace over its own veth pair, and the two
//! reach each other only over a third veth pair, the "peer link": cutting it cuts the
//! peer-to-peer path and nothing else.
//!
//! ```text
//!   root (server on 0.0.0.0) --10.N.1.0/24-- A --10.N.3.0/24 (peer link)-- B --10.N.2.0/24-- root
//! ```

use std::process::Command as StdCommand;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::process::Command;

static NEXT: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) {
    let out = StdCommand::new("ip").args(args).output().unwrap_or_else(|e| panic!("cannot run ip: {e}"));
    assert!(
        out.status.success(),
        "`ip {}` failed: {} (these tests need root and iproute2, as CI has)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

pub struct TwoHosts {
    pub a: String,
    pub b: String,
    /// The server's address as A and B see it.
    pub gw_a: String,
    pub gw_b: String,
    link_a: String,
}

impl TwoHosts {
    pub fn create() -> TwoHosts {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}{n}", std::process::id() % 100_000);
        let net = 100 + (std::process::id() + n * 37) % 150;
        let (a, b) = (format!("pc{tag}a"), format!("pc{tag}b"));
        let hosts = TwoHosts {
            a: a.clone(),
            b: b.clone(),
            gw_a: format!("10.{net}.1.1"),
            gw_b: format!("10.{net}.2.1"),
            link_a: format!("pc{tag}ab"),
        };
        for (ns, side, subnet) in [(&a, "a", 1), (&b, "b", 2)] {
            let (root_end, ns_end) = (format!("pc{tag}r{side}"), format!("pc{tag}{side}r"));
            ip(&["netns", "add", ns]);
            ip(&["link", "add", &root_end, "type", "veth", "peer", "name", &ns_end]);
            ip(&["link", "set", &ns_end, "netns", ns]);
            ip(&["addr", "add", &format!("10.{net}.{subnet}.1/24"), "dev", &root_end]);
            ip(&["link", "set", &root_end, "up"]);
            ip(&["-n", ns, "addr", "add", &format!("10.{net}.{subnet}.2/24"), "dev", &ns_end]);
            ip(&["-n", ns, "link", "set", &ns_end, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        let link_b = format!("pc{tag}ba");
        ip(&["link", "add", &hosts.link_a, "type", "veth", "peer", "name", &link_b]);
        ip(&["link", "set", &hosts.link_a, "netns", &a]);
        ip(&["link", "set", &link_b, "netns", &b]);
        ip(&["-n", &a, "addr", "add", &format!("10.{net}.3.1/24"), "dev", &hosts.link_a]);
        ip(&["-n", &b, "addr", "add", &format!("10.{net}.3.2/24"), "dev", &link_b]);
        ip(&["-n", &a, "link", "set", &hosts.link_a, "up"]);
        ip(&["-n", &b, "link", "set", &link_b, "up"]);
        hosts
    }

    /// Cuts the peer link (both ends lose carrier); signalling is untouched.
    pub fn cut(&self) {
        ip(&["-n", &self.a, "link", "set", &self.link_a, "down"]);
    }

    pub fn restore(&self) {
        ip(&["-n", &self.a, "link", "set", &self.link_a, "up"]);
    }

    /// `program` run inside namespace `ns`.
    pub fn command(ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }
}

impl Drop for TwoHosts {
    /// Deleting a namespace deletes the veth ends in it, and with them their peers.
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = StdCommand::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
