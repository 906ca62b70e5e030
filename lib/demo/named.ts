import { type ChildProcess, spawn } from "node:child_process";
import { access, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

// The demo's DNS master: a real BIND `named` on 127.0.0.1 (a high port)
// when it is installed, so the demo's updates are the real thing. Without it,
// scenario.ts starts inprocess-master.ts (same DemoMaster interface).

export interface DemoMaster {
  kind: "named" | "in-process";
  host: string;
  port: number;
  stop(): Promise<void>;
}

export async function findNamed(): Promise<string | undefined> {
  for (const p of ["/usr/sbin/named", "/usr/bin/named", "/usr/local/sbin/named"]) {
    try {
      await access(p);
      return p;
    } catch {}
  }
  return undefined;
}

async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

/** named.conf's options for a private instance on 127.0.0.1:port (tests add their notify settings). */
export function namedOptions(dir: string, port: number, extra: string[] = []): string {
  return [
    "options {",
    `  directory "${dir}";`,
    "  pid-file none;",
    "  session-keyfile none;",
    `  managed-keys-directory "${dir}";`,
    `  listen-on port ${port} { 127.0.0.1; };`,
    "  listen-on-v6 { none; };",
    "  recursion no;",
    "  dnssec-validation no;",
    ...extra.map((l) => `  ${l}`),
    "};",
    "controls { };",
  ].join("\n");
}

export interface ZoneSpec {
  zone: string;
  keyName: string;
  algorithm: string;
  secret: string;
}

export async function startDemoNamed(binary: string, dir: string, spec: ZoneSpec): Promise<DemoMaster> {
  const port = await freeTcpPort();
  const zoneFile = join(dir, "zone.db");
  await writeFile(
    zoneFile,
    [
      `$ORIGIN ${spec.zone}.`,
      "$TTL 300",
      `@ IN SOA master.${spec.zone}. hostmaster.${spec.zone}. 1 3600 600 86400 60`,
      `@ IN NS master.${spec.zone}.`,
      // A zone whose NS has no address does not load. Not ours (no ownership TXT): never touched.
      "master IN A 127.0.0.1",
      "",
    ].join("\n"),
  );
  const conf = join(dir, "named.conf");
  await writeFile(
    conf,
    `${namedOptions(dir, port, ["notify no;"])}
key "${spec.keyName}" { algorithm ${spec.algorithm}; secret "${spec.secret}"; };
zone "${spec.zone}" {
  type primary;
  file "${zoneFile}";
  update-policy { grant "${spec.keyName}" zonesub ANY; };
};
`,
  );
  const child: ChildProcess = spawn(binary, ["-g", "-4", "-c", conf], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr?.on("data", (b: Buffer) => {
    log += b.toString("utf8");
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(t);
  };
  const deadline = Date.now() + 15_000;
  // "running" means the server is up, not that the zone loaded: wait for both.
  while (
    !/running$/m.test(log) ||
    !new RegExp(`zone ${spec.zone.replace(/\./g, "\\.")}/IN: loaded`).test(log)
  ) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`named did not start: ${log.trim().split("\n").slice(-3).join(" | ")}`);
    }
    await sleep(50);
  }
  return { kind: "named", host: "127.0.0.1", port, stop };
}
