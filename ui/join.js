// The join screen: a room and a name, the server and key in use (with "Change server or
// key" and "Forget key"), and joining: `join` opens the Channel the session's events
// come on (chat.js reads them) and, on success, the chat screen follows. Errors go to
// #join-error; a refused or missing key goes back to the key screen, saying why.
"use strict";

(() => {
  const { invoke, Channel, $, show, screen } = window.PeerchatCommon;
  const { explain } = window.PeerchatErrors;
  const state = window.PeerchatState;
  let keyScreen = null; // key.js, given by init
  let chatScreen = null; // chat.js, given by init

  function showJoinScreen() {
    const st = state.status();
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

  async function join(retried) {
    show($("join-error"), "");
    $("join-button").disabled = true;
    const channel = new Channel();
    channel.onmessage = chatScreen.onEvent;
    try {
      const info = await invoke("join", { room: $("room-input").value, name: $("name-input").value, onEvent: channel });
      chatScreen.enterChat(info);
    } catch (e) {
      const noKeyring = e && (e.kind === "keyring_unavailable" || e.kind === "keyring_denied");
      if (noKeyring && state.status().local && retried !== true) {
        // The local server's key cannot be stored: keep it for this session and go on.
        try {
          state.setStatus(await invoke("use_local_server", { sessionOnly: true }));
          keyScreen.renderKeyring(state.status());
          show($("keyring-notice"), "No system keyring: the local server's key is kept for this session only.");
          return join(true);
        } catch (e2) {
          e = e2;
        }
      }
      show($("join-error"), explain(e));
      if (e && (e.kind === "no_key" || e.kind === "invalid_key")) {
        keyScreen.showKeyScreen();
        show($("key-error"), explain(e));
      }
    } finally {
      $("join-button").disabled = false;
    }
  }

  // `screens.key` is key.js's object, `screens.chat` chat.js's.
  function init(screens) {
    keyScreen = screens.key;
    chatScreen = screens.chat;

    $("change-server").addEventListener("click", keyScreen.showKeyScreen);

    $("forget-key").addEventListener("click", async () => {
      try {
        state.setStatus(await invoke("forget_key"));
        state.status().local ? showJoinScreen() : keyScreen.showKeyScreen();
      } catch (e) {
        show($("join-error"), explain(e));
      }
    });

    $("join-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      join(false);
    });
  }

  window.PeerchatJoin = { init, showJoinScreen, join };
})();
