import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProxyConfig } from "../../lib/config/types.ts";
import type { NodeDesired, NodeRoute } from "../../lib/desired/types.ts";
import { InputError } from "../../lib/errors.ts";
import { renderPlan } from "../../lib/plan/types.ts";
import { netnsExec } from "../../lib/process/run.ts";
import { haproxyCommand } from "../../lib/proxy/admin-socket.ts";
import { createProxyBackend, type ProxyBackend } from "../../lib/proxy/backend.ts";
import { writeMapFile } from "../../lib/proxy/files.ts";
import { haproxyMapFormat } from "../../lib/proxy/haproxy.ts";
import { renderHaproxyConfig } from "../../lib/proxy/haproxy-config.ts";
import { createWorld, makeCert, probe, startServer, type World } from "../support/netns.ts";
import { missing } from "../support/requirements.ts";

// Real HAProxy 2.6 inside node a's namespace, real TLS/HTTP servers in two VM
// namespaces, the client in its own namespace: SNI and Host routing through
// maps, changed at run time over the admin socket.

const sni = (vmid: number, name: string, target: string, targetPort = 443): NodeRoute => ({
  vmid,
  kind: "sni",
  name,
  target,
  targetPort,
});
const http = (vmid: number, name: string, target: string, targetPort = 80): NodeRoute => ({
  vmid,
  kind: "http",
  name,
  target,
  targetPort,
});

interface Proxy {
  backend: ProxyBackend;
  config: ProxyConfig;
  process: ChildProcessWithoutNullStreams;
}

