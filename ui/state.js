// What the screens of the chat page share, kept here and nowhere else: the app's status
// (the backend's `app_status` answer, or the newer one a command returned) and this
// window's session in a room (the `join` answer, and our peer id from `welcome`). The
// screens read and change it through these functions only.
"use strict";

(() => {
  let status = null; // AppStatus: settings, server, key, keyring, autoJoin, joined
  let joined = null; // JoinInfo of the room this window is in, or null
  let myId = null; // our peer id in that room

  window.PeerchatState = {
    status: () => status,
    setStatus(st) {
      status = st;
    },
    joined: () => joined,
    setJoined(info) {
      joined = info;
    },
    myId: () => myId,
    setMyId(id) {
      myId = id;
    },
  };
})();
