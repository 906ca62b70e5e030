import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProxmoxApiError } from "../../lib/cluster/client.ts";
import { getSnapshot } from "../../lib/cluster/snapshot.ts";
import { type SimCluster, startSimCluster } from "../../lib/sim/cluster.ts";
import { missing } from "../support/requirements.ts";
import { simClient } from "./helpers.ts";
import { makePki, type Pki } from "./tls-fixtures.ts";

// TLS really verified: the sim serves HTTPS with a certificate from a CA that
// openssl made for this test; the client must accept it only through the pin.

describe.skipIf(missing({ bins: ["openssl"] }))(
  "TLS pinning against the simulated cluster over HTTPS",
  () => {
    let pki: Pki;
    let sim: SimCluster;
    beforeAll(async () => {
      pki = await makePki();
      sim = await startSimCluster({ nodes: 2, vms: 3, tls: { key: pki.key, cert: pki.cert } });
    });
    afterAll(async () => {
      await sim?.stop();
      await pki?.cleanup();
    });

    const rejected = async (p: Promise<unknown>): Promise<string> => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ProxmoxApiError);
      return (err as Error).message;
    };

    it("accepts the server through the pinned CA file", async () => {
      const snap = await getSnapshot(simClient([sim.url], { caFile: pki.caFile }));
      expect(snap.nodes.map((n) => n.name)).toEqual(["pve1", "pve2"]);
      expect(snap.vms).toHaveLength(3);
    });

    it("refuses a server whose certificate is not from the pinned CA, before sending the token", async () => {
      const before = sim.requests.length;
      const msg = await rejected(
        simClient([sim.url], { caFile: pki.otherCaFile }).request("GET", "/cluster/status"),
      );
      expect(msg).toMatch(/TLS verification failed/);
      expect(msg).toContain(sim.url);
      expect(sim.requests.length).toBe(before);
    });

    it("refuses it without any pin too (system CAs do not know it)", async () => {
      const msg = await rejected(simClient([sim.url]).request("GET", "/cluster/status"));
      expect(msg).toMatch(/TLS verification failed/);
    });

    it("accepts the server through the pinned fingerprint (any case, with or without colons)", async () => {
      const fp = pki.fingerprint.replace(/:/g, "").toLowerCase();
      const snap = await getSnapshot(simClient([sim.url], { fingerprint: fp }));
      expect(snap.vms).toHaveLength(3);
    });

    it("refuses a wrong fingerprint, before sending the token", async () => {
      const before = sim.requests.length;
      const wrong = pki.fingerprint.replace(/^../, pki.fingerprint.startsWith("00") ? "11" : "00");
      const msg = await rejected(
        simClient([sim.url], { fingerprint: wrong }).request("GET", "/cluster/status"),
      );
      expect(msg).toContain("is not the pinned");
      expect(sim.requests.length).toBe(before);
    });

    it("names the CA file when it cannot be read", () => {
      expect(() => simClient([sim.url], { caFile: `${pki.dir}/missing.pem` })).toThrow(
        /proxmox\.caFile: cannot read/,
      );
    });
  },
);
