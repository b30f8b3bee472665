#!/usr/bin/env node
// w3c-peer.mjs: a peerchat peer written the way a browser page would write it, to prove
// that a non-Rust WebRTC stack that follows only our documented conventions can chat
// with the Rust SDK (chat-cli). It uses nothing but W3C-style APIs: the global
// `WebSocket` for signalling and `RTCPeerConnection` / `RTCDataChannel` from
// `node-datachannel/polyfill` (the W3C polyfill over libdatachannel). Node-only code is
// limited to the harness edge: argv, stdin, stdout/stderr, process exit.
//
// Run:  node [--experimental-websocket] w3c-peer.mjs --url ws://127.0.0.1:PORT/v1 \
//         --key KEY --room ROOM --name NAME [--ping-interval-ms 1000]
//
// Conventions followed (docs/protocol.md, sections 1-4 and 8; shared protocol.md
// "Peer conventions"):
// - Key as `?key=` on the URL (percent-encoded), `&resume=<token>` on reconnects; the
//   latest resumeToken of any frame is kept. `subscribe`/`unsubscribe` carry a requestId.
//   Like a browser, a JSON `ping` every 20 s; 60 s without any frame = dead socket.
// - Every peer of a presence snapshot or `joined` delta not known before is a new peer:
//   it is greeted with a server `send` of {"type":"hello","name":...}. A `joined` for a
//   known peer is a name refresh. The snapshot answering our subscribe is authoritative.
// - The peer with the greater peerId (bytewise) builds the connection and offers first;
//   the other (polite) builds its connection when that offer arrives. Renegotiations
//   follow perfect negotiation (the polite side rolls back on glare, the impolite side
//   ignores the colliding offer).
// - signal.data = {gen, description} | {gen, candidate}; gen 1 for the first connection,
//   highest gen seen + 1 on a rebuild; a higher gen in an offer = the other side rebuilt
//   (close ours, answer on a new one); lower gen = stale, dropped. Candidates wait until
//   the remote description of their generation is set. `"candidate": null` accepted.
// - Both sides create `control` (negotiated, id 0, ordered, reliable) with the connection.
//   On it: {"type":"ping","t":ms} answered with {"type":"pong","t":same}. 15 s without
//   anything on it: restart ICE (rebuild with a new gen where the stack cannot restart).
// - App channels in-band. Like the SDK's chat app, on every transition to connected we
//   (re)open our own "messages" channel (unordered, maxRetransmits 0) and write only to
//   it; we read chat from the channel the other side opened. Chat is text JSON
//   {"type":"chat","id":<unique>,"text":...}; repeated ids are dropped, unknown types
//   ignored.
//
// Deviations, on purpose:
// - Control pings go out every second (--ping-interval-ms, default 1000) instead of the
//   documented 5 s, so a test sees round trips quickly; answering is as documented.
// - libdatachannel quirks handled here (a browser does not need them, they are harmless
//   there): candidate lines come as "a=candidate:..." and are sent as "candidate:...";
//   creating a channel makes libdatachannel set a local offer by itself, so an offer we
//   never sent does not count as a collision, and the answering side creates `control`
//   just after applying the offer (still before its answer and before any SCTP traffic)
//   rather than before it, which would leave libdatachannel's ICE agent "controlling";
//   `restartIce()` is not implemented and an ICE-restart offer from the other side is
//   refused ("Invalid ICE settings"), so either way an ICE restart becomes a rebuild
//   with a new generation (logged on stderr, not reported as an error).
// - libdatachannel never gathers loopback candidates (like a browser): on 127.0.0.1-only
//   tests the P2P path forms over the machine's other interfaces (the Rust SDK gathers
//   on all of them). The selected pair is logged to stderr once connected.
//
// stdout: one JSON object per line (diagnostics go to stderr):
//   {"event":"welcome","peerId":"..."}                  (again only if the peerId changes)
//   {"event":"peer-joined","peerId":"...","name":"..."}
//   {"event":"peer-left","peerId":"..."}
//   {"event":"connected","peerId":"..."}                 pc connected + control open
//                                                        (again after each rebuild)
//   {"event":"channel-open","peerId":"...","label":"..."} any channel, ours or theirs
//   {"event":"message","from":"...","kind":"chat","id":"...","text":"...","via":"p2p"|"server"}
//   {"event":"message","from":"...","kind":"hello","name":"...","via":"server"}
//   {"event":"pong","peerId":"...","rttMs":N}            answer to one of our control pings
//   {"event":"sent","id":"...","to":["peerId",...]}      after a `say`
//   {"event":"error","message":"...", ["kind":"...", "peerId":"..."]}
// stdin: one command per line, {"say":"text"}. End of stdin: unsubscribe, close, exit 0.

