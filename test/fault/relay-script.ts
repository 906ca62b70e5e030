// The relay in front of each master of the fault matrix's DNS namespace (run
// there with `node -e`): UDP and TCP on the master's address, passed to its
// named on the namespace's loopback. Requests go through at once; each reply
// waits `delay` ms first (0 until a "delay <ms>" line on stdin changes it,
// answered "DELAY <ms>"; "delay <ms> update" holds only UPDATE replies: the
// master reads at once but answers an update late). It stands in for `tc netem delay`, which this
// kernel lacks; loss and silence are nft rules, not the relay's business.

export const RELAY_JS = `
const spec = JSON.parse(process.argv[1]);
const dgram = require("node:dgram");
const net = require("node:net");
let delay = 0;
let onlyUpdates = false;
const isUpdate = (msg) => msg.length > 2 && ((msg[2] >> 3) & 0x0f) === 5;
const later = (reply, fn) => (delay > 0 && (!onlyUpdates || isUpdate(reply)) ? setTimeout(fn, delay) : fn());
require("node:readline").createInterface({ input: process.stdin }).on("line", (l) => {
  const m = /^delay (\\d+)( update)?$/.exec(l.trim());
  if (m) { delay = Number(m[1]); onlyUpdates = m[2] !== undefined; console.log("DELAY " + delay); }
});
const server = dgram.createSocket("udp4");
server.on("message", (msg, rinfo) => {
  const up = dgram.createSocket("udp4");
  const done = setTimeout(() => up.close(), 30000);
  up.on("error", () => {});
  up.on("message", (reply) => {
    clearTimeout(done);
    up.close();
    later(reply, () => server.send(reply, rinfo.port, rinfo.address));
  });
  up.send(msg, spec.upstream, "127.0.0.1");
});
const tcp = net.createServer((client) => {
  const up = net.connect({ host: "127.0.0.1", port: spec.upstream });
  const drop = () => { client.destroy(); up.destroy(); };
  client.on("data", (b) => up.write(b));
  client.on("end", () => up.end());
  client.on("error", drop);
  // A TCP reply is one DNS message after its 2-byte length here (small, one chunk).
  up.on("data", (b) => later(b.subarray(2), () => client.write(b)));
  up.on("end", () => setTimeout(() => client.end(), delay));
  up.on("error", drop);
});
let ready = 0;
const up = () => { if (++ready === 2) console.log("READY"); };
server.bind(spec.port, spec.listen, up);
tcp.listen(spec.port, spec.listen, up);
`;
