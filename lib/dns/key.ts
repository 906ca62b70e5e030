import type { Secret } from "../config/secret.ts";
import type { DnsConfig } from "../config/types.ts";
import { InputError } from "../errors.ts";
import type { TsigKey } from "./wire/tsig.ts";

// Builds the signing key from config + secret file content. The file may hold
// just the base64 secret or a whole `tsig-keygen` key clause; either way the
// error names the file, never its content.

export function tsigKeyFrom(tsig: DnsConfig["tsig"], secret: Secret): TsigKey {
  const text = secret.reveal().trim();
  const base64 = /secret\s+"([^"]*)"/.exec(text)?.[1] ?? text;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) {
    throw new InputError(`dns.tsig.secretFile: ${secret.file} does not hold a base64 TSIG secret`);
  }
  return { name: tsig.name, algorithm: tsig.algorithm, secret: Buffer.from(base64, "base64") };
}
