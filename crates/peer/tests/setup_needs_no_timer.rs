//! What the engine's core produces while its events are handled (the SCTP INIT when DTLS
//! completes, a channel's OPEN when the association comes up) leaves in the same pass of
//! the engine's driver, not when a timer next wakes it (vendor patch webrtc 0004), and the
//! DTLS client's first flight leaves as soon as ICE selects a pair (rtc 0002).
//!
//! Two connections run on the engine's mock runtime: an in-memory network and virtual
//! clocks that only this test moves. It moves them 1 ms at a time, and only when every
//! engine task is idle (none running, none woken), so all that happens between two moves
//! is what the engine does without a timer. Once ICE has its pair on both sides, nothing
//! else needs a timer: the DTLS handshake, the SCTP handshake and the channel's OPEN and
//! ACK are each an answer to a packet. A packet left for a timer shows as virtual time
//! passing: with the published crates the ClientHello waited for ICE's next check (20 ms
//! here, 200 ms with the engine's default) and the SCTP INIT for the driver's next timer
//! (200 ms with the engine's default ICE settings).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use webrtc::data_channel::{DataChannel, RTCDataChannelState};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceCandidateInit, RTCIceConnectionState,
    RTCPeerConnectionIceEvent, RTCPeerConnectionState, SettingEngineBuilder,
};
use webrtc::runtime::mock::{MockRuntime, MockUDPNetwork, VirtualClock};
use webrtc::runtime::{AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, Runtime};

/// The clocks' step.
const STEP: Duration = Duration::from_millis(1);
/// Virtual time allowed for the whole setup (ICE's checks are paced by timers).
const SETUP_WITHIN: Duration = Duration::from_secs(20);
/// Real time the engine may take to fall idle after a step: a bound, never a wait.
const IDLE_WITHIN: Duration = Duration::from_secs(10);

/// How many engine tasks are running or woken. Zero means the engine waits for what only
/// the test can do: move a clock.
#[derive(Debug, Default)]
struct Activity {
    busy: Mutex<usize>,
    changed: Condvar,
}

impl Activity {
    fn add(&self) {
        *self.busy.lock().unwrap() += 1;
    }

    fn remove(&self) {
        let mut busy = self.busy.lock().unwrap();
        *busy -= 1;
        if *busy == 0 {
            self.changed.notify_all();
        }
    }

    /// Blocks until no engine task runs or is woken; `Err` with how many still are when
    /// `IDLE_WITHIN` passes first.
    fn wait_idle(&self) -> Result<(), usize> {
        let busy = self.busy.lock().unwrap();
        let (busy, _) = self.changed.wait_timeout_while(busy, IDLE_WITHIN, |b| *b > 0).unwrap();
        if *busy == 0 {
            Ok(())
        } else {
            Err(*busy)
        }
    }
}

/// Where one task is; every state but `Idle` and `Done` counts as busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaskState {
    Idle,
    Woken,
    Running,
    RunningWoken,
    Done,
}

/// One task's state, kept in step with [`Activity`].
struct Task {
    state: Mutex<TaskState>,
    activity: Arc<Activity>,
}

impl Task {
    fn spawned(activity: Arc<Activity>) -> Arc<Task> {
        activity.add();
        Arc::new(Task { state: Mutex::new(TaskState::Woken), activity })
    }

    fn woken(&self) {
        let mut s = self.state.lock().unwrap();
        match *s {
            TaskState::Idle => {
                self.activity.add();
                *s = TaskState::Woken;
            }
            TaskState::Running => *s = TaskState::RunningWoken,
            TaskState::Woken | TaskState::RunningWoken | TaskState::Done => {}
        }
    }

    fn polling(&self) {
        let mut s = self.state.lock().unwrap();
        if *s == TaskState::Idle {
            // Polled without a wake of ours (the executor's own first poll, say).
            self.activity.add();
        }
        *s = TaskState::Running;
    }

    fn polled(&self, ready: bool) {
        let mut s = self.state.lock().unwrap();
        let woken_meanwhile = *s == TaskState::RunningWoken;
        *s = match (ready, woken_meanwhile) {
            (true, _) => TaskState::Done,
            (false, true) => TaskState::Woken,
            (false, false) => TaskState::Idle,
        };
        if ready || !woken_meanwhile {
            self.activity.remove();
        }
    }

    fn dropped(&self) {
        let mut s = self.state.lock().unwrap();
        if matches!(*s, TaskState::Woken | TaskState::Running | TaskState::RunningWoken) {
            self.activity.remove();
        }
        *s = TaskState::Done;
    }
}

/// The waker a tracked task's future sees: marks the task woken, then wakes the executor.
struct TaskWaker {
    task: Arc<Task>,
    inner: Waker,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.task.woken();
        self.inner.wake_by_ref();
    }
}

/// A spawned future whose polls and wakes are counted.
struct Tracked {
    future: Pin<Box<dyn Future<Output = ()> + Send>>,
    task: Arc<Task>,
}

impl Future for Tracked {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let task = self.task.clone();
        task.polling();
        let waker = Waker::from(Arc::new(TaskWaker { task: task.clone(), inner: cx.waker().clone() }));
        let poll = self.future.as_mut().poll(&mut Context::from_waker(&waker));
        task.polled(poll.is_ready());
        poll
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.task.dropped();
    }
}

/// The mock runtime, with every task it runs counted in [`Activity`].
#[derive(Debug)]
struct Counted {
    inner: MockRuntime,
    activity: Arc<Activity>,
}

impl Runtime for Counted {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        let task = Task::spawned(self.activity.clone());
        self.inner.spawn(Box::pin(Tracked { future, task }))
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> std::io::Result<Arc<dyn AsyncUdpSocket>> {
        self.inner.wrap_udp_socket(socket)
    }

