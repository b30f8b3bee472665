//! Two home networks behind NAT routers and a "public internet", each a network
//! namespace made for one test (root only, as CI runs). Nothing touches the root
//! namespace, and nothing can leave the machine: the public side's default route ends in
//! a black hole, as unroutable addresses do on the internet.
//!
//! ```text
//!   host_a 192.168.1.10 ── router_a ─┐                 ┌─ router_b ── host_b 192.168.2.10
//!          (lan)    wan 10.250.0.2   ├── public bridge ┤  wan 10.250.0.3   (lan)
//!                                    │  10.250.0.1: signalling, TURN
//! ```
//!
//! The routers behave like home routers: they NAT the LAN behind their WAN address
//! (iptables MASQUERADE, optionally `--random-fully`, which gives every destination a new
//! port: a symmetric NAT), and their own stack drops unsolicited input from the WAN. The
//! latter matters: an accepted unsolicited packet leaves a conntrack entry that takes the
//! reply tuple an outgoing mapping needs, and the NAT then picks another port.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The public side's address (where servers listen).
pub const PUBLIC_IP: &str = "10.250.0.1";
/// The hosts' LAN addresses.
pub const HOST_A_IP: &str = "192.168.1.10";
pub const HOST_B_IP: &str = "192.168.2.10";

/// The signalling server's configuration for the lab: listening on the public side,
/// accepting `key`, announcing coturn's STUN service and per-peer TURN credentials made
/// with `secret` for `turn_url`.
pub fn server_toml(key: &str, secret: &str, turn_url: &str) -> String {
    format!(
        "[server]\nlisten = \"{PUBLIC_IP}:8787\"\n[[keys]]\nkey = \"{key}\"\n\
         [[ice_servers]]\nurls = [\"stun:{PUBLIC_IP}:3478\"]\n\
         [turn]\nsecret = \"{secret}\"\nurls = [\"{turn_url}\"]\nttl_secs = 600\n"
    )
}

/// How the routers treat the LANs' traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nat {
    /// MASQUERADE: one mapping per source address and port, whatever the destination
    /// (the port is kept when free). STUN reveals it; hole punching works.
    Masquerade,
    /// MASQUERADE `--random-fully`: a new port for every destination. The mapping a
    /// STUN server sees is useless to the peer; only a TURN relay gets through.
    RandomFully,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The namespaces of one lab; deleted (with every process in them) when dropped.
