import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type DnsDaemon,
  daemonInternals,
  freePort,
  type TsigKeyFixture,
  waitForZone,
  zoneFile,
} from "./named.ts";

// A real Knot DNS primary: a second, independent implementation of RFC 2136
// and TSIG, so the client is not just bug-compatible with BIND.

export interface KnotOptions {
  zone: string;
  /** Keys allowed to update the zone. */
  keys: TsigKeyFixture[];
  /** Keys an acl lets transfer the zone but not update it (a zone-transfer key). */
  transferKeys?: TsigKeyFixture[];
  /** Keys defined in knot.conf that no acl names (knotd answers BADKEY to them, as to unknown keys). */
  unusedKeys?: TsigKeyFixture[];
  records?: string[];
}

export async function startKnot(opts: KnotOptions): Promise<DnsDaemon> {
  const dir = await mkdtemp(join(tmpdir(), `pvemigrate-knot-${process.pid}-`));
  const port = await freePort();
  const zonePath = join(dir, "zone.db");
  await writeFile(zonePath, zoneFile(opts.zone, opts.records));
  const conf = `server:
    rundir: "${dir}"
    user: root:root
    listen: 127.0.0.1@${port}
log:
  - target: stderr
    any: info
database:
    storage: "${dir}"
key:
${[...opts.keys, ...(opts.transferKeys ?? []), ...(opts.unusedKeys ?? [])].map((k) => `  - id: ${k.name}\n    algorithm: ${k.algorithm}\n    secret: ${k.secret}`).join("\n")}
acl:
  - id: update
    key: [${opts.keys.map((k) => k.name).join(", ")}]
    action: update
${opts.transferKeys?.length ? `  - id: transfer\n    key: [${opts.transferKeys.map((k) => k.name).join(", ")}]\n    action: transfer\n` : ""}zone:
  - domain: ${opts.zone}
    storage: "${dir}"
    file: "${zonePath}"
    acl: [update${opts.transferKeys?.length ? ", transfer" : ""}]
`;
  const confPath = join(dir, "knot.conf");
  await writeFile(confPath, conf);
  const s = daemonInternals.spawnDaemon(["knotd", "-c", confPath]);
  try {
    await waitForZone(s, port, opts.zone, "knotd");
  } catch (err) {
    await daemonInternals.stopDaemon(s, dir);
    throw err;
  }
  return { host: "127.0.0.1", port, dir, log: s.output, stop: () => daemonInternals.stopDaemon(s, dir) };
}