import { RTCPeerConnection } from 'node-datachannel/polyfill';
import { createInterface } from 'node:readline';

// ------------------------------------------------------------------ harness edge
function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}
function log(...parts) {
  console.error(`[w3c-peer ${new Date().toISOString().slice(11, 23)}]`, ...parts);
}
function report(message, extra = {}) {
  log('error:', message);
  emit({ event: 'error', message, ...extra });
}

function parseArgs(argv) {
  const out = { pingIntervalMs: 1000 };
  const names = { '--url': 'url', '--key': 'key', '--room': 'room', '--name': 'name', '--ping-interval-ms': 'pingIntervalMs' };
  for (let i = 0; i < argv.length; i++) {
    const field = names[argv[i]];
    if (!field || argv[i + 1] === undefined) usage(`unexpected argument: ${argv[i]}`);
    out[field] = argv[++i];
  }
  for (const f of ['url', 'key', 'room', 'name']) if (!out[f]) usage(`missing --${f}`);
  out.pingIntervalMs = Number(out.pingIntervalMs);
  if (!(out.pingIntervalMs >= 100)) usage('--ping-interval-ms must be at least 100');
  return out;
}
function usage(why) {
  report(why, { kind: 'usage' });
  console.error('usage: node [--experimental-websocket] w3c-peer.mjs --url ws://HOST:PORT/v1 --key KEY --room ROOM --name NAME [--ping-interval-ms N]');
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));
// Browsers and Node >= 22 have a global WebSocket (Node 20 behind --experimental-websocket);
// elsewhere (Debian's Node 18) the `ws` package's, which has the same W3C interface.
const WebSocket = typeof globalThis.WebSocket === 'function' ? globalThis.WebSocket : (await import('ws')).WebSocket;
process.on('uncaughtException', (e) => {
  report(`uncaught exception: ${e?.stack ?? e}`, { kind: 'internal' });
  process.exit(1);
});
process.on('unhandledRejection', (e) => report(`unhandled rejection: ${e?.stack ?? e}`, { kind: 'internal' }));

// ------------------------------------------------------------------ constants
const CONTROL_LABEL = 'control';
const CONTROL_ID = 0;
const MESSAGES_LABEL = 'messages';
const CONTROL_DEAD_MS = 15_000; // silence on control => path dead
const CONNECT_TIMEOUT_MS = 20_000; // a connection not up by then is rebuilt
const REMOTE_REBUILD_WAIT_MS = 3_000; // after the other side closed its connection
const MAX_PENDING_CANDIDATES = 256;
const WS_PING_MS = 20_000;
const WS_DEAD_MS = 60_000;
const SEEN_IDS = 10_000;
const PEER_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

// ------------------------------------------------------------------ state
let ws = null;
let myId = null;
let resumeToken = null;
let iceServers = [];
let welcomed = false; // at least one welcome on any socket
let subscribed = false;
let leaving = false;
let nextRequestId = 1;
let lastHeard = 0;
let reconnectDelayMs = 1000;
let retryAfterMs = null;
const waiters = new Map(); // requestId -> resolve(frame)
const pairs = new Map(); // remote peerId -> Pair
const seen = new Set(); // chat ids already shown (insertion ordered, bounded)

function firstSight(id) {
  if (seen.has(id)) return false;
  seen.add(id);
  if (seen.size > SEEN_IDS) seen.delete(seen.values().next().value);
  return true;
}

