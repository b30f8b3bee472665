// "ada is typing…": who is writing a line, under the log. Each peer's note shows for
// 5 s after its last report, and goes at once with that peer's next line or when the
// peer leaves. While the person types, the backend is told at most once a second (the
// session itself sends a note to the peers at most every 3 s).
"use strict";

(() => {
  const { invoke, $ } = window.PeerchatCommon;
  const SHOWN_FOR_MS = 5000;
  const typing = new Map(); // peer id -> { name, timer }
  let lastTold = 0;

  function render() {
    const names = [...typing.values()].map((t) => t.name);
    const el = $("typing");
    el.textContent =
      names.length === 0 ? "" :
      names.length === 1 ? names[0] + " is typing…" :
      names.length <= 3 ? names.slice(0, -1).join(", ") + " and " + names[names.length - 1] + " are typing…" :
      "Several people are typing…";
  }

  function stop(peerId) {
    const t = typing.get(peerId);
    if (!t) return;
    clearTimeout(t.timer);
    typing.delete(peerId);
    render();
  }

  function start(peerId, name) {
    const t = typing.get(peerId);
    if (t) clearTimeout(t.timer);
    typing.set(peerId, { name, timer: setTimeout(() => stop(peerId), SHOWN_FOR_MS) });
    render();
  }

  function clear() {
    for (const t of typing.values()) clearTimeout(t.timer);
    typing.clear();
    render();
  }

  function init() {
    $("message-input").addEventListener("input", () => {
      const now = Date.now();
      if (!$("message-input").value.trim() || now - lastTold < 1000) return;
      lastTold = now;
      invoke("typing").catch(() => {}); // a note that does not go out changes nothing
    });
  }

  window.PeerchatTyping = { init, start, stop, clear };
})();
