// The chat screen: entering and leaving a room, sending lines, "New window", and the
// session's events from the Channel that `join` opened (people joining, leaving and
// changing state, paths, safety numbers, messages, receipts, errors; file events go to
// files.js). Owns the people list (peers.js) and the certificate warning; the lines go
// to the log (log.js). Text
// from the network is set with textContent only.
"use strict";

(() => {
  const { invoke, $, show, screen } = window.PeerchatCommon;
  const { explain } = window.PeerchatErrors;
  const state = window.PeerchatState;
  const { addMessage, markLine, setWaiting, waitingText, addSystem, clearLog } = window.PeerchatLog;
  const history = window.PeerchatHistory;
  const typing = window.PeerchatTyping;
  let joinScreen = null; // join.js, given by init
  let unread = 0; // lines that came while the window did not have the focus

  // "(3) peerchat · ada · lobby": the unread count while the window is in the background.
  function setTitle() {
    const info = state.joined();
    const base = info ? "peerchat · " + info.name + " · " + info.room : "peerchat";
    document.title = (unread ? "(" + unread + ") " : "") + base;
  }

  const peers = new window.PeerchatPeers( // peers.js
    $("peer-list"),
    (peerId) => invoke("peer_path", { peerId }),
    (peerId, yes) => invoke(yes ? "verify_peer" : "unverify_peer", { peerId }),
  );

  function enterChat(info) {
    state.setJoined(info);
    state.setMyId(info.peerId);
    $("room-title").textContent = "# " + info.room;
    const me = "you are " + info.name + (info.local ? " · local server" : " · " + info.serverUrl);
    $("me").textContent = me;
    $("me").title = me; // the line is cut with an ellipsis in a narrow window
    $("signalling-security").hidden = !info.unencrypted;
    unread = 0;
    setTitle();
    screen("chat");
    show($("chat-error"), "");
    history.start(info);
  }

  function resetChat() {
    state.setJoined(null);
    history.reset();
    typing.clear();
    peers.clear();
    $("signalling-security").hidden = true;
    clearLog();
    $("peer-empty").hidden = false;
    $("reconnecting-banner").hidden = true;
    $("trust-warning").hidden = true;
    window.PeerchatFiles.reset();
    show($("chat-error"), "");
    unread = 0;
    setTitle();
  }

  function onEvent(ev) {
    if (window.PeerchatFiles.onEvent(ev)) return;
    switch (ev.event) {
      case "welcome":
        state.setMyId(ev.peerId);
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
          typing.stop(ev.from);
          if (!document.hasFocus()) {
            unread += 1;
            setTitle();
          }
          const written = ev.writtenMs && ev.writtenMs < ev.atMs ? ev.writtenMs : ev.atMs;
          addMessage({ self: false, from: ev.from, sender: ev.name || ev.from, text: ev.text, via: ev.via, at: written, arrived: ev.atMs });
        }
        break;
      case "typing":
        typing.start(ev.peerId, peerName(ev.peerId));
        break;
      case "peer-left": {
        typing.stop(ev.peerId);
        const p = peers.remove(ev.peerId);
        if (p) addSystem((p.name || ev.peerId) + " left");
        $("peer-empty").hidden = peers.size > 0;
        showTrustWarning();
        break;
      }
      case "signalling":
        $("reconnecting-banner").hidden = ev.state !== "reconnecting";
        break;
      case "delivered": {
        const li = $("message-log").querySelector(`li[data-id="${CSS.escape(ev.id)}"]`);
        const status = li && li.querySelector(".msg-status");
        const wasWaiting = !!status && /waiting for/.test(status.textContent);
        markLine(ev.id, "delivered", "✓", "received by " + peerName(ev.peerId));
        // A line kept for people who were away: say whom it still waits for.
        if (wasWaiting) {
          invoke("line_waiting", { id: ev.id }).then((names) => setWaiting(ev.id, names)).catch(() => {});
        }
        break;
      }
      case "error":
        if (ev.fatal) {
          resetChat();
          // The session is over: read where the app stands now (a revoked key, say)
          // before showing the join screen with the reason.
          invoke("app_status")
            .then((st) => state.setStatus(st))
            .catch(() => {})
            .finally(() => {
              joinScreen.showJoinScreen();
              show($("join-error"), explain(ev));
            });
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
    const changed = peers.changed();
    const banner = $("trust-warning");
    banner.hidden = changed.length === 0;
    if (changed.length) {
      const names = changed.map((p) => p.name || p.id).join(", ");
      banner.textContent = "⚠ " + names + (changed.length === 1 ? " shows" : " show") +
        " a different certificate than the one you verified. Someone may be intercepting your chat. Open their details and compare the safety number again.";
    }
  }

  function peerName(id) {
    const p = peers.get(id);
    return (p && p.name) || id || "a peer";
  }

  // Only `peer-joined` adds a person (see peers.js).
  function upsertPeer(id, patch, create) {
    if (peers.upsert(id, patch, create)) $("peer-empty").hidden = true;
  }

  // `screens.join` is join.js's object (the screen after leaving).
  function init(screens) {
    joinScreen = screens.join;
    window.PeerchatFiles.init(peerName);

    $("leave-button").addEventListener("click", async () => {
      await invoke("leave").catch(() => {});
      resetChat();
      let failed = null;
      try {
        state.setStatus(await invoke("app_status"));
      } catch (e) {
        failed = e;
      }
      joinScreen.showJoinScreen();
      if (failed) show($("join-error"), explain(failed));
    });

    window.addEventListener("focus", () => {
      unread = 0;
      setTitle();
    });

    $("new-window").addEventListener("click", () => {
      invoke("open_chat_window").catch((e) => show($("chat-error"), explain(e)));
    });

    $("send-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const input = $("message-input");
      const text = input.value;
      if (!text.trim()) return;
      try {
        const sent = await invoke("send_message", { text });
        input.value = "";
        show($("chat-error"), "");
        const waiting = waitingText(false, sent.waiting);
        const nobodyNow = !sent.p2p.length && !sent.server.length && !sent.queued.length;
        addMessage({
          self: true, id: sent.id, sender: state.joined().name, text, at: Date.now(), status: waiting,
          state: waiting && nobodyNow ? "waiting" : undefined,
          via: sent.p2p.length ? "p2p" : nobodyNow ? "outbox" : "server",
        });
        // A receipt may have come before this reply: say whom it still waits for.
        if (sent.waiting.length) {
          invoke("line_waiting", { id: sent.id }).then((names) => setWaiting(sent.id, names)).catch(() => {});
        }
        if (sent.notKept.length) {
          show($("chat-error"), "Not kept for " + sent.notKept.join(", ") + ": too many lines already wait for them (see Settings).");
        }
      } catch (e) {
        show($("chat-error"), explain(e));
      }
    });
  }

  window.PeerchatChat = { init, enterChat, resetChat, onEvent };
})();