async function startHaproxy(world: World, tag: string, opts: Partial<ProxyConfig>): Promise<Proxy> {
  const config: ProxyConfig = {
    backend: "haproxy",
    socket: join(world.dir, `${tag}.sock`),
    mapDir: join(world.dir, tag),
    httpsPort: 443,
    httpPort: 80,
    proxyProtocol: false,
    ...opts,
  };
  const backend = createProxyBackend({ proxy: config, exec: netnsExec(world.nodes.a!.ns) });
  // The map files must exist when HAProxy starts.
  for (const kind of ["sni", "http"] as const) {
    await writeMapFile(join(config.mapDir, `${kind}.map`), haproxyMapFormat.render(kind, []));
  }
  const cfg = join(world.dir, `${tag}.cfg`);
  writeFileSync(cfg, renderHaproxyConfig(config));
  const check = await world.exec(world.nodes.a!.ns, ["haproxy", "-c", "-f", cfg]);
  expect(check.code, check.stdout + check.stderr).toBe(0);
  const child = world.spawn(world.nodes.a!.ns, ["haproxy", "-db", "-f", cfg]);
  for (let i = 0; ; i++) {
    const info = await haproxyCommand(config.socket, "show info").catch(() => "");
    if (info.includes("Pid:")) break;
    if (i > 100 || child.exitCode !== null)
      throw new Error(`haproxy did not come up (exit ${child.exitCode})`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { backend, config, process: child };
}

function desired(world: World, routes: NodeRoute[]): NodeDesired {
  const a = world.nodes.a!;
  return {
    node: "a",
    publicInterface: a.publicIf,
    publicIPv4: a.publicIp,
    privateIP: a.meshIp,
    vmNetwork: world.vmNetwork,
    forwards: [],
    routes,
  };
}

async function converge(p: Proxy, d: NodeDesired): Promise<string[]> {
  const plan = p.backend.plan(d, await p.backend.read(), Date.now());
  await p.backend.apply(plan);
  return renderPlan(plan);
}

async function haproxyPid(p: Proxy): Promise<string | undefined> {
  return /^Pid: (\d+)$/m.exec(await haproxyCommand(p.config.socket, "show info"))?.[1];
}

describe.skipIf(missing({ root: true, bins: ["haproxy", "ip", "openssl"] }))(
  "HAProxy backend in network namespaces",
  () => {
    let world: World;
    let proxy: Proxy;
    const vm1 = "10.10.1.101";
    const vm2 = "10.10.1.102";

    beforeAll(async () => {
      world = await createWorld({
        vms: [
          { name: "vm1", node: "a", ip: vm1 },
          { name: "vm2", node: "a", ip: vm2 },
        ],
      });
      for (const [vm, name] of [
        ["vm1", "a.example"],
        ["vm2", "b.example"],
      ] as const) {
        const ns = world.vms[vm]!.ns;
        await startServer(world, ns, { kind: "tls", port: 443, label: vm, ...makeCert(world, name) });
        await startServer(world, ns, { kind: "http", port: 80, label: vm });
      }
      proxy = await startHaproxy(world, "main", {});
    });
    afterAll(async () => {
      await world?.destroy();
    });

    const tls = (servername: string) =>
      probe(world, world.client.ns, { kind: "tls", host: world.nodes.a!.publicIp, port: 443, servername });
    const get = (hostHeader: string) =>
      probe(world, world.client.ns, { kind: "http", host: world.nodes.a!.publicIp, port: 80, hostHeader });

    it("routes TLS by SNI and HTTP by Host to the right VM; unknown names are rejected", async () => {
      const changes = await converge(
        proxy,
        desired(world, [
          sni(101, "a.example", vm1),
          sni(102, "b.example", vm2),
          http(101, "a.example", vm1),
          http(102, "b.example", vm2),
        ]),
      );
      expect(changes).toEqual([
        "+ sni a.example -> 10.10.1.101:443 (vm 101)",
        "+ sni b.example -> 10.10.1.102:443 (vm 102)",
        "+ http a.example -> 10.10.1.101:80 (vm 101)",
        "+ http b.example -> 10.10.1.102:80 (vm 102)",
      ]);
      const gw = world.nodes.a!.vmGateway; // HAProxy connects from node a's VM bridge
      expect(await tls("a.example")).toEqual({ ok: true, cn: "a.example", data: `vm1 a.example ${gw}` });
      expect(await tls("b.example")).toEqual({ ok: true, cn: "b.example", data: `vm2 b.example ${gw}` });
      expect((await tls("c.example")).ok).toBe(false);

      expect(await get("a.example")).toMatchObject({ ok: true, data: `vm1 a.example ${gw}` });
      expect(await get("B.Example:80")).toMatchObject({ ok: true, data: `vm2 B.Example:80 ${gw}` });
      expect(await get("c.example")).toMatchObject({ ok: false, status: 404 });
    });

    it("re-applying the same routes changes nothing", async () => {
      const same = desired(world, [
        sni(101, "a.example", vm1),
        sni(102, "b.example", vm2),
        http(101, "a.example", vm1),
        http(102, "b.example", vm2),
      ]);
      const plan = proxy.backend.plan(same, await proxy.backend.read(), Date.now());
      expect(renderPlan(plan)).toEqual([]);
      expect(plan.files).toEqual([]);
      expect(plan.swaps).toEqual([]);
    });

    it("changes a route at run time without a reload (same pid) and persists it in the map file", async () => {
      const pid = await haproxyPid(proxy);
      expect(pid).toBeDefined();
      const changes = await converge(
        proxy,
        desired(world, [sni(102, "a.example", vm2), http(102, "a.example", vm2)]),
      );
      expect(changes).toEqual([
        "~ sni a.example -> 10.10.1.102:443 (vm 102) (was 10.10.1.101:443)",
        "- sni b.example -> 10.10.1.102:443",
        "~ http a.example -> 10.10.1.102:80 (vm 102) (was 10.10.1.101:80)",
        "- http b.example -> 10.10.1.102:80",
      ]);
      // vm2 answers for a.example with its own (b.example) certificate: the route moved.
      expect(await tls("a.example")).toMatchObject({
        ok: true,
        cn: "b.example",
        data: expect.stringMatching(/^vm2 a\.example /),
      });
      expect((await tls("b.example")).ok).toBe(false);
      expect(await get("a.example")).toMatchObject({ ok: true, data: expect.stringMatching(/^vm2 /) });
      expect(await haproxyPid(proxy)).toBe(pid);
      expect(proxy.process.exitCode).toBeNull();
      expect(readFileSync(join(proxy.config.mapDir, "sni.map"), "utf8")).toContain(
        "a.example 10.10.1.102:443\n",
      );
      expect(readFileSync(join(proxy.config.mapDir, "sni.map"), "utf8")).not.toContain("b.example");
    });

    it("rejects hostile names before anything reaches HAProxy", async () => {
      const before = await haproxyCommand(proxy.config.socket, `show map ${proxy.config.mapDir}/sni.map`);
      const file = readFileSync(join(proxy.config.mapDir, "sni.map"), "utf8");
      const current = await proxy.backend.read();
      for (const name of [
        "a.example; reload",
        "a.example\nb.example",
        "a example",
        "A.EXAMPLE",
        "a.example ",
      ]) {
        expect(() => proxy.backend.plan(desired(world, [sni(101, name, vm1)]), current, Date.now())).toThrow(
          InputError,
        );
      }
      expect(() =>
        proxy.backend.plan(desired(world, [sni(101, "a.example", "10.10.1.101:1 x")]), current, Date.now()),
      ).toThrow(InputError);
      expect(await haproxyCommand(proxy.config.socket, `show map ${proxy.config.mapDir}/sni.map`)).toBe(
        before,
      );
      expect(readFileSync(join(proxy.config.mapDir, "sni.map"), "utf8")).toBe(file);
    });

    it("grace: a route to a VM that moved reaches it over the mesh until the reconcile drops it", async () => {
      await world.moveVm("vm2", "b");
      const graceUntil = Date.now() + 60_000;
      await converge(proxy, desired(world, [{ ...sni(102, "b.example", vm2), graceUntil }]));
      expect(await tls("b.example")).toEqual({
        ok: true,
        cn: "b.example",
        data: `vm2 b.example ${world.nodes.a!.meshIp}`,
      });
      const plan = proxy.backend.plan(
        desired(world, [{ ...sni(102, "b.example", vm2), graceUntil }]),
        await proxy.backend.read(),
        graceUntil + 1,
      );
      expect(renderPlan(plan)).toEqual(["- sni b.example -> 10.10.1.102:443"]);
      await proxy.backend.apply(plan);
      expect((await tls("b.example")).ok).toBe(false);
    });

    it("sends PROXY protocol v2 when asked, so the VM sees the client's address", async () => {
      const ns = world.vms.vm1!.ns;
      await startServer(world, ns, {
        kind: "tls",
        port: 8443,
        label: "vm1pp",
        proxyProtocol: true,
        ...makeCert(world, "pp.example"),
      });
      const pp = await startHaproxy(world, "pp", { httpsPort: 9443, httpPort: 9080, proxyProtocol: true });
      await converge(pp, desired(world, [sni(101, "pp.example", vm1, 8443)]));
      const r = await probe(world, world.client.ns, {
        kind: "tls",
        host: world.nodes.a!.publicIp,
        port: 9443,
        servername: "pp.example",
      });
      expect(r).toEqual({ ok: true, cn: "pp.example", data: `vm1pp pp.example ${world.client.ip}` });
    });
  },
);
