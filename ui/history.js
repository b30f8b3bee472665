// The room's history in the chat screen: the lines kept from earlier sessions, read a
// page at a time (the first when the chat screen opens, older ones from the "Show
// older lines" button), and clearing the room's history after the person confirms.
// Why there is no history (a damaged or locked file) is shown in plain words; the chat
// works without it.
"use strict";

(() => {
  const { invoke, $, show } = window.PeerchatCommon;
  const { explain } = window.PeerchatErrors;
  const { addHistory, setOlder } = window.PeerchatLog;
  let generation = 0; // a page that arrives after the session changed (or a clear) is dropped
  let loading = false; // one page at a time

  async function loadPage(before) {
    if (loading) return;
    loading = true;
    const mine = generation;
    let page;
    try {
      page = await invoke("history_page", { before: before || null });
    } catch (e) {
      if (mine === generation) show($("chat-error"), explain(e));
      return;
    } finally {
      loading = false;
    }
    if (mine !== generation) return;
    addHistory(page.lines, !before);
    setOlder(page.older ? () => loadPage(page.older) : null);
  }

  // The chat screen opened for a session: its history (what there is of it), and why
  // there is none or not all of it.
  function start(info) {
    generation += 1;
    loading = false;
    setOlder(null);
    if (info.historyProblem) show($("chat-error"), explain(info.historyProblem));
    loadPage(null);
  }

  function reset() {
    generation += 1;
  }

  function init() {
    const dialog = $("clear-history-dialog");
    $("clear-history").addEventListener("click", () => {
      const joined = window.PeerchatState.joined();
      $("clear-history-room").textContent = joined ? "#" + joined.room : "this room";
      dialog.showModal();
    });
    $("clear-history-cancel").addEventListener("click", () => dialog.close());
    $("clear-history-confirm").addEventListener("click", async () => {
      dialog.close();
      generation += 1; // a page still on its way would bring cleared lines back
      try {
        await invoke("clear_history");
        for (const li of $("message-log").querySelectorAll(".history-line, .session-start")) li.remove();
        setOlder(null);
        window.PeerchatLog.addSystem("The history of this room was cleared on this computer.");
      } catch (e) {
        show($("chat-error"), explain(e));
      }
    });
  }

  window.PeerchatHistory = { init, start, reset };
})();
