#!/usr/bin/env node
// Reference WebRTC DataChannel benchmark: node-datachannel (libdatachannel) talking to
// itself on loopback, both peers in this one process, SDP and candidates handed over
// directly (no signalling server, no STUN/TURN). Same semantics as peerchat's Rust
// engine bench (crates/bench, `--rows engine`):
//
//   setup  N trials (30; --smoke 3): two fresh PeerConnections; the clock starts right
//          before the offerer creates its data channel (which triggers the offer) and
//          stops when BOTH sides have the channel open.
//   ping   channel {unordered, maxRetransmits: 0}; 64-byte binary messages echoed by
//          the other side; ~20 warm-up pings, then 1000 round trips (--smoke 20); every
//          RTT in µs; a ping not answered within 1 s counts as lost.
//   bulk   for 1024, 16384, 65536-byte messages: a fresh pair, reliable ordered channel,
//          128 MiB (--bulk-mib N; --smoke 1 MiB) sent with sendMessageBinary, paced by
//          bufferedAmount (≤ 1 MiB, low threshold 512 KiB). Clock: first send → last
//          byte received. MB/s with 1 MB = 1e6 bytes. 10 s without progress = stall.
//   small  a fresh pair, reliable ordered, 200,000 one-byte messages (--smoke 2000),
//          same pacing; delivered count and msg/s (first send → last receive).
//
// Output: exactly one line of JSON on stdout; progress on stderr.
//
// Usage: node ndc-bench.mjs [--smoke] [--bulk-mib N] [--trials N] [--pings N]
//                           [--small N] [--rows setup,ping,bulk,small]

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ndc from 'node-datachannel';

// The package's "exports" hide package.json; find it above the resolved entry point.
function ndcVersion() {
  let dir = dirname(createRequire(import.meta.url).resolve('node-datachannel'));
  for (let i = 0; i < 6; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (pkg.name === 'node-datachannel') return pkg.version;
    } catch { /* keep walking up */ }
  }
  return 'unknown';
}
const NDC_VERSION = ndcVersion();

// ---------------------------------------------------------------- arguments
const argv = process.argv.slice(2);
function argValue(name) {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  if (v === undefined) {
    console.error(`missing value for ${name}`);
    process.exit(2);
  }
  return v;
}
function intArg(name, dflt) {
  const v = argValue(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`bad value for ${name}: ${v}`);
    process.exit(2);
  }
  return n;
}
for (const a of argv) {
  if (a === '--help' || a === '-h') {
    console.error('usage: node ndc-bench.mjs [--smoke] [--bulk-mib N] [--trials N] [--pings N] [--small N] [--rows setup,ping,bulk,small]');
    process.exit(0);
  }
}
const SMOKE = argv.includes('--smoke');
const TRIALS = intArg('--trials', SMOKE ? 3 : 30);
const PINGS = intArg('--pings', SMOKE ? 20 : 1000);
const WARMUP_PINGS = 20;
const BULK_BYTES = Math.round(intArg('--bulk-mib', SMOKE ? 1 : 128) * 1024 * 1024);
const BULK_SIZES = [1024, 16384, 65536];
const SMALL_COUNT = intArg('--small', SMOKE ? 2000 : 200000);
const ROWS = new Set((argValue('--rows') ?? 'setup,ping,bulk,small').split(','));

const PING_SIZE = 64;
const PING_TIMEOUT_MS = 1000;
const BUFFER_CAP = 1024 * 1024; // keep bufferedAmount <= 1 MiB
const BUFFER_LOW = 512 * 1024; // resume below 512 KiB
const STALL_MS = 10_000;
const CONNECT_TIMEOUT_MS = 15_000;

// Loopback only: libjuice binds to 127.0.0.1 and offers only that host candidate.
const RTC_CONFIG = {
  iceServers: [],
  bindAddress: '127.0.0.1',
  enableIceTcp: false,
};

