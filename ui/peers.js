// The people in the room: one entry each, with their connection state and the path the
// chat takes to them in plain words ("direct", "direct through NAT", "relayed via TURN",
// with the round-trip time), and a details view with the full figures, refreshed while
// it is open; and the safety number two people compare to know that nobody sits between
// them, with a button to mark the peer verified. Text from the network is set with
// textContent only.
"use strict";

(() => {
  const WORDS = { "direct": "direct", "direct-through-nat": "direct through NAT", "relayed": "relayed via TURN" };
  const KIND = { host: "own address", srflx: "address mapped by a NAT (STUN)", prflx: "address mapped by a NAT", relay: "TURN relay", unknown: "unknown" };
  const REFRESH_MS = 2000;

  function rtt(ms) {
    return ms == null ? "" : " · " + (ms < 10 ? ms.toFixed(1) : Math.round(ms)) + " ms";
  }

  function bytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KiB";
    return (n / 1024 / 1024).toFixed(1) + " MiB";
  }

  class Peers {
    // `list` is the <ul>; `fetchPath(peerId)` resolves to the backend's PathView or null;
    // `setVerified(peerId, yes)` marks a peer verified (or forgets it) and resolves once
    // done (the new state arrives as a `security` event).
    constructor(list, fetchPath, setVerified) {
      this.list = list;
      this.fetchPath = fetchPath;
      this.setVerified = setVerified;
      this.map = new Map(); // peerId -> entry
    }

    // Peers whose certificate changed since the person verified them.
    changed() {
      return [...this.map.values()].filter((p) => p.security && p.security.trust === "changed");
    }

    get size() { return this.map.size; }
    get(id) { return this.map.get(id); }

    clear() {
      for (const p of this.map.values()) clearInterval(p.timer);
      this.map.clear();
      this.list.replaceChildren();
    }

    remove(id) {
      const p = this.map.get(id);
      if (!p) return null;
      clearInterval(p.timer);
      p.li.remove();
      this.map.delete(id);
      return p;
    }

    // Only `create` adds a person: late events about someone who left must not bring
    // them back.
    upsert(id, patch, create) {
      let p = this.map.get(id);
      if (!p && !create) return null;
      if (!p) p = this.add(id);
      Object.assign(p, patch);
      if (patch.state && patch.state !== "connected") p.path = null;
      this.render(p);
      return p;
    }

    add(id) {
      const li = document.createElement("li");
      li.dataset.peerId = id;
      li.dataset.testid = "peer";
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.dataset.testid = "peer-summary";
      const name = document.createElement("span");
      name.className = "peer-name";
      const meta = document.createElement("span");
      meta.className = "peer-meta";
      const state = document.createElement("span");
      state.dataset.testid = "peer-state";
      const path = document.createElement("span");
      path.dataset.testid = "peer-path";
      const trust = document.createElement("span");
      trust.dataset.testid = "peer-trust-badge";
      meta.append(state, " · ", path, trust);
      summary.append(name, meta);
      const figures = document.createElement("dl");
      figures.className = "peer-details";
      figures.dataset.testid = "peer-details";
      const safety = this.safetyView(id);
      // Files for this person only (the "Send file" button under the log goes to everyone).
      const send = document.createElement("button");
      send.type = "button";
      send.textContent = "Send a file…";
      send.dataset.testid = "send-file-to-peer";
      send.addEventListener("click", () => window.PeerchatFiles.pick(id));
      details.append(summary, figures, send, safety.box);
      li.append(details);
      this.list.append(li);
      const p = { id, name: "", state: "idle", channelOpen: false, path: null, security: null, li, details, figures, safety, nameEl: name, stateEl: state, pathEl: path, trustEl: trust, timer: null };
      details.addEventListener("toggle", () => this.toggled(p));
      this.map.set(id, p);
      return p;
    }

    // The safety number part of the details view.
    safetyView(id) {
      const box = document.createElement("section");
      box.className = "peer-safety";
      box.dataset.testid = "peer-safety";
      const title = document.createElement("h3");
      title.textContent = "Safety number";
      const number = document.createElement("code");
      number.dataset.testid = "safety-number";
      const trust = document.createElement("p");
      trust.dataset.testid = "peer-trust";
      const hint = document.createElement("p");
      hint.className = "muted";
      hint.textContent = "Compare this number with them in person or on a call. If both screens show the same digits, nobody between you can read your chat.";
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.testid = "verify-peer";
      const error = document.createElement("p");
      error.className = "error";
      error.setAttribute("role", "alert");
      error.hidden = true;
      button.addEventListener("click", async () => {
        const p = this.map.get(id);
        if (!p || !p.security) return;
        button.disabled = true;
        try {
          await this.setVerified(id, p.security.trust !== "verified");
          error.hidden = true;
        } catch (e) {
          error.textContent = (e && e.message) || String(e);
          error.hidden = false;
        }
        button.disabled = false;
      });
      box.append(title, number, trust, hint, button, error);
      return { box, number, trust, button };
    }

    renderSafety(p) {
      const s = p.security;
      p.safety.box.dataset.trust = s ? s.trust : "";
      p.li.dataset.trust = s ? s.trust : "";
      p.trustEl.textContent = !s ? "" : s.trust === "verified" ? " · ✓ verified" : s.trust === "changed" ? " · ⚠ certificate changed" : "";
      p.trustEl.className = s ? "trust-" + s.trust : "";
      if (!s) {
        p.safety.number.textContent = "not known yet: it appears once you are connected";
        p.safety.trust.textContent = "";
        p.safety.button.hidden = true;
        return;
      }
      p.safety.number.textContent = s.safetyNumber;
      p.safety.trust.textContent = {
        unverified: "Not verified yet.",
        verified: "Verified: you compared this number with " + (p.name || p.id) + ".",
        changed: "Warning: " + (p.name || p.id) + " now shows a different certificate than the one you verified. Someone may be intercepting your chat, or they reinstalled peerchat. Compare the number again before you trust them.",
      }[s.trust];
      p.safety.button.hidden = false;
      p.safety.button.textContent = s.trust === "verified" ? "Forget verification" : "Mark as verified";
    }

    render(p) {
      this.renderSafety(p);
      p.nameEl.textContent = p.name || p.id;
      p.stateEl.textContent = p.state;
      p.stateEl.className = "state-" + p.state;
      let words = "via server";
      if (p.channelOpen) words = p.path ? WORDS[p.path.route] + rtt(p.path.rttMs) : "peer-to-peer";
      p.pathEl.textContent = words;
      p.li.dataset.state = p.state;
      p.li.dataset.path = p.channelOpen ? "p2p" : "server";
      p.li.dataset.route = p.channelOpen && p.path ? p.path.route : "";
      if (p.details.open) this.renderFigures(p);
    }

    renderFigures(p) {
      const rows = [];
      const path = p.path;
      if (!p.channelOpen || !path) {
        rows.push(["Path", "no direct connection yet: messages go through the signalling server"]);
      } else {
        rows.push(["Path", WORDS[path.route]]);
        rows.push(["Your end", KIND[path.local] + ", " + path.localAddress + " (" + path.protocol + ")"]);
        rows.push(["Their end", KIND[path.remote] + ", " + path.remoteAddress]);
        rows.push(["Round trip", path.rttMs == null ? "measuring…" : path.rttMs + " ms"]);
        if (path.bytesSent != null) rows.push(["Sent / received", bytes(path.bytesSent) + " / " + bytes(path.bytesReceived)]);
      }
      p.figures.replaceChildren(...rows.flatMap(([k, v]) => {
        const dt = document.createElement("dt");
        dt.textContent = k;
        const dd = document.createElement("dd");
        dd.textContent = v;
        return [dt, dd];
      }));
    }

    // The details view shows the latest figures and refreshes them while open.
    toggled(p) {
      clearInterval(p.timer);
      p.timer = null;
      if (!p.details.open) return;
      const refresh = async () => {
        try {
          const view = await this.fetchPath(p.id);
          if (view || p.state !== "connected") p.path = view;
        } catch (_) {
          // The session ended; the next event resets the list.
        }
        this.render(p);
      };
      refresh();
      p.timer = setInterval(refresh, REFRESH_MS);
    }
  }

  window.PeerchatPeers = Peers;
})();
