//! The embedded signalling server, started the way the app starts it, answers on
//! 127.0.0.1 and cannot be reached through this machine's other addresses.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::support::{app, routed_address};

#[tokio::test]
async fn embedded_server_is_loopback_only() {
    let (t, _store) = app();
    let status = t.backend.use_local_server("main", false).await.unwrap();
    let port: u16 = status.server_url.rsplit(':').next().unwrap().trim_end_matches("/v1").parse().unwrap();
    let wait = Duration::from_secs(2);
    assert!(TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), wait).is_ok(), "loopback answers");
    let other = SocketAddr::new(routed_address(), port);
    let err = match TcpStream::connect_timeout(&other, wait) {
        Ok(_) => panic!("the embedded server answered on {other}"),
        Err(e) => e,
    };
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{other}: {err}");
    t.backend.shutdown().await;
}
