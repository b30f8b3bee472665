// The chat screen's message log: our lines and other people's (their text set with
// textContent only), system lines ("ada left"), the last 1,000 lines kept, scrolled to
// the end when it was there; and the delivery marks on our own lines (marks.js).
"use strict";

(() => {
  const { $ } = window.PeerchatCommon;
  const marks = new window.PeerchatMarks(); // delivery marks on our own lines (marks.js)

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
    if (id) marks.attach(id, li);
  }

  // Delivery of our own lines: a receipt from any peer marks the line delivered; a peer
  // it did not reach marks it failed (that wins, so a partial failure stays visible).
  function markLine(id, state, text, title) {
    marks.mark(id, { state, text, title });
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
      if (old.dataset.id) marks.detach(old.dataset.id);
      old.remove();
    }
    if (atEnd) log.scrollTop = log.scrollHeight;
  }

  // Empties the log and forgets every mark (the session ended).
  function clearLog() {
    $("message-log").replaceChildren();
    marks.clear();
  }

  window.PeerchatLog = { addMessage, markLine, addSystem, clearLog };
})();