// ------------------------------------------------------------------ signalling socket
function wsSend(frame) {
  if (!ws || ws.readyState !== WebSocket.OPEN) {
    log('not sent (socket not open):', frame.type);
    return false;
  }
  ws.send(JSON.stringify(frame));
  return true;
}

/** Sends a frame with a requestId; resolves with its ack/error, or null after `ms`. */
function request(frame, ms = 5000) {
  const requestId = nextRequestId++;
  return new Promise((resolve) => {
    if (!wsSend({ ...frame, requestId })) return resolve(null);
    const timer = setTimeout(() => {
      waiters.delete(requestId);
      resolve(null);
    }, ms);
    waiters.set(requestId, (f) => {
      clearTimeout(timer);
      resolve(f);
    });
  });
}

function connect() {
  const sep = opts.url.includes('?') ? '&' : '?';
  let url = `${opts.url}${sep}key=${encodeURIComponent(opts.key)}`;
  if (resumeToken) url += `&resume=${encodeURIComponent(resumeToken)}`;
  log('connecting to', opts.url, resumeToken ? '(resume)' : '');
  const sock = new WebSocket(url);
  ws = sock;
  lastHeard = Date.now();
  let keepalive = null;
  sock.onopen = () => {
    keepalive = setInterval(() => {
      if (Date.now() - lastHeard >= WS_DEAD_MS) {
        log('signalling socket silent for 60 s; closing it');
        sock.close();
        return;
      }
      wsSend({ type: 'ping', t: Date.now() });
    }, WS_PING_MS);
  };
  sock.onmessage = (ev) => {
    if (sock !== ws) return;
    lastHeard = Date.now();
    let frame;
    try {
      frame = JSON.parse(ev.data);
    } catch {
      return report('unparsable frame from the server', { kind: 'protocol' });
    }
    if (frame && typeof frame === 'object') onFrame(frame);
  };
  let opened = false;
  const lost = (code, reason) => {
    clearInterval(keepalive);
    if (sock !== ws) return;
    ws = null;
    subscribed = false;
    for (const [, done] of waiters) done(null);
    waiters.clear();
    if (leaving && welcomed) return;
    onSocketLost(code, reason);
  };
  sock.addEventListener('open', () => (opened = true));
  // A failed handshake (e.g. HTTP 401) gives only `error` in Node 20's WebSocket;
  // browsers follow it with `close` 1006. Either way it counts once.
  sock.onerror = () => {
    log('signalling socket error');
    if (!opened) lost(1006, 'handshake failed');
  };
  sock.onclose = (ev) => lost(ev.code, ev.reason);
}

function onSocketLost(code, reason) {
  if (!welcomed) {
    report(`cannot connect to the signalling server (close ${code}${reason ? ` ${reason}` : ''}; bad URL or key?)`, { kind: 'connect' });
    process.exit(1);
  }
  const fatal = { 1000: 'another socket resumed this session', 4001: 'key revoked', 4020: 'disconnected by an administrator' };
  if (fatal[code] && (code !== 1000 || reason === 'resumed')) {
    report(`signalling closed for good: ${code} ${fatal[code]}`, { kind: 'signalling' });
    process.exit(1);
  }
  const delay = retryAfterMs ?? reconnectDelayMs;
  retryAfterMs = null;
  reconnectDelayMs = Math.min(reconnectDelayMs * 2, 10_000);
  report(`signalling socket lost (close ${code}); reconnecting in ${delay} ms`, { kind: 'signalling' });
  setTimeout(() => !leaving && connect(), delay);
}

function onFrame(f) {
  if (typeof f.resumeToken === 'string') resumeToken = f.resumeToken;
  switch (f.type) {
    case 'welcome':
      return onWelcome(f);
    case 'ack':
    case 'error': {
      const done = waiters.get(f.requestId);
      if (done) {
        waiters.delete(f.requestId);
        done(f);
      }
      if (f.type === 'error') report(`server error ${f.code}: ${f.message}`, { kind: f.code });
      return;
    }
    case 'presence':
      return onPresence(f);
    case 'message':
      return onServerMessage(f);
    case 'signal':
      return onSignalFrame(f);
    case 'going_away':
      retryAfterMs = Number.isFinite(f.retryAfterMs) ? f.retryAfterMs : 1000;
      log('server going away; retry after', retryAfterMs, 'ms');
      return;
    default:
      return; // pong, and frame types of newer servers
  }
}