const log = (...a) => console.error('[ndc-bench]', ...a);
const now = () => process.hrtime.bigint(); // ns
const nsToMs = (ns) => Number(ns) / 1e6;
const nsToUs = (ns) => Number(ns) / 1e3;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const byteLen = (msg) => (typeof msg === 'string' ? Buffer.byteLength(msg) : msg.byteLength);

function pct(values, p) {
  if (values.length === 0) return null;
  const s = [...values].sort((x, y) => x - y);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx];
}

// ---------------------------------------------------------------- peer pair
let pairSeq = 0;

/**
 * Creates two PeerConnections wired to each other in-process. Candidates are queued
 * until the receiving side has its remote description. `a=` prefixes are stripped.
 */
function makePair() {
  const id = ++pairSeq;
  const offerer = new ndc.PeerConnection(`off${id}`, RTC_CONFIG);
  const answerer = new ndc.PeerConnection(`ans${id}`, RTC_CONFIG);
  const wire = (from, to) => {
    let haveRemote = false;
    const pending = [];
    from.onLocalDescription((sdp, type) => {
      to.setRemoteDescription(sdp, type);
      haveRemote = true;
      for (const [c, mid] of pending.splice(0)) to.addRemoteCandidate(c, mid);
    });
    from.onLocalCandidate((cand, mid) => {
      const c = cand.startsWith('a=') ? cand.slice(2) : cand;
      if (haveRemote) to.addRemoteCandidate(c, mid);
      else pending.push([c, mid]);
    });
  };
  wire(offerer, answerer);
  wire(answerer, offerer);
  let closed = false;
  return {
    offerer,
    answerer,
    // Strong references to the channels: node-datachannel closes a DataChannel whose
    // JS wrapper gets garbage-collected, so keep them alive until the pair closes.
    keep: [],
    close() {
      if (closed) return;
      closed = true;
      try { offerer.close(); } catch { /* ignore */ }
      try { answerer.close(); } catch { /* ignore */ }
      this.keep.length = 0;
    },
  };
}

/**
 * Opens a channel from the offerer; resolves with both ends once both are open.
 * `onCreate` runs right before createDataChannel (used to start the setup clock).
 */
function openChannel(pair, label, init, onCreate) {
  return new Promise((resolve, reject) => {
    let local = null;
    let remote = null;
    let localOpen = false;
    let remoteOpen = false;
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      reject(new Error(`channel '${label}' not open within ${CONNECT_TIMEOUT_MS} ms (offerer ${pair.offerer.state()}, answerer ${pair.answerer.state()})`));
    }, CONNECT_TIMEOUT_MS);
    const check = () => {
      if (done || !localOpen || !remoteOpen) return;
      done = true;
      const t = now();
      clearTimeout(timer);
      resolve({ local, remote, openedAt: t });
    };
    pair.answerer.onDataChannel((dc) => {
      if (dc.getLabel() !== label) return;
      remote = dc;
      pair.keep.push(dc);
      if (dc.isOpen()) {
        remoteOpen = true;
        check();
      } else {
        dc.onOpen(() => {
          remoteOpen = true;
          check();
        });
      }
    });
    if (onCreate) onCreate();
    local = pair.offerer.createDataChannel(label, init);
    pair.keep.push(local);
    local.onOpen(() => {
      localOpen = true;
      check();
    });
    if (local.isOpen()) {
      localOpen = true;
      check();
    }
  });
}

async function connectedPair(label, init) {
  const pair = makePair();
  try {
    const ch = await openChannel(pair, label, init);
    return { pair, ...ch };
  } catch (e) {
    pair.close();
    throw e;
  }
}

