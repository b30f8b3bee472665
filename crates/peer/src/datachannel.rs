//! A backpressure-aware DataChannel over a raw engine channel.
//!
//! `send(..).await` is sequenced (concurrent sends go out in call order and never burst
//! the buffer), waits while the buffered amount would exceed `max_buffered_amount`, and
//! fails at once with [`DataChannelOverflowError`] when `max_queued_sends` sends are
//! already pending, so a producer can drop (game ticks) or throttle (file chunks).
//! Messages over the negotiated maximum size fail with [`DataChannelError::TooLarge`].
//!
//! What arrives is a separate stream, [`Messages`], handed out with the channel: the
//! handle stays cheap to clone for senders, and the one reader owns its stream.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Mutex, Notify};

use crate::engine::{ChannelEvent, RawChannel};

/// Incoming messages held before the engine is asked to wait.
const INCOMING_QUEUE: usize = 256;
/// Re-check interval while waiting for the buffer to drain (a safety net under the
/// buffered-amount-low event).
const DRAIN_POLL: Duration = Duration::from_millis(2);
/// Most messages in flight at once, whatever their size: small messages are paced by
/// count as well as by bytes. Measured again after the engine's fixes (BENCHMARKS.md):
/// floods of one-byte messages go about twice as fast with it as without.
const MAX_IN_FLIGHT_MESSAGES: usize = 4096;

/// Limits of a [`DataChannel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataChannelOptions {
    /// Most bytes buffered in the channel before `send` waits.
    pub max_buffered_amount: usize,
    /// Buffered amount at which waiting sends resume.
    pub buffered_amount_low_threshold: usize,
    /// Most sends pending at once; one more fails with an overflow error.
    pub max_queued_sends: usize,
}

impl Default for DataChannelOptions {
    fn default() -> Self {
        DataChannelOptions {
            max_buffered_amount: 1_048_576,
            buffered_amount_low_threshold: 524_288,
            max_queued_sends: 256,
        }
    }
}

/// A message on a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (the chat JSON travels as text).
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

impl Message {
    /// Payload size in bytes.
    pub fn len(&self) -> usize {
        match self {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::Text(s)
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Message::Text(s.to_string())
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Self {
        Message::Binary(b)
    }
}

/// A send refused because `max_queued_sends` sends were already pending.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "DataChannel overflow: {queued_sends} sends pending (max {max_queued_sends}), {buffered_amount} bytes buffered (max {max_buffered_amount}); message of {message_size} bytes not sent"
)]
pub struct DataChannelOverflowError {
    pub queued_sends: usize,
    pub max_queued_sends: usize,
    pub buffered_amount: usize,
    pub max_buffered_amount: usize,
    pub message_size: usize,
}

/// Errors of [`DataChannel::send`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DataChannelError {
    /// Too many sends pending; the message was not sent.
    #[error(transparent)]
    Overflow(#[from] DataChannelOverflowError),
    /// The message exceeds the largest message the connection carries.
    #[error("message of {size} bytes exceeds the maximum of {max}")]
    TooLarge { size: usize, max: usize },
    /// The channel is closed.
    #[error("the channel is closed")]
    Closed,
    /// The engine refused the send.
    #[error("{0}")]
    Engine(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Open,
    Closed,
}

struct Inner {
    raw: RawChannel,
    label: String,
    opts: DataChannelOptions,
    max_message_size: usize,
    order: Mutex<()>,
    pending: AtomicUsize,
    last_buffered: AtomicUsize,
    /// Upper bound of the buffered amount: the last reading plus what was sent since.
    /// Only the sender holding `order` touches it.
    estimate: Mutex<Estimate>,
    low: Notify,
    phase: watch::Receiver<Phase>,
    closed_here: std::sync::atomic::AtomicBool,
    /// The engine closed the channel before it ever opened (this side did not close it).
    open_failed: std::sync::atomic::AtomicBool,
}

/// The messages that arrive on a [`DataChannel`], in order. Dropping it discards what
/// arrives later; the channel stays open for sending.
#[derive(Debug)]
pub struct Messages {
    rx: mpsc::Receiver<Message>,
}

impl Messages {
    /// The next incoming message; `None` once the channel has closed.
    pub async fn recv(&mut self) -> Option<Message> {
        self.rx.recv().await
    }
}

/// A DataChannel with backpressure-aware sends. Cheap to clone.
#[derive(Clone)]
pub struct DataChannel {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DataChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataChannel").field("label", &self.inner.label).finish()
    }
}

/// What the sender knows about the buffer without asking the engine.
#[derive(Default)]
struct Estimate {
    bytes: usize,
    messages: usize,
}

