//! The physical limit on this machine: lossless UDP over loopback, 1200-byte datagrams
//! (a WebRTC-sized packet), 4 MiB socket buffers. The sender keeps at most 3/4 of the
//! receive buffer in flight (counted by the receiver), so nothing is dropped; a loss is
//! reported, never hidden.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DATAGRAM: usize = 1200;
const BUFFER: usize = 4 << 20;

pub struct Ceiling {
    pub mbps: f64,
    pub lost: u64,
}

fn socket() -> std::io::Result<UdpSocket> {
    let s = UdpSocket::bind("127.0.0.1:0")?;
    let r = socket2::SockRef::from(&s);
    r.set_recv_buffer_size(BUFFER)?;
    r.set_send_buffer_size(BUFFER)?;
    Ok(s)
}

/// Moves `total` bytes and returns the received rate.
pub fn measure(total: usize) -> std::io::Result<Ceiling> {
    let (tx, rx) = (socket()?, socket()?);
    tx.connect(rx.local_addr()?)?;
    rx.set_read_timeout(Some(Duration::from_secs(2)))?;
    let n = (total / DATAGRAM) as u64;
    let window = (BUFFER * 3 / 4 / DATAGRAM) as u64;
    let received = Arc::new(AtomicU64::new(0));
    let got = received.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let mut last = Instant::now();
        while got.load(Ordering::Relaxed) < n {
            match rx.recv(&mut buf) {
                Ok(_) => {
                    got.fetch_add(1, Ordering::Relaxed);
                    last = Instant::now();
                }
                Err(_) => break, // nothing for 2 s: the rest was lost
            }
        }
        last
    });
    let payload = [0x5au8; DATAGRAM];
    let start = Instant::now();
    for sent in 0..n {
        while sent - received.load(Ordering::Relaxed) >= window {
            std::hint::spin_loop();
        }
        tx.send(&payload)?;
    }
    let last = reader.join().unwrap_or(start);
    let delivered = received.load(Ordering::Relaxed);
    let secs = last.duration_since(start).as_secs_f64().max(1e-9);
    Ok(Ceiling { mbps: (delivered as usize * DATAGRAM) as f64 / secs / 1e6, lost: n - delivered })
}
