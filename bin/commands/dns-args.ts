import type { LoadedConfig } from "../../lib/config/load.ts";
import { ipv4Mapped } from "../../lib/config/values.ts";
import {
  type Addresses,
  type NameWrite,
  normalizeAddresses,
  ownershipTxt,
  sectionsFor,
} from "../../lib/dns/changes.ts";
import { tsigKeyFrom } from "../../lib/dns/key.ts";
import { encodeName } from "../../lib/dns/wire/codec.ts";
import { signMessage } from "../../lib/dns/wire/tsig.ts";
import { encodeUpdate } from "../../lib/dns/wire/update.ts";
import { InputError } from "../../lib/errors.ts";

// What `dns set|delete` accept on the command line, checked before any
// master is contacted: TTL, addresses (no IPv4-mapped IPv6), --expect, and
// that the one UPDATE message the write needs fits in 64 KiB.

export function parseTtl(ttl: string | number | undefined): number | undefined {
  if (ttl === undefined) return undefined;
  const n = typeof ttl === "number" ? ttl : /^\d+$/.test(ttl) ? Number(ttl) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > 2_147_483_647) {
    throw new InputError(`--ttl: "${ttl}" is not a TTL in seconds (0..2147483647)`);
  }
  return n;
}

/**
 * Addresses given on the command line. An IPv4-mapped IPv6 address
 * (`::ffff:192.0.2.1`) is refused: written as AAAA it would replace the
 * name's A record with an address no client reaches over IPv6.
 */
export function parseAddresses(values: readonly string[], argument: string): Addresses {
  for (const value of values) {
    const v4 = ipv4Mapped(value.trim());
    if (v4) {
      throw new InputError(
        `${argument}: "${value}" is the IPv4 address ${v4} written as IPv6 (IPv4-mapped); give ${v4} for an A record`,
      );
    }
  }
  return normalizeAddresses(values, argument);
}

/** A DNS message over TCP carries a 16-bit length (RFC 1035 4.2.2): no UPDATE can be larger. */
export const MAX_MESSAGE_BYTES = 65_535;

/**
 * Refuses a `dns set` whose one UPDATE message (compare-and-swap
 * prerequisites, the adds, the TSIG record) would exceed MAX_MESSAGE_BYTES,
 * measured with the same encoders the client sends with. The form that needs
 * more bytes (create or replace) is measured, so a check that passes holds
 * whatever the master holds now.
 */
export function checkFitsOneMessage(
  loaded: LoadedConfig,
  name: string,
  desired: Addresses,
  expect: Addresses | undefined,
  ttl: number,
): void {
  const { dns } = loaded.config;
  const txt = ownershipTxt(dns.ownerId);
  const forms: NameWrite["form"][] = [
    { kind: "create" },
    { kind: "replace", expect: expect ?? { a: [], aaaa: [] }, txt: [txt] },
  ];
  const key = tsigKeyFrom(dns.tsig, loaded.secrets.tsig);
  const bytes = Math.max(
    ...forms.map((form) => {
      const message = encodeUpdate({
        id: 0,
        zone: dns.zone,
        ...sectionsFor({ name, desired, form }, ttl, txt),
      });
      return signMessage(message, key, 0).message.length;
    }),
  );
  if (bytes <= MAX_MESSAGE_BYTES) return;
  // One A record: owner name, type, class, TTL, RDLENGTH, 4 address bytes.
  const perA = encodeName(name).length + 14;
  const count = desired.a.length + desired.aaaa.length;
  const room = MAX_MESSAGE_BYTES - (bytes - desired.a.length * perA - desired.aaaa.length * (perA + 12));
  throw new InputError(
    `ADDRESS: ${count} addresses need a ${bytes}-byte DNS message, over the ${MAX_MESSAGE_BYTES} bytes one message holds (${Math.max(0, Math.floor(room / perA))} IPv4 addresses fit for ${name})`,
  );
}

export function parseExpect(expect: string[] | undefined): Addresses | undefined {
  if (expect === undefined) return undefined;
  const values = expect
    .flatMap((e) => e.split(","))
    .map((e) => e.trim())
    .filter((e) => e !== "");
  if (values.length === 1 && values[0] === "none") return { a: [], aaaa: [] };
  if (values.length === 0) throw new InputError('--expect: give the current address(es), or "none"');
  return parseAddresses(values, "--expect");
}

/** Outcomes that changed nothing because the name is not ours or not as expected: exit 1. */
