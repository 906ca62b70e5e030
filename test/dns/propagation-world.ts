import { afterAll, beforeAll } from "vitest";
import type { DnsPropagation } from "../../lib/config/types.ts";
import {
  type DnsDaemon,
  freePort,
  generateTsigKey,
  loopbackAliases,
  type NamedPrimaryOptions,
  startNamedPrimary,
  startNamedSecondary,
  type TsigKeyFixture,
} from "../support/named.ts";
import { ZONE } from "./fixtures.ts";

// The propagation check's world, the same whatever implementation the primary
// is (BIND in propagation.test.ts, PowerDNS in pdns.test.ts): three loopback
// addresses sharing one port, as name servers share port 53, so the zone's NS
// records can name them (the addresses are added to lo for the file's tests
// and removed after them):
//   127.0.0.1  the primary, NOTIFYing the secondary
//   127.0.0.2  a BIND secondary (AXFR/IXFR on NOTIFY), forwarding updates
//   127.0.0.3  an independent BIND primary of the same zone that never hears
//              of our writes (two master candidates that do not replicate)

const SECONDARY_HOST = "127.0.0.2";
const STRAY_HOST = "127.0.0.3";
const HOSTS = ["127.0.0.1", SECONDARY_HOST, STRAY_HOST];

export interface PropagationWorld {
  readonly key: TsigKeyFixture;
  /** The one port every server of the world listens on. */
  readonly port: number;
  readonly primary: DnsDaemon;
  /** A client's dns.propagation: the zone's NS set on the world's port, 127.0.0.0/8 allowed, then `p`. */
  settings(p: Partial<DnsPropagation>): DnsPropagation;
}

export interface PropagationWorldOptions {
  /** Starts the primary at 127.0.0.1:`port`, holding the zone and NOTIFYing `notifyTo`. */
  primary(at: {
    key: TsigKeyFixture;
    port: number;
    notifyTo: Array<{ host: string; port: number }>;
  }): Promise<DnsDaemon>;
  /** What the stray primary's zone holds. */
  stray: Pick<NamedPrimaryOptions, "records" | "nameServers">;
}

/** Registers the world's start (beforeAll) and stop (afterAll) in the calling describe. */
export function propagationWorld(opts: PropagationWorldOptions): PropagationWorld {
  let state: { key: TsigKeyFixture; port: number; primary: DnsDaemon } | undefined;
  const daemons: DnsDaemon[] = [];
  let aliases: { remove(): Promise<void> } | undefined;

  beforeAll(async () => {
    const key = await generateTsigKey("pvemigrate-key");
    aliases = await loopbackAliases([SECONDARY_HOST, STRAY_HOST]);
    const port = await freePort(HOSTS);
    const primary = await opts.primary({ key, port, notifyTo: [{ host: SECONDARY_HOST, port }] });
    daemons.push(primary);
    const zone = { zone: ZONE, keys: [key], port };
    daemons.push(await startNamedSecondary({ ...zone, host: SECONDARY_HOST, primaryPort: port }));
    daemons.push(await startNamedPrimary({ ...zone, host: STRAY_HOST, ...opts.stray }));
    state = { key, port, primary };
  });
  afterAll(async () => {
    await Promise.allSettled(daemons.map((d) => d.stop()));
    await aliases?.remove();
  });

  const started = () => {
    if (!state) throw new Error("the propagation world did not start");
    return state;
  };
  return {
    get key() {
      return started().key;
    },
    get port() {
      return started().port;
    },
    get primary() {
      return started().primary;
    },
    settings: (p) => ({
      nameServers: true,
      allow: ["127.0.0.0/8"],
      port: started().port,
      servers: [],
      waitSeconds: 10,
      ...p,
    }),
  };
}
