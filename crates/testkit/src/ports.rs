//! Free loopback ports for servers that must be told a port (nginx, coturn).

use std::net::{TcpListener, UdpSocket};

/// A TCP port that was free on 127.0.0.1 a moment ago (the OS hands out ephemeral ports
/// in turn, so it is not reused at once).
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free TCP port").port()
}

/// A port free for both TCP and UDP on `ip`, for servers that listen on both (TURN).
pub fn free_tcp_udp_port(ip: &str) -> u16 {
    for _ in 0..100 {
        let Ok(udp) = UdpSocket::bind((ip, 0)) else { continue };
        let port = udp.local_addr().expect("bound").port();
        if TcpListener::bind((ip, port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both TCP and UDP on {ip}");
}
