// What every screen of the chat page uses: the backend's commands (Tauri's `invoke`, and
// the `Channel` that carries a session's events), elements by id, a message line shown
// only while it has text, and switching between the key, join and chat screens.
"use strict";

(() => {
  const { invoke, Channel } = window.__TAURI__.core;
  const $ = (id) => document.getElementById(id);

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

  window.PeerchatCommon = { invoke, Channel, $, show, screen };
})();
