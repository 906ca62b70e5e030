import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProxmoxClient, ProxmoxApiError } from "../../lib/cluster/client.ts";
import { getSnapshot } from "../../lib/cluster/snapshot.ts";
import { forNode } from "../../lib/config/for-node.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { Secret } from "../../lib/config/secret.ts";
import type { ProxmoxConfig } from "../../lib/config/types.ts";
import { type SimCluster, startSimCluster } from "../../lib/sim/cluster.ts";
import { baseDoc, type Fixture, makeFixture } from "../config/fixture.ts";
import { missing } from "../support/requirements.ts";
import { proxmoxConfig } from "./helpers.ts";
import { ACME_NAME, makePki, type Pki } from "./tls-fixtures.ts";

// A node with a custom or ACME certificate on pveproxy (pveproxy-ssl.pem, which
// pveproxy serves instead of pve-ssl.pem) fails the pve-root-ca pin, and a
// fingerprint pin breaks at every renewal. `caFile: system` verifies it like a
// browser: a CA the system trusts, and the name it was issued for (serverName).
// The sim serves such a certificate; the "system" CA set is substituted by the
// test's public CA (createProxmoxClient's systemCas), everything else is real TLS.

describe.skipIf(missing({ bins: ["openssl"] }))(
  "TLS against the system CAs with an expected server name",
  () => {
    let pki: Pki;
    let sim: SimCluster;
    beforeAll(async () => {
      pki = await makePki();
      sim = await startSimCluster({ nodes: 2, vms: 2, tls: pki.acme });
    });
    afterAll(async () => {
      await sim?.stop();
      await pki?.cleanup();
    });

    const client = (extra: Partial<ProxmoxConfig>, systemCas = [pki.publicCa]) =>
      createProxmoxClient({
        proxmox: proxmoxConfig([sim.url], extra),
        tokenSecret: new Secret(sim.tokenSecret, "/tmp/pvemigrate-test.token"),
        systemCas,
      });
    const refusal = async (extra: Partial<ProxmoxConfig>, systemCas?: string[]) => {
      const before = sim.requests.length;
      const err = await client(extra, systemCas)
        .request("GET", "/cluster/status")
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProxmoxApiError);
      expect(sim.requests.length).toBe(before); // refused before the token was sent
      return (err as Error).message;
    };

    it("accepts the certificate through the system CAs when serverName is the name it carries", async () => {
      const snap = await getSnapshot(client({ caFile: "system", serverName: ACME_NAME }));
      expect(snap.vms).toHaveLength(2);
    });

    it("refuses it when serverName is another node's name", async () => {
      const msg = await refusal({ caFile: "system", serverName: "pve2.example.org" });
      expect(msg).toMatch(/TLS verification failed: .*pve2\.example\.org/);
    });

    it("refuses it without serverName: the endpoint's address is not a name on the certificate", async () => {
      expect(await refusal({ caFile: "system" })).toMatch(/TLS verification failed: .*127\.0\.0\.1/);
    });

    it("refuses it when no system CA issued it", async () => {
      const other = readFileSync(pki.otherCaFile, "utf8");
      expect(await refusal({ caFile: "system", serverName: ACME_NAME }, [other])).toMatch(
        /TLS verification failed/,
      );
    });

    it("refuses it against pve-root-ca.pem, the default pin (why the option exists)", async () => {
      expect(await refusal({ caFile: pki.caFile, serverName: ACME_NAME })).toMatch(/TLS verification failed/);
    });
  },
);

describe("proxmox.caFile: system and proxmox.serverName in the config", () => {
  let fx: Fixture;
  beforeAll(() => {
    fx = makeFixture();
  });
  afterAll(() => fx.cleanup());
  const load = (proxmox: Record<string, unknown>) => {
    const doc = baseDoc();
    Object.assign(doc.proxmox, proxmox);
    return loadConfig(fx.write(doc));
  };
  const problem = async (proxmox: Record<string, unknown>) =>
    (await load(proxmox).then(
      () => "loaded",
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    )) as string;

  it('keeps "system" as the word, not a path relative to the config file', async () => {
    const { config } = await load({ caFile: "system", serverName: "{node}.example.org" });
    expect(config.proxmox.caFile).toBe("system");
    expect(forNode(config, "pve2").proxmox.serverName).toBe("pve2.example.org");
  });

  it("refuses serverName next to a fingerprint pin, naming the field", async () => {
    const fp = Array.from({ length: 32 }, () => "AB").join(":");
    const msg = await problem({ fingerprint: fp, serverName: ACME_NAME });
    expect(msg.split("\n").slice(1)).toEqual([
      "proxmox.serverName: cannot be combined with proxmox.fingerprint (a fingerprint pin checks no CA and no name)",
    ]);
  });

  it("refuses a serverName that is not a host name", async () => {
    expect(await problem({ caFile: "system", serverName: "pve1 example" })).toContain(
      'proxmox.serverName: "pve1 example" is not a host name',
    );
  });
});