pub struct NatLab {
    pub public: String,
    pub router_a: String,
    pub router_b: String,
    pub host_a: String,
    pub host_b: String,
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "`{program} {}` failed: {} (these tests need root, iproute2 and iptables, as CI has)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

impl NatLab {
    /// Builds the lab with both routers doing `nat`.
    pub fn new(nat: Nat) -> NatLab {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tag = format!("nl{}x{n}", std::process::id() % 100_000);
        let lab = NatLab {
            public: format!("{tag}pub"),
            router_a: format!("{tag}ra"),
            router_b: format!("{tag}rb"),
            host_a: format!("{tag}ha"),
            host_b: format!("{tag}hb"),
        };
        for ns in lab.all() {
            run("ip", &["netns", "add", ns]);
            lab.ip(ns, &["link", "set", "lo", "up"]);
        }
        let public = lab.public.as_str();
        lab.ip(public, &["link", "add", "br0", "type", "bridge"]);
        lab.ip(public, &["addr", "add", &format!("{PUBLIC_IP}/24"), "dev", "br0"]);
        lab.ip(public, &["link", "set", "br0", "up"]);
        lab.black_hole_default_route();
        for (router, host, wan_ip, lan) in
            [(&lab.router_a, &lab.host_a, "10.250.0.2", 1), (&lab.router_b, &lab.host_b, "10.250.0.3", 2)]
        {
            let port = format!("p{}", &router[router.len() - 2..]);
            run("ip", &["link", "add", "wan", "netns", router, "type", "veth", "peer", "name", &port, "netns", public]);
            lab.ip(public, &["link", "set", &port, "master", "br0", "up"]);
            lab.ip(router, &["addr", "add", &format!("{wan_ip}/24"), "dev", "wan"]);
            lab.ip(router, &["link", "set", "wan", "up"]);
            lab.ip(router, &["route", "add", "default", "via", PUBLIC_IP]);
            run("ip", &["link", "add", "lan", "netns", router, "type", "veth", "peer", "name", "eth0", "netns", host]);
            lab.ip(router, &["addr", "add", &format!("192.168.{lan}.1/24"), "dev", "lan"]);
            lab.ip(router, &["link", "set", "lan", "up"]);
            lab.ip(host, &["addr", "add", &format!("192.168.{lan}.10/24"), "dev", "eth0"]);
            lab.ip(host, &["link", "set", "eth0", "up"]);
            lab.ip(host, &["route", "add", "default", "via", &format!("192.168.{lan}.1")]);
            lab.exec(router, "sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
            let mut masquerade = vec!["-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE"];
            if nat == Nat::RandomFully {
                masquerade.push("--random-fully");
            }
            lab.exec(router, "iptables", &masquerade);
            lab.exec(
                router,
                "iptables",
                &["-A", "INPUT", "-i", "wan", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
            );
            lab.exec(router, "iptables", &["-A", "INPUT", "-i", "wan", "-j", "DROP"]);
        }
        lab
    }

    /// Both routers drop every UDP packet between their LAN and the WAN (networks that
    /// allow only TCP out). Signalling, over TCP, still passes.
    pub fn block_udp(&self) {
        for router in [&self.router_a, &self.router_b] {
            for dir in ["-o", "-i"] {
                self.exec(router, "iptables", &["-I", "FORWARD", "-p", "udp", dir, "wan", "-j", "DROP"]);
            }
        }
    }

    /// Moves the calling thread into namespace `ns` (setns(2)): the sockets it opens from
    /// then on, and the threads it starts, live there. For a server run in-process inside
    /// the lab (a runtime whose threads all enter the namespace at start). Not for the
    /// peer SDK: the engine's reactor threads are shared by the whole process, so a peer
    /// belongs in its own process (`NatLab::command`).
    pub fn enter(ns: &str) {
        use std::os::fd::AsRawFd;
        let path = format!("/var/run/netns/{ns}");
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
        // SAFETY: setns only reads the descriptor, which `file` keeps open for the call.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns into {ns}: {}", std::io::Error::last_os_error());
    }

    /// `program` run inside namespace `ns` (`ip netns exec`).
    pub fn command(ns: &str, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).arg(program);
        c
    }

    fn all(&self) -> [&String; 5] {
        [&self.public, &self.router_a, &self.router_b, &self.host_a, &self.host_b]
    }

    fn ip(&self, ns: &str, args: &[&str]) {
        let mut full = vec!["-n", ns];
        full.extend_from_slice(args);
        run("ip", &full);
    }

    fn exec(&self, ns: &str, program: &str, args: &[&str]) {
        let mut full = vec!["netns", "exec", ns, program];
        full.extend_from_slice(args);
        run("ip", &full);
    }

    /// Packets from the public side to addresses it has no route for (the LANs' private
    /// addresses, which peers announce as host candidates) vanish, as on the internet,
    /// instead of failing with "network unreachable": coturn tears down an allocation
    /// whose relayed send fails that way. The far end of a veth pair, reached through a
    /// permanent neighbour entry, is the black hole (no `dummy` driver is needed).
    fn black_hole_default_route(&self) {
        let public = self.public.as_str();
        self.ip(public, &["link", "add", "sinkv", "type", "veth", "peer", "name", "sinkp"]);
        self.ip(public, &["link", "set", "sinkv", "up"]);
        self.ip(public, &["link", "set", "sinkp", "up"]);
        let out = Command::new("ip")
            .args(["netns", "exec", public, "cat", "/sys/class/net/sinkp/address"])
            .output()
            .expect("read the sink's MAC address");
        let mac = String::from_utf8_lossy(&out.stdout).trim().to_string();
        self.ip(public, &["neigh", "replace", "169.254.99.2", "lladdr", &mac, "dev", "sinkv", "nud", "permanent"]);
        self.ip(public, &["route", "replace", "default", "via", "169.254.99.2", "dev", "sinkv", "onlink"]);
    }
}

impl Drop for NatLab {
    /// Ends every process still in the lab, then deletes the namespaces (and with them
    /// every link in them).
    fn drop(&mut self) {
        for ns in self.all() {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
        }
        for ns in self.all() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
