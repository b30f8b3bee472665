// Files: the "Send file" button (the system's file picker; files dropped on the window
// go to everyone too, handled by the app itself), and one row per transfer under the
// log: who and what, a progress bar with bytes, rate and time left, Accept and Decline
// for an offer, Cancel while it runs, and how it ended ("verified", or why not, with
// where the partial file stays). Names come from the network: textContent only.
"use strict";

(() => {
  const { invoke, $, show } = window.PeerchatCommon;
  const { explain } = window.PeerchatErrors;
  const rows = new Map(); // transfer id -> { li, bar, text, buttons, size }
  let nameOf = (id) => id; // chat.js's peerName, given by init

  function size(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KiB";
    if (n < 1024 * 1024 * 1024) return (n / 1024 / 1024).toFixed(1) + " MiB";
    return (n / 1024 / 1024 / 1024).toFixed(2) + " GiB";
  }

  function left(ms) {
    if (ms == null) return "";
    const s = Math.ceil(ms / 1000);
    return " · " + (s < 60 ? s + " s left" : Math.floor(s / 60) + " min " + (s % 60) + " s left");
  }

  function button(label, testid, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.dataset.testid = testid;
    b.addEventListener("click", onClick);
    return b;
  }

  function act(command, id) {
    invoke(command, { id }).catch((e) => show($("chat-error"), explain(e)));
  }

  // The row of transfer `id`, made on first sight.
  function row(ev, heading) {
    let r = rows.get(ev.id);
    if (r) return r;
    const li = document.createElement("li");
    li.className = "transfer";
    li.dataset.testid = "transfer";
    li.dataset.transferId = ev.id;
    const title = document.createElement("div");
    title.className = "transfer-title";
    title.textContent = heading;
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.value = 0;
    bar.dataset.testid = "transfer-progress";
    const text = document.createElement("div");
    text.className = "transfer-text muted";
    text.dataset.testid = "transfer-status";
    text.setAttribute("role", "status");
    const buttons = document.createElement("div");
    buttons.className = "row";
    li.append(title, bar, text, buttons);
    $("transfers").appendChild(li);
    $("transfers").hidden = false;
    r = { li, bar, text, buttons, size: ev.size || 0 };
    rows.set(ev.id, r);
    return r;
  }

  function running(r, id) {
    r.buttons.replaceChildren(button("Cancel", "transfer-cancel", () => act("cancel_file", id)));
  }

  function onEvent(ev) {
    switch (ev.event) {
      case "file-sending": {
        const r = row(ev, "Sending " + ev.name + " (" + size(ev.size) + ") to " + nameOf(ev.peerId));
        r.text.textContent = "Waiting for " + nameOf(ev.peerId) + " to accept…";
        running(r, ev.id);
        return true;
      }
      case "file-offer": {
        const r = row(ev, nameOf(ev.peerId) + " offers " + ev.name + " (" + size(ev.size) + ")");
        r.text.textContent = "Accept to save it in your download folder.";
        r.buttons.replaceChildren(
          button("Accept", "transfer-accept", () => { act("accept_file", ev.id); running(r, ev.id); }),
          button("Decline", "transfer-decline", () => act("decline_file", ev.id)),
        );
        return true;
      }
      case "file-restored": {
        const verb = ev.direction === "send" ? "Sending " + ev.name + " to " : "Receiving " + ev.name + " from ";
        const r = row(ev, verb + ev.peerName + " (" + size(ev.size) + ")");
        r.bar.max = Math.max(ev.size, 1);
        r.bar.value = ev.bytes;
        r.text.textContent = "Kept from before the restart: goes on from " + size(ev.bytes) + " when " + ev.peerName + " is back.";
        running(r, ev.id);
        return true;
      }
      case "file-progress": {
        const r = rows.get(ev.id);
        if (!r) return true;
        r.size = ev.size;
        r.bar.max = Math.max(ev.size, 1);
        r.bar.value = ev.size ? ev.bytes : 1;
        const rate = ev.rate ? " · " + size(ev.rate) + "/s" : "";
        r.text.textContent = size(ev.bytes) + " of " + size(ev.size) + rate + left(ev.etaMs);
        if (!r.buttons.querySelector("[data-testid=transfer-cancel]")) running(r, ev.id);
        return true;
      }
      case "file-done": {
        const r = rows.get(ev.id) || row(ev, "A file");
        r.bar.max = 1;
        r.bar.value = 1;
        r.li.classList.add("done");
        r.li.dataset.state = "verified";
        r.text.textContent = ev.direction === "receive"
          ? "Verified ✓ saved as " + ev.path
          : "Verified ✓ " + nameOf(ev.peerId) + " has it";
        r.text.title = "SHA-256 " + ev.sha256;
        r.buttons.replaceChildren();
        return true;
      }
      case "file-failed": {
        const r = rows.get(ev.id) || row(ev, "A file from " + nameOf(ev.peerId));
        r.li.classList.add("failed");
        r.li.dataset.state = "failed";
        r.li.dataset.kind = ev.kind;
        r.text.textContent = "Not completed: " + ev.message + (ev.part ? " (what arrived is kept in " + ev.part + ")" : "");
        r.buttons.replaceChildren();
        return true;
      }
      default:
        return false;
    }
  }

  // Files from the system's picker, to `to` (a peer id) or everyone.
  async function pick(to) {
    let chosen;
    try {
      chosen = await window.__TAURI__.dialog.open({ multiple: true, directory: false, title: "Send files" });
    } catch (e) {
      show($("chat-error"), explain(e));
      return;
    }
    const paths = chosen == null ? [] : Array.isArray(chosen) ? chosen : [chosen];
    for (const path of paths) {
      try {
        await invoke("send_file", to ? { path, to } : { path });
      } catch (e) {
        show($("chat-error"), explain(e));
      }
    }
  }

  function reset() {
    rows.clear();
    $("transfers").replaceChildren();
    $("transfers").hidden = true;
  }

  // `peerName` turns a peer id into the name shown.
  function init(peerName) {
    nameOf = peerName;
    $("send-file").addEventListener("click", () => pick(null));
  }

  window.PeerchatFiles = { init, onEvent, pick, reset };
})();
