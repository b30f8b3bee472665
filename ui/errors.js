// The words the person sees for each error kind the backend reports (`kind` on a command's
// error or on an `error` event); a kind not listed shows the backend's own text. A Rust
// test reads KIND_TEXT and compares its keys with the backend's error kinds: keep it a
// plain object literal, one `key: "text",` entry per line, keys unquoted snake_case.
"use strict";

(() => {
  // Messages the person sees for each error kind; anything else shows the backend's text.
  const KIND_TEXT = {
    invalid_key: "The server refused this key. Check it, or paste another.",
    origin_not_allowed: "This key may not be used from this app (origin not allowed).",
    bad_url: "That server address does not work: it must look like wss://host/v1.",
    plaintext_refused: "That server is on another computer but the address starts with ws://, which is not encrypted. Use wss://, or allow unencrypted connections in the settings.",
    tls: "The secure connection to the server failed: ",
    turn_credential_missing: "A TURN server in the settings has no credential stored; enter it again in the settings.",
    unreachable: "The signalling server does not answer. Is it running, and is the address right?",
    timeout: "The server did not answer in time.",
    connection_lost: "Cannot connect to the server.",
    keyring_unavailable: "The system keyring is not available, so the key cannot be saved. You can keep it for this session only.",
    keyring_denied: "The system keyring refused access (is it locked?). You can keep the key for this session only.",
    no_key: "No key is saved for this server yet.",
    no_peers: "Nobody else is in the room yet, and nobody who was here before is waiting for it; the message was not sent.",
    key_revoked: "The server revoked this key.",
    too_many_connections: "This key has too many connections right now.",
    rate_limited: "Too many messages too fast; reconnecting to the server in a moment.",
    session_taken_over: "This session was opened elsewhere.",
    reconnect_gave_up: "Lost the server for good; join again to retry.",
    channel_full: "This room is full.",
    slow_down: "Too many room changes in a short time; try again in a moment.",
    over_message_quota: "This key has used up its message quota.",
    over_signal_quota: "This key has used up its signalling quota: new direct connections cannot be set up for now.",
    history_locked: "The chat history is in use by another program (is peerchat open twice with the same data folder?). Chatting works; lines are not kept until it is free.",
    history_corrupt: "The chat history file is damaged, so earlier lines cannot be shown and new ones are not kept. Chatting works. Move history.sqlite3 out of the app's data folder to start a new history.",
    history_full: "The disk is full: new lines are not kept in the history. Chatting works.",
    history_too_new: "The chat history was written by a newer peerchat; this version leaves it untouched and keeps no history. Chatting works.",
    history_refused: "A line was too large for the history and was not kept. Chatting works.",
    history_io: "The chat history cannot be read or written. Chatting works; lines are not kept.",
  };

  function explain(err) {
    const kind = (err && err.kind) || "error";
    const message = (err && err.message) || String(err);
    if (kind === "tls") return KIND_TEXT.tls + message.replace(/^TLS: /, "") + ".";
    return KIND_TEXT[kind] || message;
  }

  window.PeerchatErrors = { explain };
})();