async function onWelcome(f) {
  reconnectDelayMs = 1000;
  iceServers = Array.isArray(f.iceServers) ? f.iceServers : [];
  if (myId !== f.peerId) {
    if (myId) {
      log('session not resumed: new peer id, every pair starts over');
      for (const id of [...pairs.keys()]) removePeer(id);
    }
    myId = f.peerId;
    emit({ event: 'welcome', peerId: myId });
  }
  welcomed = true;
  // After every welcome (resumed or not), subscribe again: always safe.
  const ack = await request({ type: 'subscribe', channel: opts.room, name: opts.name });
  if (ack?.type === 'ack') subscribed = true;
  else if (!ack) report('subscribe was not acknowledged', { kind: 'signalling' });
}

function onPresence(f) {
  if (f.channel !== opts.room || !myId) return;
  const joined = Array.isArray(f.joined) ? f.joined : [];
  const left = Array.isArray(f.left) ? f.left : [];
  if (typeof f.resumeToken === 'string') {
    // The snapshot answering our subscribe is authoritative.
    const listed = new Set(joined.map((e) => e?.peerId));
    for (const id of [...pairs.keys()]) if (!listed.has(id)) removePeer(id);
  }
  for (const e of joined) {
    if (!e || !PEER_ID_RE.test(e.peerId ?? '') || e.peerId === myId) continue;
    const pair = pairs.get(e.peerId);
    if (pair) pair.name = e.name; // a refresh, not a new peer
    else addPeer(e.peerId, e.name);
  }
  for (const id of left) removePeer(id);
}

function onServerMessage(f) {
  const from = f.from;
  const d = f.data;
  if (!d || typeof d !== 'object') return log('server message without an object ignored');
  if (d.type === 'hello' && typeof d.name === 'string') {
    const pair = pairs.get(from);
    if (pair) pair.name = d.name;
    emit({ event: 'message', from, kind: 'hello', name: d.name, via: 'server' });
  } else if (d.type === 'chat' && typeof d.id === 'string' && typeof d.text === 'string') {
    if (firstSight(d.id)) emit({ event: 'message', from, kind: 'chat', id: d.id, text: d.text, via: 'server' });
  } else {
    log('server message of unknown type ignored:', d.type);
  }
}

// ------------------------------------------------------------------ remote peers
function addPeer(id, name) {
  const pair = {
    id,
    name,
    polite: !(myId > id), // ASCII ids: JS string order is byte order
    highestGen: 0,
    conn: null,
    out: null, // our "messages" channel
    pending: [], // {gen, candidate} waiting for a remote description
    chain: Promise.resolve(), // signals are handled one at a time
  };
  pairs.set(id, pair);
  log(`peer ${id} (${name}) joined; we are ${pair.polite ? 'polite' : 'impolite'}`);
  emit({ event: 'peer-joined', peerId: id, name });
  request({ type: 'send', to: id, data: { type: 'hello', name: opts.name } }).then((r) => {
    if (r?.type === 'error') report(`hello to ${id} failed: ${r.code}`, { kind: 'hello', peerId: id });
  });
  if (!pair.polite) build(pair, pair.highestGen + 1, true);
}

function removePeer(id) {
  const pair = pairs.get(id);
  if (!pair) return;
  pairs.delete(id);
  closeConn(pair);
  log(`peer ${id} left`);
  emit({ event: 'peer-left', peerId: id });
}

function closeConn(pair) {
  const conn = pair.conn;
  pair.conn = null;
  pair.out = null;
  if (!conn) return;
  clearTimeout(conn.connectTimer);
  clearTimeout(conn.rebuildTimer);
  try {
    conn.pc.close(); // closes its channels too
  } catch (e) {
    log('close failed:', e?.message ?? e);
  }
}

