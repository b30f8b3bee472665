// The settings dialog (opened from the join screen): server URL, display name, ICE
// servers (TURN credentials go to the keyring and are never shown back), the network
// path policy, unencrypted ws://, how long history is kept, the bounds on lines kept for
// people who are away, and notifications. Saving stores them, reads the app's status again
// and shows the key screen if the new server has no key, else the join screen.
"use strict";

(() => {
  const { invoke, $, show } = window.PeerchatCommon;
  const { explain } = window.PeerchatErrors;
  const state = window.PeerchatState;
  let keyScreen = null; // key.js, given by init
  let joinScreen = null; // join.js, given by init

  // `screens.key` is key.js's object, `screens.join` join.js's.
  function init(screens) {
    keyScreen = screens.key;
    joinScreen = screens.join;

    $("open-settings").addEventListener("click", async () => {
      let s;
      try {
        s = await invoke("get_settings");
      } catch (e) {
        show($("join-error"), explain(e));
        return;
      }
      $("set-server").value = s.serverUrl || "";
      $("set-name").value = s.displayName || "";
      // Credentials are never shown: the keyring keeps them.
      $("set-ice").value = s.iceServers.map((i) => [i.urls.join(","), i.username || ""].join(" ").trim()).join("\n");
      $("set-policy").value = s.iceTransportPolicy || "all";
      $("set-plaintext").checked = !!s.allowPlaintext;
      $("set-history").value = s.historyDays === null || s.historyDays === undefined ? "" : String(s.historyDays);
      if ($("set-history").selectedIndex < 0) $("set-history").value = "";
      $("set-outbox-lines").value = s.outboxPerMember;
      $("set-outbox-days").value = s.outboxDays;
      $("set-notifications").checked = !!s.notifications;
      show($("settings-error"), "");
      $("settings-dialog").showModal();
    });

    $("settings-cancel").addEventListener("click", () => $("settings-dialog").close());

    $("settings-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const iceServers = $("set-ice").value.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
        const [urls, username, credential] = l.split(/\s+/);
        return { urls: urls.split(","), username: username || undefined, credential: credential || undefined };
      });
      const server = $("set-server").value.trim();
      try {
        const current = await invoke("get_settings");
        await invoke("set_settings", {
          settings: {
            ...current,
            serverUrl: server || null,
            displayName: $("set-name").value.trim(),
            iceServers,
            iceTransportPolicy: $("set-policy").value,
            allowPlaintext: $("set-plaintext").checked,
            historyDays: $("set-history").value === "" ? null : Number($("set-history").value),
            outboxPerMember: Number($("set-outbox-lines").value),
            outboxDays: Number($("set-outbox-days").value),
            notifications: $("set-notifications").checked,
          },
        });
        // Read before the dialog closes, so a failure is shown where the person looks.
        state.setStatus(await invoke("app_status"));
        $("settings-dialog").close();
        const st = state.status();
        $("name-input").value = st.settings.displayName;
        !st.local && !st.key ? keyScreen.showKeyScreen() : joinScreen.showJoinScreen();
      } catch (e) {
        show($("settings-error"), explain(e));
      }
    });
  }

  window.PeerchatSettings = { init };
})();
