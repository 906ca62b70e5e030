import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { NodeDesired, NodeRoute } from "../../lib/desired/types.ts";
import { InputError } from "../../lib/errors.ts";
import { renderPlan } from "../../lib/plan/types.ts";
import type { Exec } from "../../lib/process/run.ts";
import { parseShowMap } from "../../lib/proxy/admin-socket.ts";
import { createProxyBackend } from "../../lib/proxy/backend.ts";
import { haproxyMapFormat } from "../../lib/proxy/haproxy.ts";
import { renderHaproxyConfig } from "../../lib/proxy/haproxy-config.ts";
import { nginxMapFormat, renderNginxConfig } from "../../lib/proxy/nginx.ts";
import { type ProxyCurrent, planProxy } from "../../lib/proxy/plan.ts";
import { routeSpec } from "../../lib/proxy/routes.ts";
import { pve1Desired } from "../support/node-desired.ts";
import { missing } from "../support/requirements.ts";

const NOW = 1_800_000_000_000;
const route = (kind: "sni" | "http", name: string, target: string, port: number, vmid = 101): NodeRoute => ({
  vmid,
  kind,
  name,
  target,
  targetPort: port,
});
const node = (routes: NodeRoute[]): NodeDesired => pve1Desired({ routes });
const web = route("sni", "webmail.example.org", "10.10.1.101", 443);
const webHttp = route("http", "webmail.example.org", "10.10.1.101", 80);
const shop = route("sni", "shop.example.org", "10.10.1.102", 8443, 102);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "pvm-proxy-"));
  dirs.push(d);
  return d;
}

describe("route spec", () => {
  it("builds sorted name -> ip:port tables per kind, dropping ended grace routes", () => {
    const spec = routeSpec(
      node([web, shop, webHttp, { ...shop, name: "old.example.org", graceUntil: NOW }]),
      NOW,
    );
    expect(spec.sni.map((e) => `${e.name} ${e.target}`)).toEqual([
      "shop.example.org 10.10.1.102:8443",
      "webmail.example.org 10.10.1.101:443",
    ]);
    expect(spec.http.map((e) => `${e.name} ${e.target}`)).toEqual(["webmail.example.org 10.10.1.101:80"]);
  });

  it("lets the VM living here win over a grace route; refuses a name routed twice", () => {
    const leaving = { ...web, vmid: 200, target: "10.10.2.200", graceUntil: NOW + 1000 };
    expect(routeSpec(node([leaving, web]), NOW).sni[0]?.target).toBe("10.10.1.101:443");
    expect(() => routeSpec(node([web, { ...web, vmid: 102 }]), NOW)).toThrow(
      /webmail.example.org is routed twice/,
    );
  });

  it.each(["a.example; reload", "a.example\nreload", "a .example", "A.example", "*.example", ""])(
    "rejects the name %j with an InputError",
    (name) => {
      expect(() => routeSpec(node([{ ...web, name }]), NOW)).toThrow(InputError);
    },
  );

  it("rejects bad targets and ports", () => {
    expect(() => routeSpec(node([{ ...web, target: "10.10.1.1 x" }]), NOW)).toThrow(/^routes\[0\]\.target/);
    expect(() => routeSpec(node([{ ...web, targetPort: 0 }]), NOW)).toThrow(/^routes\[0\]\.targetPort/);
  });
});

describe("map files and show map", () => {
  it("round-trips HAProxy and nginx map files", () => {
    const entries = routeSpec(node([web, shop]), NOW).sni;
    const hap = haproxyMapFormat.render("sni", entries);
    expect(hap).toContain("\nshop.example.org 10.10.1.102:8443\nwebmail.example.org 10.10.1.101:443\n");
    expect(haproxyMapFormat.parse(hap)).toEqual({
      "shop.example.org": "10.10.1.102:8443",
      "webmail.example.org": "10.10.1.101:443",
    });
    const ngx = nginxMapFormat.render("sni", entries);
    expect(ngx).toContain("\nwebmail.example.org 10.10.1.101:443;\n");
    expect(nginxMapFormat.parse(ngx)).toEqual(haproxyMapFormat.parse(hap));
  });

  it("parses `show map` and turns HAProxy's error text into an error", () => {
    expect(
      Object.fromEntries(
        parseShowMap("0x55d1 a.example 10.10.1.101:443\n0x55d2 b.example 10.10.1.102:443\n\n"),
      ),
    ).toEqual({
      "a.example": "10.10.1.101:443",
      "b.example": "10.10.1.102:443",
    });
    expect(parseShowMap("\n").size).toBe(0);
    expect(() => parseShowMap("Unknown map identifier. Please use #<id> or <file>.\n")).toThrow(
      /Unknown map/,
    );
  });
});