function sendSignal(pair, gen, body) {
  wsSend({ type: 'signal', to: pair.id, data: { gen, ...body } });
}

/** A fresh connection of generation `gen`; with `offer`, its control channel and offer. */
function build(pair, gen, offer) {
  closeConn(pair);
  pair.highestGen = Math.max(pair.highestGen, gen);
  pair.pending = pair.pending.filter((p) => p.gen >= gen);
  log(`peer ${pair.id}: building connection gen ${gen} (${pair.polite ? 'polite' : 'impolite'}${offer ? ', offering' : ', answering'})`);
  let pc;
  try {
    pc = new RTCPeerConnection({ iceServers });
  } catch (e) {
    return report(`cannot create a peer connection: ${e?.message ?? e}`, { kind: 'webrtc', peerId: pair.id });
  }
  const conn = {
    pc,
    gen,
    control: null,
    controlOpen: false,
    connected: false, // "connected" reported for this connection
    remoteSet: false,
    makingOffer: false,
    offerSent: false, // an offer of ours waits for its answer
    ignoreOffer: false,
    lastControl: Date.now(),
    pings: new Set(),
    connectTimer: null,
    rebuildTimer: null,
  };
  pair.conn = conn;
  const current = () => pair.conn === conn && pairs.get(pair.id) === pair;

  pc.onicecandidate = ({ candidate }) => {
    if (!current()) return;
    if (!candidate || !candidate.candidate) return sendSignal(pair, gen, { candidate: null });
    const c = candidate.toJSON ? candidate.toJSON() : candidate;
    const init = { candidate: c.candidate.replace(/^a=/, '') };
    if (c.sdpMid != null) init.sdpMid = c.sdpMid;
    if (c.sdpMLineIndex != null) init.sdpMLineIndex = c.sdpMLineIndex;
    if (c.usernameFragment != null) init.usernameFragment = c.usernameFragment;
    sendSignal(pair, gen, { candidate: init });
  };
  pc.onconnectionstatechange = () => {
    if (!current()) return;
    const state = pc.connectionState;
    log(`peer ${pair.id}: gen ${gen} connection ${state}`);
    if (state === 'connected') maybeConnected(pair, conn);
    else if (state === 'failed') {
      log(`peer ${pair.id}: connection failed; rebuilding`);
      rebuild(pair);
    }
  };
  pc.onnegotiationneeded = () => {
    // Browsers fire this (e.g. after restartIce()); the first offer is ours only when
    // we are the impolite side, and it is made explicitly below.
    if (current() && conn.remoteSet) makeOffer(pair, conn);
  };
  pc.ondatachannel = ({ channel }) => {
    if (current()) attachRemoteChannel(pair, conn, channel);
  };

  conn.connectTimer = setTimeout(() => {
    if (current() && !conn.connected) {
      log(`peer ${pair.id}: gen ${gen} not connected after ${CONNECT_TIMEOUT_MS} ms; rebuilding`);
      rebuild(pair);
    }
  }, CONNECT_TIMEOUT_MS);

  // The answering side creates `control` right after applying the offer (onSignal):
  // created first, libdatachannel would make an offer of its own and keep the ICE
  // "controlling" role of an offerer even after answering (an ICE role conflict that
  // costs a DTLS retransmission, 1-3 s). In a browser either order works.
  if (offer) {
    createControl(pair, conn);
    makeOffer(pair, conn);
  }
  return conn;
}

/** The negotiated `control` channel of `conn` (id 0, ordered, reliable). */
function createControl(pair, conn) {
  const current = () => pair.conn === conn && pairs.get(pair.id) === pair;
  const control = conn.pc.createDataChannel(CONTROL_LABEL, { negotiated: true, id: CONTROL_ID, ordered: true });
  conn.control = control;
  control.onopen = () => {
    if (!current()) return;
    conn.controlOpen = true;
    conn.lastControl = Date.now();
    emit({ event: 'channel-open', peerId: pair.id, label: CONTROL_LABEL });
    maybeConnected(pair, conn);
  };
  control.onmessage = ({ data }) => current() && onControl(pair, conn, data);
  control.onclose = () => {
    if (!current()) return;
    conn.controlOpen = false;
    log(`peer ${pair.id}: control channel closed by the other side; waiting for its rebuild`);
    conn.rebuildTimer = setTimeout(() => current() && rebuild(pair), REMOTE_REBUILD_WAIT_MS);
  };
}

