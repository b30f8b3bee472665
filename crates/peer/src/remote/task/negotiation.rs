//! Negotiation: offers, answers and candidates of one remote peer, with generations and
//! perfect negotiation (the polite side rolls back on glare).

use peerchat_protocol::signal::{IceCandidate, SessionDescription, SignalBody, SignalPayload};
use tokio::time::Instant;

use super::{Input, Task, MAX_PENDING_CANDIDATES};
use crate::path::CandidateKind;

impl Task {
    pub(super) async fn on_signal(&mut self, p: SignalPayload) {
        if p.gen < self.gen {
            tracing::debug!(peer = %self.id, gen = p.gen, current = self.gen, "stale signal dropped");
            return;
        }
        self.highest_gen = self.highest_gen.max(p.gen);
        match p.body {
            SignalBody::Description(d) if d.kind == "offer" => self.on_offer(p.gen, d).await,
            SignalBody::Description(d) if d.kind == "answer" => {
                if p.gen != self.gen {
                    return;
                }
                let Some(conn) = &self.conn else { return };
                if !conn.has_local_offer().await {
                    tracing::debug!(peer = %self.id, "answer without a pending offer dropped");
                    return;
                }
                if let Err(e) = conn.set_remote(&d).await {
                    tracing::warn!(peer = %self.id, error = %e, "bad answer");
                    return;
                }
                self.flush_candidates().await;
                let offer_pending = self.offer_pending().await;
                self.feed(Input::Negotiated { offer_pending }).await;
            }
            SignalBody::Description(d) => {
                tracing::debug!(peer = %self.id, kind = %d.kind, "unsupported description ignored")
            }
            SignalBody::Candidate(None) => {}
            SignalBody::Candidate(Some(c)) => {
                let ready = p.gen == self.gen && matches!(&self.conn, Some(conn) if conn.has_remote().await);
                if ready {
                    if let Some(conn) = &self.conn {
                        if let Err(e) = conn.add_candidate(&c).await {
                            tracing::debug!(peer = %self.id, error = %e, "candidate rejected");
                        }
                    }
                    // The candidate may name the peer-reflexive end of the path.
                    let prflx = self.path_tx.borrow().as_ref().is_some_and(|p| p.remote == CandidateKind::Prflx);
                    if prflx {
                        self.refresh_path().await;
                    }
                } else {
                    if self.pending.len() >= MAX_PENDING_CANDIDATES {
                        self.pending.pop_front();
                        tracing::warn!(peer = %self.id, "too many early candidates; dropping the oldest");
                    }
                    self.pending.push_back((p.gen, c));
                }
            }
        }
    }

    async fn on_offer(&mut self, gen: u64, offer: SessionDescription) {
        if !self.offers.take(Instant::now()) {
            let refused = self.offers.dropped();
            // Said once per run (and every 100th), not once per offer.
            if refused == 1 || refused.is_multiple_of(100) {
                tracing::warn!(peer = %self.id, gen, refused, "offers beyond this peer's budget: only the newest waits");
            }
            self.deferred_offer = Some((gen, offer));
            return;
        }
        // An offer acted on supersedes any older one still waiting.
        if self.deferred_offer.as_ref().is_some_and(|(g, _)| *g <= gen) {
            self.deferred_offer = None;
        }
        if gen > self.gen || self.conn.is_none() {
            // The other side (re)built its connection: answer on a fresh one.
            if !self.new_conn(gen).await {
                self.rec.connection_failed();
                return;
            }
            self.feed(Input::RemoteRebuilt).await;
        }
        let Some(conn) = &self.conn else { return };
        let collision = self.making_offer || conn.has_local_offer().await;
        if collision {
            if !self.polite {
                tracing::debug!(peer = %self.id, "glare: impolite side ignores the offer");
                return;
            }
            if let Err(e) = conn.rollback().await {
                tracing::warn!(peer = %self.id, error = %e, "rollback failed");
            }
        }
        if let Err(e) = conn.set_remote(&offer).await {
            tracing::warn!(peer = %self.id, error = %e, "bad offer");
            return;
        }
        self.flush_candidates().await;
        let Some(conn) = &self.conn else { return };
        match conn.answer().await {
            Ok(answer) => self.send_signal(SignalBody::Description(answer)),
            Err(e) => tracing::warn!(peer = %self.id, error = %e, "answer failed"),
        }
        let offer_pending = self.offer_pending().await;
        self.feed(Input::Negotiated { offer_pending }).await;
    }

    /// The budget allows the offer that waited: act on it, unless a newer connection
    /// made it stale meanwhile.
    pub(super) async fn on_deferred_offer(&mut self) {
        let Some((gen, offer)) = self.deferred_offer.take() else { return };
        if gen >= self.gen {
            self.on_offer(gen, offer).await;
        }
    }

    async fn flush_candidates(&mut self) {
        let Some(conn) = &self.conn else { return };
        let gen = self.gen;
        let now: Vec<IceCandidate> = self.pending.iter().filter(|(g, _)| *g == gen).map(|(_, c)| c.clone()).collect();
        self.pending.retain(|(g, _)| *g > gen);
        for c in now {
            if let Err(e) = conn.add_candidate(&c).await {
                tracing::debug!(peer = %self.id, error = %e, "queued candidate rejected");
            }
        }
    }
}
