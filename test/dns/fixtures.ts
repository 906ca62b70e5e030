import { Secret } from "../../lib/config/secret.ts";
import type { DnsConfig, DnsMaster } from "../../lib/config/types.ts";
import type { DnsClientOptions } from "../../lib/dns/client.ts";
import type { TsigKeyFixture } from "../support/named.ts";

// Builds validated DnsConfig objects directly (the config loader is not
// under test here) and the Secret the loader would have read from a file.

export const ZONE = "example.org";
export const OWNER = "test-cluster";

export function dnsConfig(
  masters: DnsMaster[],
  key: TsigKeyFixture,
  overrides: Partial<DnsConfig> = {},
): DnsConfig {
  return {
    zone: ZONE,
    masters,
    tsig: { name: key.name, algorithm: key.algorithm, secretFile: "/tmp/test/pvemigrate.tsig" },
    ttl: 60,
    timeoutMs: 700,
    totalTimeoutMs: 3000,
    ownerId: OWNER,
    deleteOnStop: false,
    moveTtl: 30,
    ...overrides,
  };
}

export function secretOf(key: TsigKeyFixture): Secret {
  return new Secret(key.secret, "/tmp/test/pvemigrate.tsig");
}

export function clientOptions(
  masters: DnsMaster[],
  key: TsigKeyFixture,
  overrides: Partial<DnsConfig> = {},
): DnsClientOptions {
  return { dns: dnsConfig(masters, key, overrides), tsigSecret: secretOf(key) };
}

export const master = (port: number): DnsMaster => ({ host: "127.0.0.1", port });