function rebuild(pair) {
  if (pairs.get(pair.id) === pair) build(pair, pair.highestGen + 1, true);
}

async function makeOffer(pair, conn) {
  try {
    conn.makingOffer = true;
    await conn.pc.setLocalDescription();
    const d = conn.pc.localDescription;
    if (pair.conn !== conn) return;
    if (d?.type !== 'offer') throw new Error(`local description is ${d?.type}, not an offer`);
    conn.offerSent = true;
    sendSignal(pair, conn.gen, { description: { type: d.type, sdp: d.sdp } });
  } catch (e) {
    report(`offer failed: ${e?.message ?? e}`, { kind: 'webrtc', peerId: pair.id });
  } finally {
    conn.makingOffer = false;
  }
}

function onSignalFrame(f) {
  const pair = pairs.get(f.from);
  if (!pair) return log('signal from an unknown peer dropped:', f.from);
  const d = f.data;
  const hasDesc = d?.description !== undefined;
  const hasCand = d?.candidate !== undefined;
  if (!Number.isInteger(d?.gen) || d.gen < 1 || hasDesc === hasCand) return log('malformed signal dropped');
  pair.chain = pair.chain
    .then(() => onSignal(pair, d))
    .catch((e) => report(`signal handling failed: ${e?.message ?? e}`, { kind: 'webrtc', peerId: pair.id }));
}

async function onSignal(pair, d) {
  if (pairs.get(pair.id) !== pair) return;
  const gen = d.gen;
  const curGen = pair.conn?.gen ?? 0;
  if (gen < curGen) return log(`peer ${pair.id}: stale gen ${gen} signal dropped (current ${curGen})`);
  pair.highestGen = Math.max(pair.highestGen, gen);

  if (d.candidate !== undefined) {
    const c = d.candidate;
    if (c === null || !c.candidate) return; // end of candidates
    const conn = pair.conn;
    if (conn && conn.gen === gen && conn.remoteSet) return addCandidate(pair, conn, c);
    if (pair.pending.length >= MAX_PENDING_CANDIDATES) pair.pending.shift();
    pair.pending.push({ gen, candidate: c });
    return;
  }

  const desc = d.description;
  if (!desc || typeof desc.type !== 'string') return log('description without a type dropped');
  if (desc.type === 'offer') {
    if (!pair.conn || gen > pair.conn.gen) build(pair, gen, false); // the other side (re)built
  } else if (desc.type === 'answer') {
    if (!pair.conn || gen !== pair.conn.gen) return log(`peer ${pair.id}: answer of gen ${gen} dropped`);
  } else {
    return log(`peer ${pair.id}: description type ${desc.type} ignored`);
  }
  const conn = pair.conn;
  if (!conn) return;
  const pc = conn.pc;

  // Perfect negotiation. An offer counts as colliding only if we made one (libdatachannel
  // sets a local offer by itself when a channel is created; we never sent that one).
  const collision = desc.type === 'offer' && (conn.makingOffer || (conn.offerSent && pc.signalingState !== 'stable'));
  conn.ignoreOffer = !pair.polite && collision;
  if (conn.ignoreOffer) return log(`peer ${pair.id}: glare, impolite side ignores the offer`);
  if (desc.type === 'answer' && !conn.offerSent) return log(`peer ${pair.id}: answer without an offer of ours dropped`);
  try {
    await pc.setRemoteDescription({ type: desc.type, sdp: desc.sdp }); // rolls back our offer if any
  } catch (e) {
    const why = e?.message ?? e;
    if (desc.type === 'offer' && conn.remoteSet) {
      // A renegotiation (the other side's ICE restart): libdatachannel refuses new ICE
      // credentials. The documented fallback, a rebuild with a new gen, is expected here.
      log(`peer ${pair.id}: renegotiation offer refused (${why}); rebuilding with a new generation`);
    } else {
      report(`setRemoteDescription(${desc.type}) failed: ${why}; rebuilding`, { kind: 'webrtc', peerId: pair.id });
    }
    if (pair.conn === conn) rebuild(pair);
    return;
  }
  if (pair.conn !== conn) return;
  conn.remoteSet = true;
  conn.offerSent = false;
  if (!conn.control) createControl(pair, conn); // before the answer; see build()
  flushPending(pair, conn);
  if (desc.type === 'offer') {
    await pc.setLocalDescription();
    const a = pc.localDescription;
    if (pair.conn !== conn) return;
    if (a?.type !== 'answer') throw new Error(`local description is ${a?.type}, not an answer`);
    sendSignal(pair, conn.gen, { description: { type: a.type, sdp: a.sdp } });
  }
}