    fn wrap_tcp_listener(&self, listener: std::net::TcpListener) -> std::io::Result<Arc<dyn AsyncTcpListener>> {
        self.inner.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: std::net::SocketAddr,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        self.inner.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<std::net::SocketAddr>>> + Send + 'a>> {
        self.inner.resolve_host(host)
    }

    fn now(&self) -> std::time::Instant {
        self.inner.now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.inner.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.inner.block_on(future)
    }
}

/// What one side reported, at which virtual time.
struct Recorder {
    clock: Arc<VirtualClock>,
    ice_at: Mutex<Option<Duration>>,
    connected_at: Mutex<Option<Duration>>,
    channel_at: Mutex<Option<Duration>>,
    candidates: Mutex<Vec<RTCIceCandidateInit>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Recorder {
    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        if state == RTCPeerConnectionState::Connected {
            self.connected_at.lock().unwrap().get_or_insert(self.clock.elapsed());
        }
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        if state == RTCIceConnectionState::Connected {
            self.ice_at.lock().unwrap().get_or_insert(self.clock.elapsed());
        }
    }

    async fn on_data_channel(&self, _channel: Arc<dyn DataChannel>) {
        self.channel_at.lock().unwrap().get_or_insert(self.clock.elapsed());
    }

    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(c) = event.candidate.to_json() {
            self.candidates.lock().unwrap().push(c);
        }
    }
}

struct Side {
    pc: Arc<dyn PeerConnection>,
    clock: Arc<VirtualClock>,
    rec: Arc<Recorder>,
}

impl Side {
    async fn build(network: &Arc<MockUDPNetwork>, activity: &Arc<Activity>) -> Side {
        let inner = MockRuntime::with_network(network.clone());
        let clock = inner.clock();
        let rec = Arc::new(Recorder {
            clock: clock.clone(),
            ice_at: Mutex::new(None),
            connected_at: Mutex::new(None),
            channel_at: Mutex::new(None),
            candidates: Mutex::new(Vec::new()),
        });
        // Two sides on one mock network cannot share mDNS's fixed port; ICE paced as the
        // SDK paces it.
        let setting = SettingEngineBuilder::new()
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
            .with_ice_connection_attempts(Some(Duration::from_millis(20)), Some(50))
            .with_prflx_acceptance_min_wait(Some(Duration::ZERO))
            .build();
        let pc = PeerConnectionBuilder::new()
            .with_setting_engine(setting)
            .with_runtime(Arc::new(Counted { inner, activity: activity.clone() }))
            .with_handler(rec.clone())
            .with_udp_addrs(vec!["127.0.0.1:0"])
            .build()
            .await
            .expect("a connection builds on the mock runtime");
        Side { pc: Arc::new(pc), clock, rec }
    }

    /// Hands this side's new candidates to `other`; whether there were any.
    async fn trickle_to(&self, other: &Side) -> bool {
        let candidates = std::mem::take(&mut *self.rec.candidates.lock().unwrap());
        let any = !candidates.is_empty();
        for c in candidates {
            other.pc.add_ice_candidate(c).await.expect("a candidate of the other side is taken");
        }
        any
    }
}

fn idle(activity: &Activity) {
    if let Err(busy) = activity.wait_idle() {
        panic!("{busy} engine tasks still busy {IDLE_WITHIN:?} after the last step");
    }
}

#[test]
fn a_channel_opens_at_the_instant_ice_has_its_pair_on_both_sides_without_waiting_for_a_timer() {
    let network = Arc::new(MockUDPNetwork::new());
    let activity = Arc::new(Activity::default());
    let main = MockRuntime::new();
    main.block_on(Box::pin(async {
        let a = Side::build(&network, &activity).await;
        let b = Side::build(&network, &activity).await;
        let channel = a.pc.create_data_channel("chat", None).await.expect("a channel");
        let offer = a.pc.create_offer(None).await.unwrap();
        a.pc.set_local_description(offer.clone()).await.unwrap();
        b.pc.set_remote_description(offer).await.unwrap();
        let answer = b.pc.create_answer(None).await.unwrap();
        b.pc.set_local_description(answer.clone()).await.unwrap();
        a.pc.set_remote_description(answer).await.unwrap();

        let opened_at = loop {
            idle(&activity);
            let (to_b, to_a) = (a.trickle_to(&b).await, b.trickle_to(&a).await);
            if to_b || to_a {
                continue;
            }
            let open = channel.ready_state().await.unwrap() == RTCDataChannelState::Open;
            if open && b.rec.channel_at.lock().unwrap().is_some() {
                break a.clock.elapsed();
            }
            assert!(a.clock.elapsed() < SETUP_WITHIN, "the channel did not open in {SETUP_WITHIN:?} of virtual time");
            a.clock.advance(STEP);
            b.clock.advance(STEP);
        };

        let at = |f: fn(&Recorder) -> Option<Duration>| [f(&a.rec), f(&b.rec)];
        let ice = at(|r| *r.ice_at.lock().unwrap());
        let connected = at(|r| *r.connected_at.lock().unwrap());
        let answered = *b.rec.channel_at.lock().unwrap();
        let timeline = format!(
            "virtual times: ICE connected {ice:?}, connected {connected:?}, the channel at the answerer {answered:?}, open at the offerer {opened_at:?}"
        );
        eprintln!("{timeline}");
        let ice_both = ice.iter().map(|t| t.expect("ICE connected before the channel opened")).max().unwrap();
        assert_eq!(
            opened_at.saturating_sub(ice_both),
            Duration::ZERO,
            "something waited for a timer after ICE had its pair on both sides ({timeline})"
        );
    }));
}
