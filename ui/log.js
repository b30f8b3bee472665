// The chat screen's message log: our lines and other people's (their text set with
// textContent only), system lines ("ada left"), the last 1,000 lines kept, scrolled to
// the end when it was there (lines of this session; history pages stay); the delivery marks on our own lines (marks.js); lines from
// the history above a "this session starts here" mark, older pages on request. New lines
// from others are announced to screen readers in a live region of their own, so the
// history a page shows is never read out.
"use strict";

(() => {
  const { $ } = window.PeerchatCommon;
  const marks = new window.PeerchatMarks(); // delivery marks on our own lines (marks.js)
  const MAX_LINES = 1000;

  // A line element. `status` is the starting text of our own line's delivery status.
  function lineElement({ self, id, from, sender, text, via, at, arrived, status, state }) {
    const li = document.createElement("li");
    li.className = "msg " + (self ? "self" : "remote");
    li.dataset.testid = "message";
    li.dataset.via = via;
    if (from) li.dataset.from = from;
    if (id) li.dataset.id = id;
    if (state) li.dataset.delivery = state;
    const head = document.createElement("div");
    head.className = "msg-head";
    const who = document.createElement("span");
    who.className = "msg-sender";
    who.textContent = self ? sender + " (you)" : sender;
    const time = document.createElement("time");
    time.className = "msg-time";
    const d = new Date(at);
    time.dateTime = d.toISOString();
    const today = new Date().toDateString() === d.toDateString();
    time.textContent = today
      ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
    if (arrived && arrived - at > 60000) {
      // A line that waited for us: written then, arrived now.
      time.title = "written " + d.toLocaleString() + ", arrived " + new Date(arrived).toLocaleString();
      time.textContent += " (arrived later)";
    }
    const badge = document.createElement("span");
    badge.className = "msg-via";
    const badges = {
      p2p: ["P2P", "came over a DataChannel, peer to peer"],
      server: ["server", "routed by the signalling server"],
      outbox: ["kept", "kept on this computer for someone who is away; it goes to them when they are back"],
    };
    [badge.textContent, badge.title] = badges[via] || badges.server;
    head.append(who, time, badge);
    if (self) {
      const s = document.createElement("span");
      s.className = "msg-status";
      s.dataset.testid = "message-status";
      s.textContent = status || "";
      head.append(s);
    }
    const body = document.createElement("div");
    body.className = "msg-text";
    body.dataset.testid = "message-text";
    body.textContent = text;
    li.append(head, body);
    return li;
  }

  // A line said in this session, at the end of the log.
  function addMessage(line) {
    const li = lineElement(line);
    appendLog(li);
    // After the status span exists: a receipt may already have come for this line.
    if (line.id && line.self) marks.attach(line.id, li);
    if (!line.self) announce(line.sender + ": " + line.text);
  }

  // Kept lines (newest first, as the history gives them) above everything shown, with
  // the "session starts here" mark under the first page.
  function addHistory(lines, first) {
    const log = $("message-log");
    const fromBottom = log.scrollHeight - log.scrollTop;
    let anchor = log.querySelector(".history-line, .session-start") || log.firstElementChild;
    const more = $("older-lines");
    if (more && anchor === more) anchor = more.nextElementSibling;
    if (first && lines.length) {
      const mark = document.createElement("li");
      mark.className = "msg system session-start";
      mark.dataset.testid = "session-start";
      mark.textContent = "This session starts here";
      log.insertBefore(mark, anchor);
      anchor = mark;
    }
    for (const l of lines) {
      const li = lineElement({
        self: l.mine, id: l.id, sender: l.sender, text: l.text, via: l.via, at: l.atMs,
        status: statusText(l), state: deliveryState(l),
      });
      li.classList.add("history-line");
      li.dataset.testid = "history-line";
      log.insertBefore(li, anchor);
      if (l.mine && l.id) marks.attach(l.id, li);
      anchor = li;
    }
    // Keep what the person was looking at in place.
    log.scrollTop = log.scrollHeight - fromBottom;
  }

  function deliveryState(l) {
    if (l.state === "not_delivered") return "failed";
    if (l.state === "delivered") return "delivered";
    return l.waiting.length ? "waiting" : undefined;
  }

  function statusText(l) {
    if (!l.mine) return "";
    if (l.state === "not_delivered") return "not delivered";
    return waitingText(l.state === "delivered", l.waiting) || "sent";
  }

  // Our line's status: ✓ once someone has it, and whom it still waits for.
  function waitingText(delivered, names) {
    const waiting = names.length ? "waiting for " + names.join(", ") : "";
    if (delivered) return waiting ? "✓ · " + waiting : "✓";
    return waiting;
  }

  // The "Show older lines" button at the top, while there are older lines.
  function setOlder(onClick) {
    let li = $("older-lines");
    if (!onClick) {
      if (li) li.remove();
      return;
    }
    if (!li) {
      li = document.createElement("li");
      li.id = "older-lines";
      li.className = "older";
      const b = document.createElement("button");
      b.type = "button";
      b.className = "link";
      b.dataset.testid = "older-lines";
      b.textContent = "Show older lines";
      li.append(b);
      $("message-log").prepend(li);
    }
    li.firstElementChild.onclick = onClick;
  }

  // Delivery of our own lines: a receipt from any peer marks the line delivered; a peer
  // it did not reach marks it failed (that wins, so a partial failure stays visible).
  function markLine(id, state, text, title) {
    marks.mark(id, { state, text, title });
  }

  // Our line `id` still waits for `names` (the outbox), after a receipt came.
  function setWaiting(id, names) {
    const li = $("message-log").querySelector(`li[data-id="${CSS.escape(id)}"]`);
    const s = li && li.querySelector(".msg-status");
    if (!s || li.dataset.delivery === "failed") return;
    s.textContent = waitingText(li.dataset.delivery === "delivered", names);
  }

  function addSystem(text) {
    const li = document.createElement("li");
    li.className = "msg system";
    li.textContent = text;
    appendLog(li);
    announce(text);
  }

  function announce(text) {
    const live = $("log-announcer");
    live.textContent = "";
    live.textContent = text;
  }

  function appendLog(li) {
    const log = $("message-log");
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 30;
    log.append(li);
    // Lines of this session beyond the bound go, oldest first; the history pages the
    // person asked for stay (the "older lines" cursor stays right).
    const live = "li.msg:not(.history-line):not(.session-start)";
    while (log.querySelectorAll(live).length > MAX_LINES) {
      const old = log.querySelector(live);
      if (old.dataset.id) marks.detach(old.dataset.id);
      old.remove();
    }
    if (atEnd) log.scrollTop = log.scrollHeight;
  }

  // Empties the log and forgets every mark (the session ended).
  function clearLog() {
    $("message-log").replaceChildren();
    $("log-announcer").textContent = "";
    marks.clear();
  }

  window.PeerchatLog = { addMessage, addHistory, setOlder, markLine, setWaiting, waitingText, addSystem, clearLog };
})();
