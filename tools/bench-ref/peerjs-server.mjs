// The PeerJS signalling server (npm `peer`), the reference for peerchat's signal-server
// rows. Prints "listening on ws://127.0.0.1:PORT/peerjs" once it accepts connections;
// clients connect to that URL with ?key=peerjs&id=ID&token=TOKEN.
import { PeerServer } from "peer";

const port = Number(process.argv[2] ?? 0);
PeerServer(
  { port, host: "127.0.0.1", path: "/", concurrent_limit: 1_000_000, alive_timeout: 600_000 },
  (server) => console.log(`listening on ws://127.0.0.1:${server.address().port}/peerjs`),
);
