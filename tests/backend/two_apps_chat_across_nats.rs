//! Two app instances on two home networks chat across every topology of the NAT lab
//! (`peerchat_testkit::netlab`; needs root, as CI runs), with the path each one shows
//! asserted:
//! 1. MASQUERADE routers: "direct through NAT";
//! 2. symmetric routers (`--random-fully`): "relayed via TURN";
//! 3. UDP blocked: no peer connection can form (the engine has no TURN over TCP), and
//!    the lines go through the signalling server instead, marked as such.
//!
//! Each instance is its own process inside its host's namespace (`ip netns exec` of this
//! test binary, running [`app_instance`]): the engine's reactor threads are shared by the
//! whole process, so two instances in one process cannot sit on two networks. The
//! parent drives each over stdin (`send TEXT`, `path PEER`, `quit`) and reads its chat
//! events as JSON lines, the form the UI receives. The signalling server runs in the
//! parent, on a runtime whose threads entered the public namespace; coturn beside it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use peerchat_testkit::coturn::Coturn;
use peerchat_testkit::netlab::{Nat, NatLab, PUBLIC_IP};
use serde_json::{json, Value};

use crate::support::{app, window, WAIT};

const KEY: &str = "pk_nat_apps";
const SECRET: &str = "app-natlab-turn-secret-0123456789";
const CHILD: &str = "two_apps_chat_across_nats::app_instance";

/// One app instance: run by the tests below as a child process inside a namespace
/// (`PEERCHAT_LAB_URL`, `PEERCHAT_LAB_NAME`); ignored in a plain run, where it has no lab.
#[test]
#[ignore = "an app instance in a lab namespace, started as a child process by the NAT tests"]
fn app_instance() {
    let url = std::env::var("PEERCHAT_LAB_URL").expect("started by a NAT test");
    let name = std::env::var("PEERCHAT_LAB_NAME").expect("started by a NAT test");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let (t, _store) = app();
        let b = t.backend.clone();
        let mut s = b.get_settings();
        s.allow_plaintext = true; // the lab has no certificates
        b.save_settings(s).await.unwrap();
        b.save_key("main", &url, KEY, true).await.unwrap();
        let (mut w, sink) = window("main");
        let joined = b.join("main", "lobby", &name, sink).await.unwrap();
        println!("{}", json!({"joined": joined.peer_id, "unencrypted": joined.unencrypted}));
        let (tx, mut commands) = tokio::sync::mpsc::channel::<String>(16);
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines().map_while(Result::ok) {
                if tx.blocking_send(line).is_err() {
                    return;
                }
            }
        });
        loop {
            tokio::select! {
                ev = w.next() => match ev {
                    Some(ev) => println!("{}", serde_json::to_string(&ev).unwrap()),
                    None => break,
                },
                cmd = commands.recv() => match cmd.as_deref().map(|c| c.split_once(' ').unwrap_or((c, ""))) {
                    Some(("send", text)) => println!("{}", json!({"sent": b.send_message("main", text).await.unwrap()})),
                    Some(("path", peer)) => println!("{}", json!({"path": b.peer_path("main", peer).await.unwrap()})),
                    _ => break,
                },
            }
        }
        b.shutdown().await;
    });
}

/// A running instance: its stdin, and its JSON lines as they come.
struct Instance {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<Value>,
    id: String,
}