describe("proxy plan", () => {
  const hapCurrent = (sni: Record<string, string>, fileText: string | null): ProxyCurrent => ({
    backend: "haproxy",
    maps: {
      sni: { path: "/m/sni.map", fileText, runtime: sni },
      http: { path: "/m/http.map", fileText: haproxyMapFormat.render("http", []), runtime: {} },
    },
  });

  it("is empty when runtime and file match", () => {
    const spec = routeSpec(node([web]), NOW);
    const plan = planProxy(
      "haproxy",
      spec,
      hapCurrent({ "webmail.example.org": "10.10.1.101:443" }, haproxyMapFormat.render("sni", spec.sni)),
      haproxyMapFormat,
      NOW,
    );
    expect(plan).toEqual({ backend: "haproxy", changes: [], files: [], swaps: [], reload: false });
  });

  it("swaps the runtime map and rewrites the file when routes change", () => {
    const spec = routeSpec(node([{ ...web, target: "10.10.1.109" }, shop]), NOW);
    const plan = planProxy(
      "haproxy",
      spec,
      hapCurrent({ "webmail.example.org": "10.10.1.101:443", "gone.example.org": "10.10.1.5:443" }, null),
      haproxyMapFormat,
      NOW,
    );
    expect(renderPlan(plan)).toEqual([
      "+ sni shop.example.org -> 10.10.1.102:8443 (vm 102)",
      "~ sni webmail.example.org -> 10.10.1.109:443 (vm 101) (was 10.10.1.101:443)",
      "- sni gone.example.org -> 10.10.1.5:443",
    ]);
    expect(plan.files).toEqual([{ path: "/m/sni.map", content: haproxyMapFormat.render("sni", spec.sni) }]);
    expect(plan.swaps).toEqual([
      {
        kind: "sni",
        path: "/m/sni.map",
        entries: { "shop.example.org": "10.10.1.102:8443", "webmail.example.org": "10.10.1.109:443" },
      },
    ]);
    expect(plan.reload).toBe(false);
  });

  it("rewrites a stale file even when the runtime already matches", () => {
    const spec = routeSpec(node([web]), NOW);
    const plan = planProxy(
      "haproxy",
      spec,
      hapCurrent({ "webmail.example.org": "10.10.1.101:443" }, "# old\n"),
      haproxyMapFormat,
      NOW,
    );
    expect(renderPlan(plan)).toEqual(["~ write /m/sni.map (sni map file out of date)"]);
    expect(plan.swaps).toEqual([]);
  });
});

describe("HAProxy backend while HAProxy is not running", () => {
  it("converges the map files it will load at start, and says the socket is unreachable", async () => {
    const dir = tempDir();
    const proxy = {
      backend: "haproxy" as const,
      socket: join(dir, "admin.sock"),
      mapDir: dir,
      httpsPort: 443,
      httpPort: 80,
      proxyProtocol: false,
    };
    const backend = createProxyBackend({
      proxy,
      exec: async () => ({ code: 1, signal: null, stdout: "", stderr: "unused" }),
    });
    const desired = node([web]);
    const current = await backend.read();
    expect(current.maps.sni.runtime).toBeNull();
    const plan = backend.plan(desired, current, NOW);
    expect(renderPlan(plan)).toEqual([
      "+ sni webmail.example.org -> 10.10.1.101:443 (vm 101)",
      `~ write ${join(dir, "http.map")} (http map file out of date)`,
      `! haproxy admin socket ${join(dir, "admin.sock")} not reachable: map files only (loaded when HAProxy starts)`,
    ]);
    expect(plan.swaps).toEqual([]);
    await backend.apply(plan);
    expect(readFileSync(join(dir, "sni.map"), "utf8")).toContain("webmail.example.org 10.10.1.101:443\n");
    expect(renderPlan(backend.plan(desired, await backend.read(), NOW))).toEqual([]);
  });
});