// ---------------------------------------------------------------- setup
async function benchSetup() {
  const out = [];
  let failures = 0;
  for (let i = 0; i < TRIALS; i++) {
    const pair = makePair();
    let t0 = 0n;
    try {
      const { openedAt } = await openChannel(pair, 'setup', {}, () => {
        t0 = now();
      });
      const ms = nsToMs(openedAt - t0);
      out.push(Number(ms.toFixed(3)));
      log(`setup ${i + 1}/${TRIALS}: ${ms.toFixed(1)} ms`);
    } catch (e) {
      failures++;
      log(`setup ${i + 1}/${TRIALS}: FAILED: ${e.message}`);
    }
    pair.close();
    await sleep(20); // let the closed pair wind down before the next trial
  }
  return { setup_ms: out, setup_failures: failures };
}

// ---------------------------------------------------------------- ping
async function benchPing() {
  const { pair, local, remote } = await connectedPair('ping', { unordered: true, maxRetransmits: 0 });
  // Echo side.
  remote.onMessage((msg) => {
    if (typeof msg === 'string') return;
    remote.sendMessageBinary(Buffer.isBuffer(msg) ? msg : Buffer.from(msg));
  });

  const buf = Buffer.alloc(PING_SIZE);
  let seq = 0;
  let waiting = null; // { seq, t0, resolve, timer }
  local.onMessage((msg) => {
    if (!waiting || typeof msg === 'string' || byteLen(msg) < 4) return;
    const b = Buffer.isBuffer(msg) ? msg : Buffer.from(msg);
    if (b.readUInt32LE(0) !== waiting.seq) return; // late echo of a lost ping
    const t1 = now();
    const w = waiting;
    waiting = null;
    clearTimeout(w.timer);
    w.resolve(t1 - w.t0);
  });
  const pingOnce = () =>
    new Promise((resolve) => {
      seq = (seq + 1) >>> 0;
      buf.writeUInt32LE(seq, 0);
      const w = { seq, t0: 0n, resolve, timer: null };
      w.timer = setTimeout(() => {
        if (waiting === w) waiting = null;
        resolve(null);
      }, PING_TIMEOUT_MS);
      waiting = w;
      w.t0 = now();
      local.sendMessageBinary(buf);
    });

  let warmLost = 0;
  for (let i = 0; i < WARMUP_PINGS; i++) if ((await pingOnce()) === null) warmLost++;
  if (warmLost) log(`ping warm-up: ${warmLost} lost`);
  const rtts = [];
  let lost = 0;
  for (let i = 0; i < PINGS; i++) {
    const r = await pingOnce();
    if (r === null) lost++;
    else rtts.push(Number(nsToUs(r).toFixed(1)));
  }
  log(`ping: ${rtts.length} answered, ${lost} lost, p50 ${pct(rtts, 50)} µs, p99 ${pct(rtts, 99)} µs`);
  pair.close();
  await sleep(20);
  return { ping_us: rtts, ping_lost: lost };
}

// ---------------------------------------------------------------- paced stream
/**
 * Sends `count` messages of `size` bytes over a fresh reliable ordered channel, paced
 * by bufferedAmount. Resolves with { bytes, msgs, secs, stalled } where bytes/msgs are
 * what arrived and secs runs from the first send to the last receive.
 */
