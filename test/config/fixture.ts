import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { ConfigError, loadConfig } from "../../lib/config/load.ts";
import { formatProblem } from "../../lib/config/normalize.ts";
import type { Config } from "../../lib/config/types.ts";

// A valid base config in a temp dir (with its secret files, mode 600), which
// each test breaks in one way. The secret values are distinctive strings so a
// test can prove they never reach any output.

export const TOKEN_SECRET = "tok-5ecret-aaaa-bbbb-cccc-0123456789ab";
export const TSIG_SECRET = "c2VjcmV0LXRzaWcta2V5LWZvci10ZXN0cy0wMTIzNDU2Nzg5YWI=";

// biome-ignore lint/suspicious/noExplicitAny: test documents are free-form YAML, broken on purpose
export type Doc = Record<string, any>;

export function baseDoc(): Doc {
  return {
    proxmox: {
      endpoints: ["https://127.0.0.1:8006"],
      tokenId: "root@pam!pvemigrate",
      tokenSecretFile: "token",
    },
    nodes: {
      pve1: { publicIPv4: "203.0.113.10", privateIP: "10.10.0.1", publicInterface: "eno1" },
      pve2: { publicIPv4: "198.51.100.20", privateIP: "10.10.0.2", publicInterface: "eno1" },
    },
    dns: {
      zone: "example.org",
      masters: ["10.10.3.53", "10.10.1.53:5353"],
      tsig: { name: "pvemigrate-key", algorithm: "hmac-sha256", secretFile: "tsig" },
    },
    vms: {
      101: {
        ip: "10.10.1.101",
        dns: ["mail.example.org"],
        forward: ["tcp/25", "tcp/2222:22"],
        sni: ["webmail.example.org"],
        http: ["webmail.example.org"],
      },
      102: { ip: "10.10.1.102", dns: ["shop.example.org"], forward: ["udp/27015"] },
    },
  };
}

export interface Fixture {
  dir: string;
  write(doc: Doc, name?: string): string;
  cleanup(): void;
}

export function makeFixture(): Fixture {
  const dir = mkdtempSync(join(tmpdir(), "pvemigrate-config-"));
  for (const [file, value] of [
    ["token", TOKEN_SECRET],
    ["tsig", TSIG_SECRET],
  ] as const) {
    writeFileSync(join(dir, file), `${value}\n`);
    chmodSync(join(dir, file), 0o600);
  }
  return {
    dir,
    write(doc, name = "cluster.yaml") {
      const file = join(dir, name);
      writeFileSync(file, name.endsWith(".json") ? JSON.stringify(doc) : stringify(doc));
      return file;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The config of baseDoc() changed by `mutate`, loaded as the CLI loads it. */
export async function configOf(fx: Fixture, mutate: (doc: Doc) => void): Promise<Config> {
  const doc = baseDoc();
  mutate(doc);
  return (await loadConfig(fx.write(doc))).config;
}

/** A Notes policy of the kind an admin grants tenants: their own suffix and port range, a few of each. */
export const NOTES_POLICY = {
  enabled: true,
  dnsSuffixes: ["tenants.example.org"],
  ports: ["tcp/20000-20999", "udp/20000-20999"],
  maxNames: 6,
  maxForwards: 4,
  ip: "agent",
};

/** Loads baseDoc() changed by `mutate`; its problems as "path: message" lines (none when valid). */
export async function problemsOf(fx: Fixture, mutate: (doc: Doc) => void): Promise<string[]> {
  const doc = baseDoc();
  mutate(doc);
  try {
    await loadConfig(fx.write(doc));
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map(formatProblem);
  }
}
