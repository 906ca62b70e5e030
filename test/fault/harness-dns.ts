import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { type RunResult, run, runChecked } from "../../lib/process/run.ts";
import {
  type DnsDaemon,
  generateTsigKey,
  startNamedPrimary,
  startNamedSecondary,
  type TsigKeyFixture,
} from "../support/named.ts";
import { waitForOutput } from "../support/netns.ts";
import { RELAY_JS } from "./relay-script.ts";

// The DNS masters of the fault matrix, in a network namespace of their own so
// that faults hit only them: a real BIND primary and a secondary that
// forwards updates to it, each behind a relay on its own address at the
// namespace end of one veth pair (its other end is the host's, where the
// orchestrator runs). Faults are kernel rules inside the namespace (nft: a
// silent master drops, a down one rejects, loss drops at random) and the
// relays' reply delay (slow masters). Delay would be `tc netem`'s job, but
// this machine's kernel has no netem (CONFIG_NET_SCH_NETEM unset), so the
// relay holds each reply instead: the request reaches named at once, the
// answer comes late, exactly the "applied, then reported late" case.
//
//   host: pvf<pid><n> 169.254.X.(b+1) ── eth0 169.254.X.(b+2) relay → named primary   127.0.0.1:5301
//                                            169.254.X.(b+3) relay → named secondary 127.0.0.1:5302
//
// 169.254.0.0/16 is link-local: it exists only on this veth (never routed
// anywhere else); X avoids 169 (cloud metadata). Only these addresses, inside
// our own namespace, are ever contacted.

export type Which = "primary" | "secondary";
export const BOTH: readonly Which[] = ["primary", "secondary"];

const NAMED_PORT: Record<Which, number> = { primary: 5301, secondary: 5302 };
/** The source of the test's own reads inside the namespace: no fault rule matches it. */
const PROBE_SOURCE = "127.0.0.9";

export interface DnsFaultNamespace {
  ns: string;
  key: TsigKeyFixture;
  /** Where clients reach each master (its relay): what the config's dns.masters names. */
  master: Record<Which, DnsDaemon>;
  /** No answer at all from the host's side: requests to it are dropped (it still hears its peer). */
  silent(which: readonly Which[]): Promise<void>;
  /** Down as a stopped daemon is: every request to it (also its peer's) is refused at once. */
  down(which: readonly Which[]): Promise<void>;
  /** Drops `percent` % of the packets between the host and the masters, both directions. */
  loss(percent: number, which: readonly Which[]): Promise<void>;
  /** Each reply (or only each UPDATE's) leaves `ms` late; the request is served at once. */
  slow(ms: number, which: readonly Which[], only?: "updates"): Promise<void>;
  /** Lifts every fault. */
  clear(): Promise<void>;
  /** +short answers of `name type` straight from named (no relay, no fault). */
  answers(which: Which, name: string, type: string): Promise<string[]>;
  stop(): Promise<void>;
}

let made = 0;

/** A free 169.254.X.b/29 on the host: X from the pid (parallel test files differ), b by counter. */
async function pickSubnet(): Promise<{ x: number; base: number }> {
  const taken = (await runChecked(["ip", "-4", "-o", "addr", "show"])).stdout;
  for (let tries = 0; tries < 32; tries++) {
    const x = 200 + ((process.pid + tries) % 50);
    const base = 8 * (++made % 32);
    if (!taken.includes(`169.254.${x}.${base + 1}/`)) return { x, base };
  }
  throw new Error("no free 169.254.x.y/29 for the DNS namespace");
}