function flushPending(pair, conn) {
  const now = pair.pending.filter((p) => p.gen === conn.gen);
  pair.pending = pair.pending.filter((p) => p.gen > conn.gen);
  for (const p of now) addCandidate(pair, conn, p.candidate);
}

function addCandidate(pair, conn, c) {
  conn.pc.addIceCandidate(c).catch((e) => {
    if (!conn.ignoreOffer) log(`peer ${pair.id}: candidate rejected: ${e?.message ?? e}`);
  });
}

// ------------------------------------------------------------------ channels
function maybeConnected(pair, conn) {
  if (conn.connected || !conn.controlOpen || conn.pc.connectionState !== 'connected') return;
  conn.connected = true;
  clearTimeout(conn.connectTimer);
  emit({ event: 'connected', peerId: pair.id });
  logSelectedPair(pair, conn);
  // Like the SDK's chat app: a fresh "messages" channel of ours on every connected.
  try {
    pair.out?.close();
  } catch {
    /* already closed */
  }
  let out;
  try {
    out = conn.pc.createDataChannel(MESSAGES_LABEL, { ordered: false, maxRetransmits: 0 });
  } catch (e) {
    return report(`cannot open the messages channel: ${e?.message ?? e}`, { kind: 'channel', peerId: pair.id });
  }
  pair.out = out;
  out.onopen = () => {
    if (pair.conn === conn) emit({ event: 'channel-open', peerId: pair.id, label: MESSAGES_LABEL });
  };
  out.onerror = (e) => report(`messages channel error: ${e?.error?.message ?? 'unknown'}`, { kind: 'channel', peerId: pair.id });
}

async function logSelectedPair(pair, conn) {
  try {
    const stats = await conn.pc.getStats();
    let local = null;
    let remote = null;
    stats.forEach((s) => {
      if (s.type === 'local-candidate') local = s;
      if (s.type === 'remote-candidate') remote = s;
    });
    if (local && remote) {
      log(`peer ${pair.id}: selected pair ${local.ip}:${local.port} (${local.candidateType}) <-> ${remote.ip}:${remote.port} (${remote.candidateType})`);
    }
  } catch (e) {
    log('getStats failed:', e?.message ?? e);
  }
}

function attachRemoteChannel(pair, conn, channel) {
  const opened = () => emit({ event: 'channel-open', peerId: pair.id, label: channel.label });
  if (channel.readyState === 'open') opened();
  else channel.onopen = opened;
  channel.onmessage = ({ data }) => {
    if (channel.label !== MESSAGES_LABEL || typeof data !== 'string') return;
    let m;
    try {
      m = JSON.parse(data);
    } catch {
      return log(`peer ${pair.id}: non-JSON chat message ignored`);
    }
    if (m?.type !== 'chat') return; // unknown types are ignored
    if (typeof m.id !== 'string' || typeof m.text !== 'string') return log('malformed chat message ignored');
    if (firstSight(m.id)) emit({ event: 'message', from: pair.id, kind: 'chat', id: m.id, text: m.text, via: 'p2p' });
  };
}

