//! A TCP relay that a test can freeze: the connections it carries then stay open but
//! pass nothing on, as when a NAT or firewall on the path forgets them without telling
//! either end. Connections made after the freeze pass again. Threads, no runtime.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// How often a relay thread looks at its flags.
const TICK: Duration = Duration::from_millis(20);

pub struct FreezingProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    /// The frozen flag of every connection so far.
    conns: Arc<Mutex<Vec<Arc<AtomicBool>>>>,
}

impl FreezingProxy {
    /// Relays 127.0.0.1:`port()` to 127.0.0.1:`target`.
    pub fn start(target: u16) -> FreezingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("nonblocking listener");
        let port = listener.local_addr().expect("local address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<Arc<AtomicBool>>>> = Arc::default();
        let (s, c) = (stop.clone(), conns.clone());
        thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                        let frozen = Arc::new(AtomicBool::new(false));
                        c.lock().unwrap_or_else(|p| p.into_inner()).push(frozen.clone());
                        relay(client, server, frozen, s.clone());
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(TICK),
                    Err(_) => thread::sleep(TICK),
                }
            }
        });
        FreezingProxy { port, stop, conns }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every connection carried so far stops passing bytes (and stays open).
    pub fn freeze(&self) {
        for f in self.conns.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            f.store(true, Ordering::Relaxed);
        }
    }
}

impl Drop for FreezingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn relay(a: TcpStream, b: TcpStream, frozen: Arc<AtomicBool>, stop: Arc<AtomicBool>) {
    for (from, to) in [(a.try_clone(), b.try_clone()), (b.try_clone(), a.try_clone())] {
        let (Ok(mut from), Ok(mut to)) = (from, to) else { return };
        let (frozen, stop) = (frozen.clone(), stop.clone());
        thread::spawn(move || {
            let _ = from.set_read_timeout(Some(TICK));
            let mut buf = [0u8; 16 * 1024];
            while !stop.load(Ordering::Relaxed) {
                if frozen.load(Ordering::Relaxed) {
                    // Hold both sockets open, pass nothing.
                    thread::sleep(TICK);
                    continue;
                }
                match from.read(&mut buf) {
                    Ok(0) => break,
                    // Frozen while reading: what was read is withheld too.
                    Ok(_) if frozen.load(Ordering::Relaxed) => continue,
                    Ok(n) => {
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(_) => break,
                }
            }
            let _ = to.shutdown(std::net::Shutdown::Write);
        });
    }
}