async function must(argv: string[]): Promise<RunResult> {
  const r = await run(argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r;
}

function startRelay(ns: string, listen: string, upstream: number): ChildProcessWithoutNullStreams {
  const spec = JSON.stringify({ listen, port: 53, upstream });
  return spawn("ip", ["netns", "exec", ns, process.execPath, "-e", RELAY_JS, spec], {
    stdio: ["pipe", "pipe", "pipe"],
  });
}

export async function startDnsFaultNamespace(opts: {
  zone: string;
  records?: string[];
}): Promise<DnsFaultNamespace> {
  // The netns fixture's naming (pvm<pid>w<n>-...), so a killed run's namespace is swept like its worlds.
  const ns = `pvm${process.pid}w${900 + made}-dns`;
  const hostIf = `pvf${process.pid}${made}`.slice(0, 15);
  const { x, base } = await pickSubnet();
  const addr = (i: number) => `169.254.${x}.${base + i}`;
  const address: Record<Which, string> = { primary: addr(2), secondary: addr(3) };
  const cleanups: Array<() => Promise<unknown>> = [];
  const relays: ChildProcessWithoutNullStreams[] = [];
  const stopAll = async () => {
    for (const r of relays) r.kill("SIGKILL");
    for (const c of cleanups.reverse()) await c().catch(() => {});
    cleanups.length = 0;
  };
  try {
    await must(["ip", "netns", "add", ns]);
    cleanups.push(() => run(["ip", "netns", "del", ns]));
    await must(["ip", "-n", ns, "link", "set", "lo", "up"]);
    await must(["ip", "link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", ns]);
    cleanups.push(() => run(["ip", "link", "del", hostIf]));
    await must(["ip", "addr", "add", `${addr(1)}/29`, "dev", hostIf]);
    await must(["ip", "link", "set", hostIf, "up"]);
    for (const a of [address.primary, address.secondary])
      await must(["ip", "-n", ns, "addr", "add", `${a}/29`, "dev", "eth0"]);
    await must(["ip", "-n", ns, "link", "set", "eth0", "up"]);

    const key = await generateTsigKey("pvemigrate-key");
    const inner = (which: Which) => ({ zone: opts.zone, keys: [key], netns: ns, port: NAMED_PORT[which] });
    const primary = await startNamedPrimary({
      ...inner("primary"),
      records: opts.records ?? [],
      notifyPorts: [NAMED_PORT.secondary],
      // The SOA MNAME's address is the primary's relay: the client learns which candidate is the primary.
      nameServers: [{ name: "ns1", address: address.primary }],
    });
    cleanups.push(() => primary.stop());
    const secondary = await startNamedSecondary({ ...inner("secondary"), primaryPort: NAMED_PORT.primary });
    cleanups.push(() => secondary.stop());
    for (const which of BOTH) {
      const relay = startRelay(ns, address[which], NAMED_PORT[which]);
      relays.push(relay);
      await waitForOutput(relay, /READY/);
    }
    const relayOf = (which: Which) => relays[BOTH.indexOf(which)] as ChildProcessWithoutNullStreams;

    const nft = async (script: string) => {
      const r = await run(["ip", "netns", "exec", ns, "nft", "-f", "-"], { input: script });
      if (r.code !== 0) throw new Error(`nft in ${ns}: ${r.stderr.trim()}`);
    };
    const chains = `table inet fault {
  chain input { type filter hook input priority filter; }
  chain output { type filter hook output priority filter; }
}`;
    await nft(chains);
    const rules = (chain: "input" | "output", lines: string[]) =>
      nft(lines.map((l) => `add rule inet fault ${chain} ${l}`).join("\n"));
    const daddrs = (which: readonly Which[]) => `{ ${which.map((w) => address[w]).join(", ")} }`;
    const innerPorts = (which: readonly Which[]) => `{ ${which.map((w) => NAMED_PORT[w]).join(", ")} }`;

    const master = Object.fromEntries(
      BOTH.map((which) => [
        which,
        { host: address[which], port: 53, dir: ns, log: () => "", stop: async () => {} },
      ]),
    ) as Record<Which, DnsDaemon>;
    return {
      ns,
      key,
      master,
      silent: (which) => rules("input", [`iifname "eth0" ip daddr ${daddrs(which)} drop`]),
      down: (which) =>
        rules("input", [
          `ip daddr ${daddrs(which)} meta l4proto tcp reject with tcp reset`,
          `ip daddr ${daddrs(which)} reject`,
          // Its peer cannot reach it either (the secondary forwards to a dead primary);
          // only the test's own reads (from PROBE_SOURCE) still see what it holds.
          `ip saddr != ${PROBE_SOURCE} ip daddr 127.0.0.1 th dport ${innerPorts(which)} meta l4proto tcp reject with tcp reset`,
          `ip saddr != ${PROBE_SOURCE} ip daddr 127.0.0.1 th dport ${innerPorts(which)} reject`,
        ]),
      async loss(percent, which) {
        await rules("input", [
          `iifname "eth0" ip daddr ${daddrs(which)} numgen random mod 100 < ${percent} drop`,
        ]);
        await rules("output", [
          `oifname "eth0" ip saddr ${daddrs(which)} numgen random mod 100 < ${percent} drop`,
        ]);
      },
      async slow(ms, which, only) {
        for (const w of which) {
          const relay = relayOf(w);
          relay.stdin.write(`delay ${ms}${only ? " update" : ""}\n`);
          await waitForOutput(relay, new RegExp(`DELAY ${ms}\\b`));
        }
      },
      async clear() {
        await nft("flush table inet fault");
        await nft(chains);
        for (const w of BOTH) {
          relayOf(w).stdin.write("delay 0\n");
          await waitForOutput(relayOf(w), /DELAY 0\b/);
        }
      },
      async answers(which, name, type) {
        const r = await run(
          [
            "ip",
            "netns",
            "exec",
            ns,
            "dig",
            "-b",
            PROBE_SOURCE,
            "+norec",
            "+short",
            "+time=1",
            "+tries=2",
          ].concat(["-p", String(NAMED_PORT[which]), "@127.0.0.1", name, type]),
        );
        if (r.code !== 0) throw new Error(`dig ${name} ${type} at the ${which}: ${r.stdout}${r.stderr}`);
        return r.stdout
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => l !== "")
          .sort();
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
