//! The engine's runtime: tokio, with bigger UDP socket buffers and a fast wake-up while
//! a connection is being set up.
//!
//! The kernel's default UDP receive buffer (~208 KiB here) overflows under a burst of
//! DataChannel traffic; every datagram dropped there costs SCTP a retransmission whose
//! timer starts at 1 s.
//!
//! The fast wake-up caps every driver sleep at [`FAST_WAKE`] while a connection is set
//! up. It was a workaround for packets the engine queued without waking its driver (the
//! SCTP INIT when DTLS completed left ~200 ms late); those are fixed at their cause in the
//! vendored engine (vendor/README.md, rtc 0002 and webrtc 0004), and setup's median no
//! longer needs it. Measured again after the fixes (`peerchat-bench --rows engine`),
//! setup p90 was still 25 ms without it against 10-11 ms with it: some wake-up is still
//! missed in a few setups, not traced yet, so it stays. Waking early is harmless (the
//! driver only handles timers that are due). The SDK arms it when a connection is built
//! or restarts ICE and disarms it once the connection is up, so an idle connection keeps
//! the engine's own timer schedule. Everything else is delegated
//! to the engine's own tokio runtime.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, Runtime, TokioRuntime,
};

/// Longest driver sleep while [`FastWake`] is armed.
pub(crate) const FAST_WAKE: Duration = Duration::from_millis(5);

/// Whether one connection's driver wakes at least every [`FAST_WAKE`] (armed at first).
#[derive(Debug, Clone)]
pub(crate) struct FastWake(Arc<AtomicBool>);

impl FastWake {
    pub fn armed() -> Self {
        FastWake(Arc::new(AtomicBool::new(true)))
    }

    pub fn arm(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn disarm(&self) {
        self.0.store(false, Ordering::Relaxed);
    }

    pub fn is_armed(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Tokio with socket buffers of `buffer` bytes (the kernel may cap them, see
/// `net.core.rmem_max`), for one connection.
#[derive(Debug)]
pub(crate) struct TunedRuntime {
    inner: TokioRuntime,
    buffer: usize,
    fast_wake: FastWake,
}

impl TunedRuntime {
    pub fn shared(buffer: usize, fast_wake: FastWake) -> Arc<dyn Runtime> {
        Arc::new(TunedRuntime { inner: TokioRuntime, buffer, fast_wake })
    }
}

impl Runtime for TunedRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.inner.spawn(future)
    }

    fn spawn_reactor(&self, size: usize, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.inner.spawn_reactor(size, future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        let sock = socket2::SockRef::from(&socket);
        if let Err(e) = sock.set_recv_buffer_size(self.buffer) {
            tracing::debug!(error = %e, "could not raise the UDP receive buffer");
        }
        if let Err(e) = sock.set_send_buffer_size(self.buffer) {
            tracing::debug!(error = %e, "could not raise the UDP send buffer");
        }
        self.inner.wrap_udp_socket(socket)
    }

    fn wrap_tcp_listener(&self, listener: std::net::TcpListener) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.inner.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        self.inner.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        self.inner.resolve_host(host)
    }

    fn now(&self) -> std::time::Instant {
        self.inner.now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let duration = if self.fast_wake.is_armed() { duration.min(FAST_WAKE) } else { duration };
        self.inner.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.inner.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.inner.block_on(future)
    }

    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.yield_now()
    }

    fn name(&self) -> &'static str {
        "tokio-tuned"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn slept(rt: &Arc<dyn Runtime>, d: Duration) -> Duration {
        let t = tokio::time::Instant::now();
        rt.sleep(d).await;
        t.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn an_armed_runtime_wakes_within_the_fast_wake_and_a_disarmed_one_sleeps_in_full() {
        let fast = FastWake::armed();
        let rt = TunedRuntime::shared(1 << 20, fast.clone());
        assert_eq!(slept(&rt, Duration::from_millis(200)).await, FAST_WAKE);
        assert_eq!(slept(&rt, Duration::from_millis(2)).await, Duration::from_millis(2));
        fast.disarm();
        assert_eq!(slept(&rt, Duration::from_millis(200)).await, Duration::from_millis(200));
        fast.arm();
        assert_eq!(slept(&rt, Duration::from_secs(1)).await, FAST_WAKE);
    }
}
