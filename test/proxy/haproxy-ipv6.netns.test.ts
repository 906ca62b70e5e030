import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProxyConfig } from "../../lib/config/types.ts";
import type { NodeDesired } from "../../lib/desired/types.ts";
import { netnsExec } from "../../lib/process/run.ts";
import { haproxyCommand } from "../../lib/proxy/admin-socket.ts";
import { createProxyBackend } from "../../lib/proxy/backend.ts";
import { writeMapFile } from "../../lib/proxy/files.ts";
import { haproxyMapFormat } from "../../lib/proxy/haproxy.ts";
import { renderHaproxyConfig } from "../../lib/proxy/haproxy-config.ts";
import { createWorld, makeCert, probe, startServer, type World } from "../support/netns.ts";
import { missing } from "../support/requirements.ts";

// Real HAProxy in node a's namespace, with the config renderHaproxyConfig
// writes: an IPv6 client reaches SNI and HTTP routes through the node's
// public IPv6 (HAProxy binds both families), and HAProxy carries the
// connection to the VM's IPv4 address, as for an IPv4 client.

describe.skipIf(missing({ root: true, bins: ["haproxy", "ip", "openssl"] }))(
  "HAProxy routes for IPv6 clients in network namespaces",
  () => {
    let world: World;
    const vmIp = "10.10.1.101";

    beforeAll(async () => {
      world = await createWorld({
        ipv6: true,
        vms: [{ name: "vm1", node: "a", ip: vmIp, ip6: "fd10:10:1::101" }],
      });
      const ns = world.vms.vm1!.ns;
      await startServer(world, ns, { kind: "tls", port: 443, label: "vm1", ...makeCert(world, "a.example") });
      await startServer(world, ns, { kind: "http", port: 80, label: "vm1" });

      const config: ProxyConfig = {
        backend: "haproxy",
        socket: join(world.dir, "admin.sock"),
        mapDir: join(world.dir, "maps"),
        httpsPort: 443,
        httpPort: 80,
        proxyProtocol: false,
      };
      for (const kind of ["sni", "http"] as const)
        await writeMapFile(join(config.mapDir, `${kind}.map`), haproxyMapFormat.render(kind, []));
      const cfg = join(world.dir, "haproxy.cfg");
      writeFileSync(cfg, renderHaproxyConfig(config));
      const child = world.spawn(world.nodes.a!.ns, ["haproxy", "-db", "-f", cfg]);
      for (
        let i = 0;
        !(await haproxyCommand(config.socket, "show info").catch(() => "")).includes("Pid:");
        i++
      ) {
        if (i > 100 || child.exitCode !== null)
          throw new Error(`haproxy did not come up (exit ${child.exitCode})`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const a = world.nodes.a!;
      const desired: NodeDesired = {
        node: "a",
        publicInterface: a.publicIf,
        publicIPv4: a.publicIp,
        publicIPv6: a.publicIp6!,
        privateIP: a.meshIp,
        vmNetwork: world.vmNetwork,
        forwards: [],
        routes: [
          { vmid: 101, kind: "sni", name: "a.example", target: vmIp, targetPort: 443 },
          { vmid: 101, kind: "http", name: "a.example", target: vmIp, targetPort: 80 },
        ],
      };
      const backend = createProxyBackend({ proxy: config, exec: netnsExec(a.ns) });
      await backend.apply(backend.plan(desired, await backend.read(), Date.now()));
    });
    afterAll(async () => {
      await world?.destroy();
    });

    it("an IPv6 client reaches the SNI and the HTTP route through the node's public IPv6", async () => {
      const a = world.nodes.a!;
      const gw = a.vmGateway; // HAProxy connects to the VM's IPv4 from node a's bridge
      expect(
        await probe(world, world.client.ns, {
          kind: "tls",
          host: a.publicIp6!,
          port: 443,
          servername: "a.example",
        }),
      ).toEqual({ ok: true, cn: "a.example", data: `vm1 a.example ${gw}` });
      expect(
        await probe(world, world.client.ns, {
          kind: "http",
          host: a.publicIp6!,
          port: 80,
          hostHeader: "a.example",
        }),
      ).toMatchObject({ ok: true, data: `vm1 a.example ${gw}` });
      // IPv4 clients keep their own bind.
      expect(
        await probe(world, world.client.ns, {
          kind: "tls",
          host: a.publicIp,
          port: 443,
          servername: "a.example",
        }),
      ).toMatchObject({ ok: true, cn: "a.example" });
    });
  },
);
