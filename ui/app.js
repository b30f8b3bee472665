// peerchat's chat page. It talks to the backend only through Tauri commands and the
// Channel that `join` opens; every text from the network is rendered with textContent,
// never as HTML.
"use strict";

(() => {
  const { invoke, Channel } = window.__TAURI__.core;
  const $ = (id) => document.getElementById(id);

  const ui = {
    status: null,
    joined: null,
    myId: null,
    peers: new window.PeerchatPeers( // peers.js
      $("peer-list"),
      (peerId) => invoke("peer_path", { peerId }),
      (peerId, yes) => invoke(yes ? "verify_peer" : "unverify_peer", { peerId }),
    ),
    marks: new window.PeerchatMarks(), // delivery marks on our own lines (marks.js)
  };

  // Messages the person sees for each error kind; anything else shows the backend's text.
  const KIND_TEXT = {
    invalid_key: "The server refused this key. Check it, or paste another.",
    origin_not_allowed: "This key may not be used from this app (origin not allowed).",
    bad_url: "That server address does not work: it must look like wss://host/v1.",
    plaintext_refused: "That server is on another computer but the address starts with ws://, which is not encrypted. Use wss://, or allow unencrypted connections in the settings.",
    tls: "The secure connection to the server failed: ",
    turn_credential_missing: "A TURN server in the settings has no credential stored; enter it again in the settings.",
    unreachable: "The signalling server does not answer. Is it running, and is the address right?",
    timeout: "The server did not answer in time.",
    connection_lost: "Cannot connect to the server.",
    keyring_unavailable: "The system keyring is not available, so the key cannot be saved. You can keep it for this session only.",
    keyring_denied: "The system keyring refused access (is it locked?). You can keep the key for this session only.",
    no_key: "No key is saved for this server yet.",
    no_peers: "Nobody else is in the room yet; the message was not sent.",
    key_revoked: "The server revoked this key.",
    too_many_connections: "This key has too many connections right now.",
    rate_limited: "Too many messages too fast; reconnecting to the server in a moment.",
    session_taken_over: "This session was opened elsewhere.",
    reconnect_gave_up: "Lost the server for good; join again to retry.",
    channel_full: "This room is full.",
    slow_down: "Too many room changes in a short time; try again in a moment.",
    over_message_quota: "This key has used up its message quota.",
    over_signal_quota: "This key has used up its signalling quota: new direct connections cannot be set up for now.",
  };

  function explain(err) {
    const kind = (err && err.kind) || "error";
    const message = (err && err.message) || String(err);
    if (kind === "tls") return KIND_TEXT.tls + message.replace(/^TLS: /, "") + ".";
    return KIND_TEXT[kind] || message;
  }

  function show(el, text) {
    el.textContent = text;
    el.hidden = !text;
  }

  function screen(name) {
    $("loading").hidden = true;
    for (const s of ["key", "join", "chat"]) $("screen-" + s).hidden = s !== name;
    const focus = { key: "server-url", join: "room-input", chat: "message-input" }[name];
    if (focus) $(focus).focus();
  }

  // ---- start -------------------------------------------------------------------------
  async function start() {
    try {
      ui.status = await invoke("app_status");
    } catch (e) {
      show($("key-error"), explain(e));
      screen("key");
      return;
    }
    const st = ui.status;
    renderKeyring(st);
    if (st.joined) return enterChat(st.joined);
    if (st.firstRun || (!st.local && !st.key)) return showKeyScreen();
    showJoinScreen();
    if (st.autoJoin) {
      $("room-input").value = st.autoJoin.room;
      $("name-input").value = st.autoJoin.name;
      join(false);
    }
  }

  function renderKeyring(st) {
    const n = $("keyring-notice");
    if (st.keyring.available) {
      n.hidden = true;
    } else {
      show(n, "The system keyring is not available (" + (st.keyring.message || "no Secret Service") +
        "). Keys can be kept for this session only.");
      $("session-only").checked = true;
    }
  }

  // ---- key screen --------------------------------------------------------------------
  function showKeyScreen() {
    const st = ui.status;
    if (st && !st.local) $("server-url").value = st.serverUrl;
    show($("key-error"), "");
    screen("key");
  }

  $("use-local").addEventListener("click", async () => {
    show($("key-error"), "");
    try {
      ui.status = await invoke("use_local_server", { sessionOnly: !ui.status.keyring.available });
      showJoinScreen();
    } catch (e) {
      show($("key-error"), explain(e));
    }
  });

  $("key-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    show($("key-error"), "");
    try {
      ui.status = await invoke("save_key", {
        serverUrl: $("server-url").value,
        key: $("key-input").value,
        sessionOnly: $("session-only").checked,
      });
      $("key-input").value = "";
      showJoinScreen();
    } catch (e) {
      show($("key-error"), explain(e));
      if (e && (e.kind === "keyring_unavailable" || e.kind === "keyring_denied")) $("session-only").checked = true;
    }
  });

  $("check-key").addEventListener("click", async () => {
    show($("key-error"), "");
    const btn = $("check-key");
    btn.disabled = true;
    try {
      await invoke("check_key", { serverUrl: $("server-url").value, key: $("key-input").value });
      show($("key-error"), "");
      btn.textContent = "Key works ✓";
    } catch (e) {
      show($("key-error"), explain(e));
      btn.textContent = "Check";
    } finally {
      btn.disabled = false;
    }
  });

  // ---- join screen -------------------------------------------------------------------
  function showJoinScreen() {
    const st = ui.status;
    const s = st.settings;
    if (!$("room-input").value) $("room-input").value = s.lastRoom || "lobby";
    if (!$("name-input").value) $("name-input").value = s.displayName || "";
    const where = st.local ? "Local server (this computer)" : st.serverUrl;
    const key = st.key ? " · key " + st.key.masked + (st.key.source === "session" ? " (this session only)" : "") : "";
    $("server-info").textContent = where + key;
    $("forget-key").hidden = !st.key;
    show($("join-error"), "");
    screen("join");
  }

  $("change-server").addEventListener("click", showKeyScreen);

  $("forget-key").addEventListener("click", async () => {
    try {
      ui.status = await invoke("forget_key");
      ui.status.local ? showJoinScreen() : showKeyScreen();
    } catch (e) {
      show($("join-error"), explain(e));
    }
  });

  $("join-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    join(false);
  });

  async function join(retried) {
    show($("join-error"), "");
    $("join-button").disabled = true;
    const channel = new Channel();
    channel.onmessage = onEvent;
    try {
      const info = await invoke("join", { room: $("room-input").value, name: $("name-input").value, onEvent: channel });
      enterChat(info);
    } catch (e) {
      const noKeyring = e && (e.kind === "keyring_unavailable" || e.kind === "keyring_denied");
      if (noKeyring && ui.status.local && retried !== true) {
        // The local server's key cannot be stored: keep it for this session and go on.
        try {
          ui.status = await invoke("use_local_server", { sessionOnly: true });
          renderKeyring(ui.status);
          show($("keyring-notice"), "No system keyring: the local server's key is kept for this session only.");
          return join(true);
        } catch (e2) {
          e = e2;
        }
      }
      show($("join-error"), explain(e));
      if (e && (e.kind === "no_key" || e.kind === "invalid_key")) {
        showKeyScreen();
        show($("key-error"), explain(e));
      }
    } finally {
      $("join-button").disabled = false;
    }
  }

  function enterChat(info) {
    ui.joined = info;
    ui.myId = info.peerId;
    $("room-title").textContent = "# " + info.room;
    const me = "you are " + info.name + (info.local ? " · local server" : " · " + info.serverUrl);
    $("me").textContent = me;
    $("me").title = me; // the line is cut with an ellipsis in a narrow window
    $("signalling-security").hidden = !info.unencrypted;
    document.title = "peerchat · " + info.name + " · " + info.room;
    screen("chat");
  }

  $("leave-button").addEventListener("click", async () => {
    await invoke("leave").catch(() => {});
    resetChat();
    ui.status = await invoke("app_status");
    showJoinScreen();
  });

  $("new-window").addEventListener("click", () => {
    invoke("open_chat_window").catch((e) => show($("chat-error"), explain(e)));
  });

  function resetChat() {
    ui.joined = null;
    ui.peers.clear();
    $("signalling-security").hidden = true;
    $("message-log").replaceChildren();
    ui.marks.clear();
    $("peer-empty").hidden = false;
    $("reconnecting-banner").hidden = true;
    $("trust-warning").hidden = true;
    show($("chat-error"), "");
    document.title = "peerchat";
  }

  // ---- chat --------------------------------------------------------------------------
  $("send-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = $("message-input");
    const text = input.value;
    if (!text.trim()) return;
    try {
      const sent = await invoke("send_message", { text });
      input.value = "";
      show($("chat-error"), "");
      addMessage({ self: true, id: sent.id, sender: ui.joined.name, text, via: sent.p2p.length ? "p2p" : "server", at: Date.now() });
    } catch (e) {
      show($("chat-error"), explain(e));
    }
  });

  function onEvent(ev) {
    switch (ev.event) {
      case "welcome":
        ui.myId = ev.peerId;
        break;
      case "peer-joined":
        upsertPeer(ev.peerId, { name: ev.name }, true);
        break;
      case "state-change": {
        const patch = { state: ev.to };
        if (ev.to !== "connected") patch.channelOpen = false;
        upsertPeer(ev.peerId, patch);
        break;
      }
      case "channel-open":
        upsertPeer(ev.peerId, { channelOpen: true });
        break;
      case "path":
        upsertPeer(ev.peerId, { path: ev });
        break;
      case "security":
        upsertPeer(ev.peerId, { security: ev });
        showTrustWarning();
        break;
      case "peer-renamed":
        upsertPeer(ev.peerId, { name: ev.name });
        break;
      case "message":
        if (ev.kind === "chat") {
          addMessage({ self: false, from: ev.from, sender: ev.name || ev.from, text: ev.text, via: ev.via, at: ev.atMs });
        }
        break;
      case "peer-left": {
        const p = ui.peers.remove(ev.peerId);
        if (p) addSystem((p.name || ev.peerId) + " left");
        $("peer-empty").hidden = ui.peers.size > 0;
        showTrustWarning();
        break;
      }
      case "signalling":
        $("reconnecting-banner").hidden = ev.state !== "reconnecting";
        break;
      case "delivered":
        markLine(ev.id, "delivered", "✓", "received by " + peerName(ev.peerId));
        break;
      case "error":
        if (ev.fatal) {
          resetChat();
          showJoinScreen();
          show($("join-error"), explain(ev));
        } else if (ev.kind === "overflow") {
          markLine(ev.id, "failed", "not delivered", "not delivered to " + peerName(ev.peerId));
          show($("chat-error"), "A message was dropped for " + peerName(ev.peerId) + ": their queue is full.");
        } else if (ev.kind === "not_delivered" || ev.kind === "send_failed") {
          markLine(ev.id, "failed", "not delivered", "not delivered to " + peerName(ev.peerId));
          show($("chat-error"), "A message did not reach " + peerName(ev.peerId) + ".");
        } else {
          show($("chat-error"), explain(ev));
        }
        break;
    }
  }

  // A loud banner while someone verified shows another certificate.
  function showTrustWarning() {
    const changed = ui.peers.changed();
    const banner = $("trust-warning");
    banner.hidden = changed.length === 0;
    if (changed.length) {
      const names = changed.map((p) => p.name || p.id).join(", ");
      banner.textContent = "⚠ " + names + (changed.length === 1 ? " shows" : " show") +
        " a different certificate than the one you verified. Someone may be intercepting your chat. Open their details and compare the safety number again.";
    }
  }

  function peerName(id) {
    const p = ui.peers.get(id);
    return (p && p.name) || id || "a peer";
  }

  // Only `peer-joined` adds a person (see peers.js).
  function upsertPeer(id, patch, create) {
    if (ui.peers.upsert(id, patch, create)) $("peer-empty").hidden = true;
  }

  function addMessage({ self, id, from, sender, text, via, at }) {
    const li = document.createElement("li");
    li.className = "msg " + (self ? "self" : "remote");
    li.dataset.testid = "message";
    li.dataset.via = via;
    if (from) li.dataset.from = from;
    if (id) li.dataset.id = id;
    const head = document.createElement("div");
    head.className = "msg-head";
    const who = document.createElement("span");
    who.className = "msg-sender";
    who.textContent = self ? sender + " (you)" : sender;
    const time = document.createElement("time");
    time.className = "msg-time";
    const d = new Date(at);
    time.dateTime = d.toISOString();
    time.textContent = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const badge = document.createElement("span");
    badge.className = "msg-via";
    badge.textContent = via === "p2p" ? "P2P" : "server";
    badge.title = via === "p2p" ? "came over a DataChannel, peer to peer" : "routed by the signalling server";
    head.append(who, time, badge);
    if (self) {
      const status = document.createElement("span");
      status.className = "msg-status";
      status.dataset.testid = "message-status";
      head.append(status);
    }
    const body = document.createElement("div");
    body.className = "msg-text";
    body.dataset.testid = "message-text";
    body.textContent = text;
    li.append(head, body);
    appendLog(li);
    // After the status span exists: a receipt may already have come for this line.
    if (id) ui.marks.attach(id, li);
  }

  // Delivery of our own lines: a receipt from any peer marks the line delivered; a peer
  // it did not reach marks it failed (that wins, so a partial failure stays visible).
  function markLine(id, state, text, title) {
    ui.marks.mark(id, { state, text, title });
  }

  function addSystem(text) {
    const li = document.createElement("li");
    li.className = "msg system";
    li.textContent = text;
    appendLog(li);
  }

  function appendLog(li) {
    const log = $("message-log");
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 30;
    log.append(li);
    while (log.children.length > 1000) {
      const old = log.firstElementChild;
      if (old.dataset.id) ui.marks.detach(old.dataset.id);
      old.remove();
    }
    if (atEnd) log.scrollTop = log.scrollHeight;
  }

  // ---- settings ----------------------------------------------------------------------
  $("open-settings").addEventListener("click", async () => {
    const s = await invoke("get_settings");
    $("set-server").value = s.serverUrl || "";
    $("set-name").value = s.displayName || "";
    // Credentials are never shown: the keyring keeps them.
    $("set-ice").value = s.iceServers.map((i) => [i.urls.join(","), i.username || ""].join(" ").trim()).join("\n");
    $("set-policy").value = s.iceTransportPolicy || "all";
    $("set-plaintext").checked = !!s.allowPlaintext;
    show($("settings-error"), "");
    $("settings-dialog").showModal();
  });

  $("settings-cancel").addEventListener("click", () => $("settings-dialog").close());

  $("settings-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const current = await invoke("get_settings");
    const iceServers = $("set-ice").value.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
      const [urls, username, credential] = l.split(/\s+/);
      return { urls: urls.split(","), username: username || undefined, credential: credential || undefined };
    });
    const server = $("set-server").value.trim();
    try {
      await invoke("set_settings", {
        settings: {
          ...current,
          serverUrl: server || null,
          displayName: $("set-name").value.trim(),
          iceServers,
          iceTransportPolicy: $("set-policy").value,
          allowPlaintext: $("set-plaintext").checked,
        },
      });
      $("settings-dialog").close();
      ui.status = await invoke("app_status");
      $("name-input").value = ui.status.settings.displayName;
      !ui.status.local && !ui.status.key ? showKeyScreen() : showJoinScreen();
    } catch (e) {
      show($("settings-error"), explain(e));
    }
  });

  // Ctrl+W (Cmd+W) closes this window; its session leaves the room first.
  document.addEventListener("keydown", (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && ev.key.toLowerCase() === "w") {
      ev.preventDefault();
      invoke("close_window").catch((e) => show($("chat-error"), explain(e)));
    }
  });

  start();
})();
