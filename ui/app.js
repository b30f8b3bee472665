// peerchat's chat page, started. Each screen has its own file (key.js, join.js, chat.js,
// settings.js, over common.js, errors.js, state.js and log.js); this one wires them
// together, adds Ctrl+W, and asks the backend where to begin. The page talks to the
// backend only through Tauri commands and the Channel that `join` opens; every text from
// the network is rendered with textContent, never as HTML.
"use strict";

(() => {
  const { invoke, $, show, screen } = window.PeerchatCommon;
  const { explain } = window.PeerchatErrors;
  const state = window.PeerchatState;
  const keyScreen = window.PeerchatKey;
  const joinScreen = window.PeerchatJoin;
  const chatScreen = window.PeerchatChat;
  const settingsDialog = window.PeerchatSettings;

  // The app's status decides the first screen: the chat this window is in, the key
  // screen, or the join screen (joining at once when started with a room).
  async function start() {
    try {
      state.setStatus(await invoke("app_status"));
    } catch (e) {
      show($("key-error"), explain(e));
      screen("key");
      return;
    }
    const st = state.status();
    keyScreen.renderKeyring(st);
    if (st.joined) return chatScreen.enterChat(st.joined);
    if (st.firstRun || (!st.local && !st.key)) return keyScreen.showKeyScreen();
    joinScreen.showJoinScreen();
    if (st.autoJoin) {
      $("room-input").value = st.autoJoin.room;
      $("name-input").value = st.autoJoin.name;
      joinScreen.join(false);
    }
  }

  keyScreen.init({ join: joinScreen });
  joinScreen.init({ key: keyScreen, chat: chatScreen });
  chatScreen.init({ join: joinScreen });
  settingsDialog.init({ key: keyScreen, join: joinScreen });
  window.PeerchatHistory.init();
  window.PeerchatTyping.init();

  // Ctrl+W (Cmd+W) closes this window; its session leaves the room first.
  document.addEventListener("keydown", (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && ev.key.toLowerCase() === "w") {
      ev.preventDefault();
      invoke("close_window").catch((e) => show($("chat-error"), explain(e)));
    }
  });

  start();
})();
