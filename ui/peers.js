// The people in the room: one entry each, with their connection state and the path the
// chat takes to them in plain words ("direct", "direct through NAT", "relayed via TURN",
// with the round-trip time), and a details view with the full figures, refreshed while
// it is open. Text from the network is set with textContent only.
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
    // `list` is the <ul>; `fetchPath(peerId)` resolves to the backend's PathView or null.
    constructor(list, fetchPath) {
      this.list = list;
      this.fetchPath = fetchPath;
      this.map = new Map(); // peerId -> entry
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
      const name = document.createElement("span");
      name.className = "peer-name";
      const meta = document.createElement("span");
      meta.className = "peer-meta";
      const state = document.createElement("span");
      state.dataset.testid = "peer-state";
      const path = document.createElement("span");
      path.dataset.testid = "peer-path";
      meta.append(state, " · ", path);
      summary.append(name, meta);
      const figures = document.createElement("dl");
      figures.className = "peer-details";
      figures.dataset.testid = "peer-details";
      details.append(summary, figures);
      li.append(details);
      this.list.append(li);
      const p = { id, name: "", state: "idle", channelOpen: false, path: null, li, details, figures, nameEl: name, stateEl: state, pathEl: path, timer: null };
      details.addEventListener("toggle", () => this.toggled(p));
      this.map.set(id, p);
      return p;
    }

    render(p) {
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
