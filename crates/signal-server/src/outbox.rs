//! The queue of frames from the hub to one connection's task: bounded, the hub never
//! waits on it, and it allocates nothing while empty. (A tokio channel allocates a block
//! of 32 slots when it is made, ~1.3 KiB for every idle connection.)
//!
//! One sender (the hub's entry for the connection) and one receiver (the connection's
//! task). Dropping the sender ends the receiver's stream once it has taken what is
//! queued; closing or dropping the receiver makes every later send fail with the frame
//! given back, so the hub can keep what must survive the socket.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::hub::Outbound;

/// A queue that grew past this many slots gives them back once it is empty again.
const KEEP_SLOTS: usize = 64;

/// Why a frame was not queued; the frame comes back.
#[derive(Debug)]
pub enum SendError {
    /// The queue holds its limit: the connection is not keeping up.
    Full(Outbound),
    /// The connection's task closed its end.
    Closed(Outbound),
}

struct Shared {
    state: Mutex<State>,
    ready: Notify,
    cap: usize,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Outbound>,
    receiver_closed: bool,
    sender_gone: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned one still holds a valid queue.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A queue of at most `cap` frames.
pub fn outbox(cap: usize) -> (Sender, Receiver) {
    let shared = Arc::new(Shared { state: Mutex::new(State::default()), ready: Notify::new(), cap });
    (Sender(shared.clone()), Receiver(shared))
}

/// The hub's end.
pub struct Sender(Arc<Shared>);

impl Sender {
    /// Queues `o` without waiting.
    pub fn try_send(&self, o: Outbound) -> Result<(), SendError> {
        let mut s = self.0.lock();
        if s.receiver_closed {
            return Err(SendError::Closed(o));
        }
        if s.queue.len() >= self.0.cap {
            return Err(SendError::Full(o));
        }
        s.queue.push_back(o);
        drop(s);
        self.0.ready.notify_one();
        Ok(())
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.0.lock().sender_gone = true;
        self.0.ready.notify_one();
    }
}

/// The connection task's end.
pub struct Receiver(Arc<Shared>);

impl Receiver {
    /// The next frame; `None` once the sender is gone and the queue is empty. Cancel-safe:
    /// a frame is taken only when this returns it.
    pub async fn recv(&mut self) -> Option<Outbound> {
        loop {
            {
                let mut s = self.0.lock();
                if let Some(o) = take(&mut s) {
                    return Some(o);
                }
                if s.sender_gone {
                    return None;
                }
            }
            // A send between the check and this wait left a permit: no wake-up is lost.
            self.0.ready.notified().await;
        }
    }

    /// The next frame if one is queued.
    pub fn try_recv(&mut self) -> Option<Outbound> {
        take(&mut self.0.lock())
    }

    /// Refuses every later send; what is queued can still be taken.
    pub fn close(&mut self) {
        self.0.lock().receiver_closed = true;
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.close();
    }
}

fn take(s: &mut State) -> Option<Outbound> {
    let o = s.queue.pop_front();
    if s.queue.is_empty() && s.queue.capacity() > KEEP_SLOTS {
        s.queue = VecDeque::new();
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::Utf8Bytes;

    fn frame(n: usize) -> Outbound {
        Outbound { text: Utf8Bytes::from(n.to_string()), replay: n.is_multiple_of(2) }
    }

    #[tokio::test]
    async fn frames_arrive_in_order_and_the_end_follows_the_last() {
        let (tx, mut rx) = outbox(8);
        for n in 0..5 {
            tx.try_send(frame(n)).unwrap();
        }
        drop(tx);
        for n in 0..5 {
            assert_eq!(rx.recv().await.unwrap().text.as_str(), n.to_string());
        }
        assert!(rx.recv().await.is_none());
    }

    #[test]
    fn a_full_queue_gives_the_frame_back() {
        let (tx, _rx) = outbox(2);
        tx.try_send(frame(0)).unwrap();
        tx.try_send(frame(1)).unwrap();
        match tx.try_send(frame(2)) {
            Err(SendError::Full(o)) => assert_eq!(o.text.as_str(), "2"),
            other => panic!("expected Full, got {other:?}"),
        }
    }

    #[test]
    fn a_closed_receiver_refuses_sends_but_keeps_what_was_queued() {
        let (tx, mut rx) = outbox(4);
        tx.try_send(frame(0)).unwrap();
        rx.close();
        match tx.try_send(frame(1)) {
            Err(SendError::Closed(o)) => assert!(!o.replay),
            other => panic!("expected Closed, got {other:?}"),
        }
        assert_eq!(rx.try_recv().unwrap().text.as_str(), "0");
        assert!(rx.try_recv().is_none());
        drop(rx);
        assert!(matches!(tx.try_send(frame(2)), Err(SendError::Closed(_))));
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_a_send_from_another_task() {
        let (tx, mut rx) = outbox(4);
        let waiter = tokio::spawn(async move { rx.recv().await.map(|o| o.text.to_string()) });
        tokio::task::yield_now().await;
        tx.try_send(frame(7)).unwrap();
        assert_eq!(waiter.await.unwrap().as_deref(), Some("7"));
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_when_the_sender_goes() {
        let (tx, mut rx) = outbox(4);
        let waiter = tokio::spawn(async move { rx.recv().await.is_none() });
        tokio::task::yield_now().await;
        drop(tx);
        assert!(waiter.await.unwrap());
    }

    #[test]
    fn an_emptied_queue_that_grew_gives_its_slots_back() {
        let (tx, mut rx) = outbox(1000);
        for n in 0..500 {
            tx.try_send(frame(n)).unwrap();
        }
        while rx.try_recv().is_some() {}
        assert_eq!(rx.0.lock().queue.capacity(), 0);
    }
}
