// The key screen (first run, or no key for the configured server): use the local server,
// or save a server's publishable key (in the system keyring, or for this session only),
// or check a key first; errors go to #key-error. Also the keyring notice above every
// screen. Once a key is saved or the local server chosen, the join screen follows.
"use strict";

(() => {
  const { invoke, $, show, screen } = window.PeerchatCommon;
  const { explain } = window.PeerchatErrors;
  const state = window.PeerchatState;
  let joinScreen = null; // join.js, given by init

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

  function showKeyScreen() {
    const st = state.status();
    if (st && !st.local) $("server-url").value = st.serverUrl;
    show($("key-error"), "");
    screen("key");
  }

  // `screens.join` is join.js's object (the screen that follows a saved key).
  function init(screens) {
    joinScreen = screens.join;

    $("use-local").addEventListener("click", async () => {
      show($("key-error"), "");
      try {
        // Without a status (app_status failed at start) the checkbox says what to do.
        const st = state.status();
        const sessionOnly = st ? !st.keyring.available : $("session-only").checked;
        state.setStatus(await invoke("use_local_server", { sessionOnly }));
        joinScreen.showJoinScreen();
      } catch (e) {
        show($("key-error"), explain(e));
      }
    });

    $("key-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      show($("key-error"), "");
      try {
        state.setStatus(await invoke("save_key", {
          serverUrl: $("server-url").value,
          key: $("key-input").value,
          sessionOnly: $("session-only").checked,
        }));
        $("key-input").value = "";
        joinScreen.showJoinScreen();
      } catch (e) {
        show($("key-error"), explain(e));
        if (e && (e.kind === "keyring_unavailable" || e.kind === "keyring_denied")) $("session-only").checked = true;
      }
    });

    // A verdict is about the address and key it checked: editing either clears it.
    for (const id of ["server-url", "key-input"]) {
      $(id).addEventListener("input", () => {
        $("check-key").textContent = "Check";
      });
    }

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
  }

  window.PeerchatKey = { init, showKeyScreen, renderKeyring };
})();