describe("HAProxy configuration", () => {
  const opts = {
    socket: "/run/haproxy/admin.sock",
    mapDir: "/etc/haproxy/pvemigrate",
    httpsPort: 443,
    httpPort: 80,
  };

  it("routes by SNI and Host through maps to one dynamic server, with PROXY v2 on request", () => {
    const cfg = renderHaproxyConfig({ ...opts, proxyProtocol: false });
    expect(cfg).toContain("stats socket /run/haproxy/admin.sock mode 600 level admin");
    expect(cfg).toContain("req.ssl_sni,lower,map(/etc/haproxy/pvemigrate/sni.map)");
    expect(cfg).toContain("req.hdr(host),field(1,:),lower,map(/etc/haproxy/pvemigrate/http.map)");
    expect(cfg.match(/server dyn 0\.0\.0\.0:0$/gm)).toHaveLength(2);
    expect(
      renderHaproxyConfig({ ...opts, proxyProtocol: true }).match(/server dyn 0\.0\.0\.0:0 send-proxy-v2$/gm),
    ).toHaveLength(2);
    const fragment = renderHaproxyConfig({ ...opts, proxyProtocol: false, standalone: false });
    expect(fragment).not.toContain("global");
    expect(fragment).toContain("frontend pvemigrate_sni");
  });

  it("refuses paths and ports that could break the config", () => {
    expect(() =>
      renderHaproxyConfig({ ...opts, socket: "/run/x\n  stats socket /tmp/y", proxyProtocol: false }),
    ).toThrow(InputError);
    expect(() => renderHaproxyConfig({ ...opts, mapDir: "/etc/a b", proxyProtocol: false })).toThrow(
      /^proxy\.mapDir/,
    );
    expect(() => renderHaproxyConfig({ ...opts, httpsPort: 0, proxyProtocol: false })).toThrow(
      /^proxy\.httpsPort/,
    );
  });

  it.skipIf(missing({ bins: ["haproxy"] }))("is accepted by `haproxy -c`", () => {
    const dir = tempDir();
    for (const proxyProtocol of [false, true]) {
      writeFileSync(join(dir, "sni.map"), "");
      writeFileSync(join(dir, "http.map"), "");
      const cfg = join(dir, "haproxy.cfg");
      writeFileSync(
        cfg,
        renderHaproxyConfig({ ...opts, socket: join(dir, "admin.sock"), mapDir: dir, proxyProtocol }),
      );
      expect(execFileSync("haproxy", ["-c", "-f", cfg], { encoding: "utf8" })).toContain(
        "Configuration file is valid",
      );
    }
  });
});

describe("nginx backend", () => {
  it("renders stream (ssl_preread) and http map blocks including the map files", () => {
    const { stream, http } = renderNginxConfig({
      mapDir: "/etc/nginx/pvemigrate",
      httpsPort: 443,
      httpPort: 80,
      proxyProtocol: true,
    });
    expect(stream).toContain("map $ssl_preread_server_name $pvemigrate_sni {");
    expect(stream).toContain("include /etc/nginx/pvemigrate/sni.map;");
    expect(stream).toContain("ssl_preread on;");
    expect(stream).toContain("proxy_protocol on;");
    expect(http).toContain("map $host $pvemigrate_http {");
    expect(http).toContain("include /etc/nginx/pvemigrate/http.map;");
    expect(http).toContain('if ($pvemigrate_http = "") { return 404; }');
    expect(() =>
      renderNginxConfig({ mapDir: "/etc/nginx/x;y", httpsPort: 443, httpPort: 80, proxyProtocol: false }),
    ).toThrow(InputError);
  });

  it("writes map files atomically and reloads nginx only when routes change", async () => {
    // nginx is not installed here: the Exec seam records the reload instead of running it.
    const calls: string[][] = [];
    const exec: Exec = async (argv) => {
      calls.push([...argv]);
      return { code: 0, signal: null, stdout: "", stderr: "" };
    };
    const mapDir = tempDir();
    const proxy = {
      backend: "nginx" as const,
      socket: "/unused",
      mapDir,
      httpsPort: 443,
      httpPort: 80,
      proxyProtocol: false,
    };
    const backend = createProxyBackend({ proxy, exec });
    const desired = node([web, webHttp]);
    const plan = backend.plan(desired, await backend.read(), NOW);
    expect(renderPlan(plan)).toEqual([
      "+ sni webmail.example.org -> 10.10.1.101:443 (vm 101)",
      "+ http webmail.example.org -> 10.10.1.101:80 (vm 101)",
    ]);
    await backend.apply(plan);
    expect(calls).toEqual([["nginx", "-s", "reload"]]);
    expect(readFileSync(join(mapDir, "sni.map"), "utf8")).toContain("webmail.example.org 10.10.1.101:443;\n");
    const again = backend.plan(desired, await backend.read(), NOW);
    expect(renderPlan(again)).toEqual([]);
    await backend.apply(again);
    expect(calls).toHaveLength(1);
  });

  it("proxy.backend none touches nothing but still refuses bad input", async () => {
    const backend = createProxyBackend({
      proxy: {
        backend: "none",
        socket: "/x",
        mapDir: "/x",
        httpsPort: 443,
        httpPort: 80,
        proxyProtocol: false,
      },
      exec: async () => {
        throw new Error("must not run anything");
      },
    });
    const plan = backend.plan(node([web]), await backend.read(), NOW);
    expect(renderPlan(plan)).toEqual([]);
    await backend.apply(plan);
    const current = await backend.read();
    expect(() => backend.plan(node([{ ...web, name: "a;b" }]), current, NOW)).toThrow(InputError);
  });
});