impl Instance {
    fn start(ns: &str, url: &str, name: &str) -> Instance {
        let me = std::env::current_exe().unwrap();
        let mut child = NatLab::command(ns, me)
            .args(["--exact", CHILD, "--ignored", "--nocapture", "--test-threads", "1"])
            .env("PEERCHAT_LAB_URL", url)
            .env("PEERCHAT_LAB_NAME", name)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the instance starts");
        let stdin = child.stdin.take().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            // libtest's own output is not JSON: skipped ("running 1 test"), or cut off
            // where it shares a line with ours ("test …::app_instance ... {").
            for l in out.lines().map_while(Result::ok) {
                let Some(at) = l.find('{') else { continue };
                if tx.send(serde_json::from_str::<Value>(&l[at..]).unwrap()).is_err() {
                    return;
                }
            }
        });
        let mut i = Instance { child, stdin, lines, id: String::new() };
        let joined = i.expect("joined", |v| v.get("joined").is_some());
        assert_eq!(joined["unencrypted"], true, "the lab's plain ws:// is flagged");
        i.id = joined["joined"].as_str().unwrap().to_string();
        i
    }

    /// The first line `f` accepts, within [`WAIT`].
    fn expect(&mut self, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) if f(&v) => return v,
                Ok(v) => seen.push(v),
                Err(_) => panic!("no {what} within {WAIT:?}; saw {seen:?}"),
            }
        }
    }

    fn ask(&mut self, command: &str, reply: &str) -> Value {
        writeln!(self.stdin, "{command}").unwrap();
        self.expect(reply, |v| v.get(reply).is_some())[reply].clone()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The signalling server (on threads inside the public namespace) and coturn.
struct Public {
    _rt: tokio::runtime::Runtime,
    _turn: Coturn,
    url: String,
}

fn public_side(lab: &NatLab) -> Public {
    let turn = Coturn::start(Some(&lab.public), PUBLIC_IP, 3478, SECRET, "peerchat.test");
    let text = peerchat_testkit::netlab::server_toml(KEY, SECRET, &turn.url());
    let file = signal_server::FileConfig::parse(&text, "lab").unwrap();
    let cfg = signal_server::Config::build(file, None, vec![]).unwrap();
    let ns = lab.public.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .on_thread_start(move || NatLab::enter(&ns))
        .build()
        .unwrap();
    // Spawned, so the listener is bound on a thread inside the namespace.
    let server = rt.block_on(rt.spawn(signal_server::Server::spawn(cfg))).unwrap().expect("the server binds");
    Public { url: server.url(), _rt: rt, _turn: turn }
}

fn is_event(v: &Value, event: &str) -> bool {
    v["event"] == event
}

/// Both instances show the other's path as `route` in `words`, then a line goes each way
/// over the peer connection.
fn chat_over(nat: Nat, route: &str, words: &str) {
    let lab = NatLab::new(nat);
    let public = public_side(&lab);
    let mut a = Instance::start(&lab.host_a, &public.url, "alice");
    let mut b = Instance::start(&lab.host_b, &public.url, "bob");
    let (a_id, b_id) = (a.id.clone(), b.id.clone());
    for (i, other) in [(&mut a, &b_id), (&mut b, &a_id)] {
        i.expect("the channel", |v| is_event(v, "channel-open") && v["peerId"] == *other);
        let path = i.ask(&format!("path {other}"), "path");
        assert_eq!((path["route"].as_str(), path["words"].as_str()), (Some(route), Some(words)), "{path}");
        // Never the other side's LAN address: the LANs are not routed.
        assert!(path["remoteAddress"].as_str().unwrap().starts_with("10.250.0."), "{path}");
    }
    line_over_p2p(&mut a, &mut b, "over the NATs");
    line_over_p2p(&mut b, &mut a, "and back");
}

fn line_over_p2p(from: &mut Instance, to: &mut Instance, line: &str) {
    let sent = from.ask(&format!("send {line}"), "sent");
    assert_eq!(sent["p2p"].as_array().unwrap().len(), 1, "{sent}");
    let got = to.expect(line, |v| is_event(v, "message") && v["text"] == line);
    assert_eq!(got["via"], "p2p", "{got}");
}

#[test]
fn two_apps_behind_two_nats_chat_directly_through_the_mappings() {
    chat_over(Nat::Masquerade, "direct-through-nat", "direct through NAT");
}

#[test]
fn two_apps_behind_symmetric_nats_chat_through_the_turn_relay() {
    chat_over(Nat::RandomFully, "relayed", "relayed via TURN");
}

#[test]
fn with_udp_blocked_two_apps_still_chat_through_the_signalling_server() {
    let lab = NatLab::new(Nat::Masquerade);
    lab.block_udp();
    let public = public_side(&lab);
    let mut a = Instance::start(&lab.host_a, &public.url, "alice");
    let mut b = Instance::start(&lab.host_b, &public.url, "bob");
    // Bob knows alice's name (her hello came through the server); her line follows it.
    b.expect("alice's hello", |v| is_event(v, "message") && v["kind"] == "hello" && v["name"] == "alice");
    let sent = a.ask("send no UDP here", "sent");
    assert!(sent["p2p"].as_array().unwrap().is_empty() && sent["server"].as_array().unwrap().len() == 1, "{sent}");
    let got = b.expect("the line", |v| is_event(v, "message") && v["text"] == "no UDP here");
    assert_eq!(got["via"], "server", "{got}");
    assert!(b.ask(&format!("path {}", a.id), "path").is_null(), "no path without a peer connection");
}
