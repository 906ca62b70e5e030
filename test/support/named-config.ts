import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import type { TsigKeyFixture } from "./named.ts";

// A config for the dns commands against named fixtures on 127.0.0.1: one
// node, the masters at the given ports, the fixture's TSIG key. The `dns`
// tests differ only in the ports, the dns: extras and the VMs, so that is
// all they pass; the secret files sit next to the config (mode 600), where its
// relative secretFile paths point.

export interface NamedConfigOptions {
  /** The named fixtures' ports: the masters, in this order. */
  ports: readonly number[];
  /** More dns: settings (ttl, ownerId, propagation...). */
  dns?: Record<string, unknown>;
  vms?: Record<string, unknown>;
  /** The TSIG secret file the config names (default "tsig", as writeNamedSecrets writes it). */
  tsigFile?: string;
}

/** Writes the TSIG secret of `key` to dir/tsig and an API token to dir/token, mode 600. */
export function writeNamedSecrets(dir: string, key: TsigKeyFixture): void {
  writeFileSync(join(dir, "tsig"), `${key.secret}\n`, { mode: 0o600 });
  writeFileSync(join(dir, "token"), "token-value\n", { mode: 0o600 });
}

/** Writes the config as YAML to `file` (secret files beside it) and returns its path. */
export function writeNamedConfig(file: string, key: TsigKeyFixture, opts: NamedConfigOptions): string {
  const doc = {
    proxmox: { endpoints: ["https://127.0.0.1:8006"], tokenId: "root@pam!t", tokenSecretFile: "token" },
    nodes: { pve1: { publicIPv4: "203.0.113.10", privateIP: "10.10.0.1", publicInterface: "eno1" } },
    dns: {
      zone: "example.org",
      masters: opts.ports.map((p) => `127.0.0.1:${p}`),
      tsig: { name: key.name, algorithm: key.algorithm, secretFile: opts.tsigFile ?? "tsig" },
      ...opts.dns,
    },
    vms: opts.vms ?? {},
  };
  writeFileSync(file, stringify(doc));
  return file;
}