async function pacedStream(label, size, count) {
  const { pair, local, remote } = await connectedPair(label, {});
  const total = size * count;
  const payload = Buffer.alloc(size, 0xab);

  return await new Promise((resolve) => {
    let sent = 0;
    let recvBytes = 0;
    let recvMsgs = 0;
    let tFirst = 0n;
    let tLast = 0n;
    let lastProgress = Date.now();
    let finished = false;

    const finish = (stalled) => {
      if (finished) return;
      finished = true;
      clearInterval(watchdog);
      const secs = tLast > tFirst ? Number(tLast - tFirst) / 1e9 : 0;
      pair.close();
      setTimeout(() => resolve({ bytes: recvBytes, msgs: recvMsgs, sentMsgs: sent, secs, stalled }), 20);
    };

    remote.onMessage((msg) => {
      recvBytes += byteLen(msg);
      recvMsgs++;
      tLast = now();
      lastProgress = Date.now();
      if (recvBytes >= total) finish(false);
    });

    // Fill the buffer up to the cap; resumed by onBufferedAmountLow.
    const pump = () => {
      if (finished) return;
      while (sent < count && local.bufferedAmount() + size <= BUFFER_CAP) {
        // sendMessageBinary returns false when the message was queued, not on error.
        local.sendMessageBinary(payload);
        sent++;
      }
    };
    local.setBufferedAmountLowThreshold(BUFFER_LOW);
    local.onBufferedAmountLow(pump);
    local.onError((e) => log(`${label}: sender error: ${e}`));
    remote.onError((e) => log(`${label}: receiver error: ${e}`));

    const watchdog = setInterval(() => {
      if (finished) return;
      // Safety net against a missed low-water event (does not fire in practice).
      if (sent < count) pump();
      if (Date.now() - lastProgress > STALL_MS) {
        log(`${label}: STALL: ${recvBytes} of ${total} bytes arrived (${sent} of ${count} messages sent)`);
        finish(true);
      }
    }, 100);

    tFirst = now();
    lastProgress = Date.now();
    pump();
  });
}

async function benchBulk() {
  const msgs = [];
  for (const size of BULK_SIZES) {
    const count = Math.ceil(BULK_BYTES / size);
    const r = await pacedStream(`bulk${size}`, size, count);
    const mbps = r.secs > 0 ? r.bytes / 1e6 / r.secs : 0;
    const row = {
      size,
      bytes: r.bytes,
      secs: Number(r.secs.toFixed(4)),
      mbps: Number(mbps.toFixed(1)),
      stalled: r.stalled,
    };
    log(`bulk ${size} B: ${r.bytes} bytes in ${row.secs} s = ${row.mbps} MB/s${r.stalled ? ' (STALLED)' : ''}`);
    msgs.push(row);
  }
  return { bulk: msgs };
}

async function benchSmall() {
  const r = await pacedStream('small', 1, SMALL_COUNT);
  const rate = r.secs > 0 ? r.msgs / r.secs : 0;
  const small = {
    sent: r.sentMsgs,
    delivered: r.msgs,
    secs: Number(r.secs.toFixed(4)),
    rate: Math.round(rate),
    stalled: r.stalled,
  };
  log(`small: ${small.delivered} of ${SMALL_COUNT} delivered in ${small.secs} s = ${small.rate} msg/s${r.stalled ? ' (STALLED)' : ''}`);
  return { small };
}

// ---------------------------------------------------------------- main
async function main() {
  const started = Date.now();
  const result = {
    engine: `node-datachannel ${NDC_VERSION}`,
    libdatachannel: typeof ndc.getLibraryVersion === 'function' ? ndc.getLibraryVersion() : null,
    node: process.version,
    smoke: SMOKE,
  };
  log(`${result.engine} (libdatachannel ${result.libdatachannel}), node ${process.version}${SMOKE ? ', smoke' : ''}`);
  const rows = [
    ['setup', benchSetup],
    ['ping', benchPing],
    ['bulk', benchBulk],
    ['small', benchSmall],
  ];
  for (const [name, fn] of rows) {
    if (!ROWS.has(name)) continue;
    try {
      Object.assign(result, await fn());
    } catch (e) {
      log(`${name}: FAILED: ${e.stack ?? e}`);
      result[`${name}_error`] = String(e.message ?? e);
    }
  }
  result.total_secs = Number(((Date.now() - started) / 1000).toFixed(1));
  process.stdout.write(JSON.stringify(result) + '\n');
}

const hardTimeout = setTimeout(() => {
  log('hard timeout: giving up');
  process.exit(1);
}, 30 * 60 * 1000);
hardTimeout.unref();

main()
  .catch((e) => {
    log(`fatal: ${e.stack ?? e}`);
    process.exitCode = 1;
  })
  .finally(() => {
    try { ndc.cleanup(); } catch { /* ignore */ }
    process.exit(process.exitCode ?? 0);
  });