function onControl(pair, conn, data) {
  conn.lastControl = Date.now();
  if (typeof data !== 'string') return;
  let m;
  try {
    m = JSON.parse(data);
  } catch {
    return log(`peer ${pair.id}: non-JSON control message ignored`);
  }
  if (m?.type === 'ping' && Number.isInteger(m.t)) {
    sendControl(pair, conn, { type: 'pong', t: m.t });
  } else if (m?.type === 'pong' && conn.pings.delete(m.t)) {
    emit({ event: 'pong', peerId: pair.id, rttMs: Date.now() - m.t });
  }
}

/** Sends on `control`; a channel whose path just died can refuse (logged, not fatal). */
function sendControl(pair, conn, msg) {
  try {
    if (conn.control?.readyState === 'open') conn.control.send(JSON.stringify(msg));
  } catch (e) {
    log(`peer ${pair.id}: control ${msg.type} not sent: ${e?.message ?? e}`);
  }
}

// Control pings, and the dead-path rule, for every pair.
setInterval(() => {
  const now = Date.now();
  for (const pair of pairs.values()) {
    const conn = pair.conn;
    if (!conn || !conn.controlOpen || conn.control.readyState !== 'open') continue;
    let t = now;
    while (conn.pings.has(t)) t++;
    conn.pings.add(t);
    if (conn.pings.size > 64) conn.pings.delete(conn.pings.values().next().value);
    sendControl(pair, conn, { type: 'ping', t });
    if (conn.connected && now - conn.lastControl >= CONTROL_DEAD_MS) {
      log(`peer ${pair.id}: control silent for ${CONTROL_DEAD_MS / 1000} s; restarting ICE`);
      conn.lastControl = now; // one attempt per silence period
      try {
        conn.pc.restartIce(); // a browser renegotiates through negotiationneeded
      } catch {
        log(`peer ${pair.id}: this stack cannot restart ICE; rebuilding with a new generation`);
        rebuild(pair);
      }
    }
  }
}, opts.pingIntervalMs);

// ------------------------------------------------------------------ commands
function say(text) {
  const id = crypto.randomUUID();
  firstSight(id);
  const wire = JSON.stringify({ type: 'chat', id, text });
  const to = [];
  for (const pair of pairs.values()) {
    if (pair.out?.readyState !== 'open') continue;
    try {
      pair.out.send(wire);
      to.push(pair.id);
    } catch (e) {
      report(`send to ${pair.id} failed: ${e?.message ?? e}`, { kind: 'send_failed', peerId: pair.id });
    }
  }
  emit({ event: 'sent', id, to });
  if (to.length === 0) report('no peer has an open messages channel; the line was not sent', { kind: 'no_peers' });
}

function onLine(line) {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch {
    return report(`stdin: not JSON: ${line}`, { kind: 'command' });
  }
  if (typeof cmd?.say === 'string') say(cmd.say);
  else report(`stdin: unknown command: ${line}`, { kind: 'command' });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function shutdown() {
  if (leaving) return;
  leaving = true;
  log('end of stdin: leaving');
  // Input that ends at once must not hide a bad URL or key: wait for the welcome.
  for (let i = 0; i < 100 && !welcomed && ws; i++) await sleep(50);
  // Give queued DataChannel sends a moment to leave (bounded).
  for (let i = 0; i < 20; i++) {
    if (![...pairs.values()].some((p) => p.out?.readyState === 'open' && p.out.bufferedAmount > 0)) break;
    await sleep(50);
  }
  if (subscribed && ws?.readyState === WebSocket.OPEN) {
    const r = await request({ type: 'unsubscribe', channel: opts.room }, 2000);
    if (r?.type !== 'ack') log('unsubscribe not acknowledged');
  }
  for (const pair of pairs.values()) closeConn(pair);
  if (ws && ws.readyState <= WebSocket.OPEN) {
    const sock = ws;
    sock.close(1000);
    await Promise.race([new Promise((r) => sock.addEventListener('close', r)), sleep(2000)]);
  }
  process.exit(0);
}

createInterface({ input: process.stdin }).on('line', onLine).on('close', () => {
  shutdown().catch((e) => {
    report(`shutdown failed: ${e?.message ?? e}`, { kind: 'internal' });
    process.exit(1);
  });
});

connect();