struct PendingGuard<'a>(&'a AtomicUsize);

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl DataChannel {
    /// Wraps a raw channel. `open` says whether it is already open (channels announced
    /// by the other side are).
    pub(crate) async fn wrap(
        raw: RawChannel,
        opts: DataChannelOptions,
        max_message_size: usize,
        open: bool,
    ) -> (DataChannel, Messages) {
        let label = raw.label().await;
        raw.set_low_threshold(opts.buffered_amount_low_threshold.min(u32::MAX as usize) as u32).await;
        let (phase_tx, phase) = watch::channel(if open { Phase::Open } else { Phase::Connecting });
        let (msg_tx, msg_rx) = mpsc::channel(INCOMING_QUEUE);
        let inner = Arc::new(Inner {
            raw: raw.clone(),
            label,
            opts,
            max_message_size,
            order: Mutex::new(()),
            pending: AtomicUsize::new(0),
            last_buffered: AtomicUsize::new(0),
            estimate: Mutex::new(Estimate::default()),
            low: Notify::new(),
            phase,
            closed_here: std::sync::atomic::AtomicBool::new(false),
            open_failed: std::sync::atomic::AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            let mut was_open = open;
            while let Some(ev) = raw.next_event().await {
                match ev {
                    ChannelEvent::Open => {
                        was_open = true;
                        let _ = phase_tx.send(Phase::Open);
                    }
                    // Nobody reads (the stream was dropped): the message is discarded and
                    // the channel goes on, for sending.
                    ChannelEvent::Text(t) => drop(msg_tx.send(Message::Text(t)).await),
                    ChannelEvent::Binary(b) => drop(msg_tx.send(Message::Binary(b)).await),
                    ChannelEvent::BufferedAmountLow => {
                        if let Some(i) = weak.upgrade() {
                            i.low.notify_waiters();
                        }
                    }
                    ChannelEvent::Closed => break,
                }
            }
            if let Some(i) = weak.upgrade() {
                // Decided before `Closed` is published, so whoever sees `Closed` sees this.
                if !was_open && !i.closed_here.load(Ordering::Acquire) {
                    i.open_failed.store(true, Ordering::Release);
                }
            }
            let _ = phase_tx.send(Phase::Closed);
            if let Some(i) = weak.upgrade() {
                i.low.notify_waiters();
            }
        });
        (DataChannel { inner }, Messages { rx: msg_rx })
    }

    /// The channel's label.
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// The limits this channel enforces.
    pub fn options(&self) -> DataChannelOptions {
        self.inner.opts
    }

    /// Largest message this channel can carry.
    pub fn max_message_size(&self) -> usize {
        self.inner.max_message_size
    }

    /// Whether the channel is open.
    pub fn is_open(&self) -> bool {
        *self.inner.phase.borrow() == Phase::Open
    }

    /// Whether the channel has closed.
    pub fn is_closed(&self) -> bool {
        *self.inner.phase.borrow() == Phase::Closed
    }

    /// Sends that are pending right now (waiting or being written).
    pub fn queued_sends(&self) -> usize {
        self.inner.pending.load(Ordering::Acquire)
    }

    /// Bytes handed to the engine that the other side has not acknowledged yet (W3C
    /// `bufferedAmount`): 0 once everything sent so far has arrived there.
    pub async fn buffered_amount(&self) -> usize {
        self.inner.raw.buffered_amount().await
    }

    /// Waits until the channel is open; `Err(Closed)` if it closes first.
    pub async fn opened(&self) -> Result<(), DataChannelError> {
        let mut phase = self.inner.phase.clone();
        loop {
            match *phase.borrow_and_update() {
                Phase::Open => return Ok(()),
                Phase::Closed => return Err(DataChannelError::Closed),
                Phase::Connecting => {}
            }
            if phase.changed().await.is_err() {
                return Err(DataChannelError::Closed);
            }
        }
    }

    /// Waits until the channel has closed (at either end, or with its connection).
    pub async fn closed(&self) {
        let mut phase = self.inner.phase.clone();
        while *phase.borrow_and_update() != Phase::Closed {
            if phase.changed().await.is_err() {
                return;
            }
        }
    }

    /// Sends a message, waiting for buffer room; see the module docs.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<(), DataChannelError> {
        let msg = msg.into();
        let i = &*self.inner;
        let size = msg.len();
        if size > i.max_message_size {
            return Err(DataChannelError::TooLarge { size, max: i.max_message_size });
        }
        let before = i.pending.fetch_add(1, Ordering::AcqRel);
        let _guard = PendingGuard(&i.pending);
        if before >= i.opts.max_queued_sends {
            return Err(DataChannelOverflowError {
                queued_sends: before,
                max_queued_sends: i.opts.max_queued_sends,
                buffered_amount: i.last_buffered.load(Ordering::Acquire),
                max_buffered_amount: i.opts.max_buffered_amount,
                message_size: size,
            }
            .into());
        }
        let _turn = i.order.lock().await;
        self.opened().await?;
        let mut est = i.estimate.lock().await;
        // The estimate only grows between readings (acks shrink the real amount), so
        // while it leaves room the engine need not be asked.
        let fits = |bytes: usize, messages: usize| {
            (bytes == 0 || bytes + size <= i.opts.max_buffered_amount) && messages < MAX_IN_FLIGHT_MESSAGES
        };
        if !fits(est.bytes, est.messages) {
            loop {
                let notified = i.low.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let buffered = i.raw.buffered_amount().await;
                i.last_buffered.store(buffered, Ordering::Release);
                // Messages still in flight, assuming the ones sent since the last reading
                // are the ones outstanding (an upper bound for equal sizes).
                let avg = (est.bytes / est.messages.max(1)).max(1);
                let messages = buffered.div_ceil(avg).min(est.messages);
                if fits(buffered, messages) {
                    *est = Estimate { bytes: buffered, messages };
                    break;
                }
                if self.is_closed() {
                    return Err(DataChannelError::Closed);
                }
                let _ = tokio::time::timeout(DRAIN_POLL, notified).await;
            }
        }
        est.bytes += size;
        est.messages += 1;
        drop(est);
        let sent = match &msg {
            Message::Text(t) => i.raw.send_text(t).await,
            Message::Binary(b) => i.raw.send_binary(b).await,
        };
        sent.map_err(|e| if self.is_closed() { DataChannelError::Closed } else { DataChannelError::Engine(e.0) })
    }

    /// Closes the channel.
    pub async fn close(&self) {
        self.inner.closed_here.store(true, Ordering::Release);
        self.inner.raw.close().await;
    }

    /// Whether this side closed the channel.
    pub fn closed_here(&self) -> bool {
        self.inner.closed_here.load(Ordering::Acquire)
    }

    /// Whether the engine closed the channel before it opened (not this side).
    pub(crate) fn open_failed(&self) -> bool {
        self.inner.open_failed.load(Ordering::Acquire)
    }
}
