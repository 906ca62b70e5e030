import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { baseDoc, type Fixture, makeFixture } from "../config/fixture.ts";
import { missing } from "../support/requirements.ts";
import { cli } from "./run.ts";

// `proxy config` as an admin runs it, and the real haproxy checking what it
// prints: the fragment loaded after README's minimal global/defaults (and
// after Debian's own haproxy.cfg, the usual include target), and the
// --standalone file on its own. Zero-warning mode (-dW): a warning at every
// reload is a defect too.

const root = join(import.meta.dirname, "..", "..");
let fx: Fixture;
let configFile: string;

beforeAll(() => {
  fx = makeFixture();
  const doc = baseDoc();
  // "{node}" in the map dir: the fragment depends on the node it is for.
  doc.proxy = { mapDir: join(fx.dir, "{node}", "maps") };
  configFile = fx.write(doc);
  for (const node of ["pve1", "pve2"]) {
    mkdirSync(join(fx.dir, node, "maps"), { recursive: true });
    for (const kind of ["sni", "http"]) writeFileSync(join(fx.dir, node, "maps", `${kind}.map`), "");
  }
});
afterAll(() => fx.cleanup());

/** The ```haproxy block of README's HAProxy section: what an admin's own haproxy.cfg needs. */
function readmeHaproxyBase(): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.split(/^## HAProxy$/m)[1]?.split(/^## /m)[0] ?? "";
  const block = /```haproxy\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error("README's HAProxy section has no ```haproxy block");
  return block;
}

function haproxyCheck(files: string[]): string {
  return execFileSync("haproxy", ["-c", "-dW", ...files.flatMap((f) => ["-f", f])], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

describe("pvemigrate-dns proxy config", () => {
  it("prints the HAProxy fragment for the node --node names ({node} in proxy.mapDir), without global or defaults", async () => {
    const r = await cli(["proxy", "config", "--config", configFile, "--node", "pve2"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`map(${join(fx.dir, "pve2", "maps", "sni.map")})`);
    expect(r.stdout).toContain(`map(${join(fx.dir, "pve2", "maps", "http.map")})`);
    expect(r.stdout).not.toContain("pve1");
    expect(r.stdout).not.toMatch(/^(global|defaults)\b/m);
    // The header names what haproxy.cfg must provide.
    expect(r.stdout).toContain("#   stats socket /run/haproxy/admin.sock level admin");
  });

  it("acts as $PVEMIGRATE_DNS_NODE without --node, and refuses a node the config does not know, naming --node", async () => {
    const r = await cli(["proxy", "config", "--config", configFile], undefined, {
      PVEMIGRATE_DNS_NODE: "pve1",
    });
    expect(r.stdout).toContain(join(fx.dir, "pve1", "maps", "sni.map"));
    const bad = await cli(["proxy", "config", "--config", configFile, "--node", "pve9"]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/^\S+Z pvemigrate-dns: error: --node: "pve9" is not in the config's nodes/);
  });

  it.skipIf(missing({ bins: ["haproxy"] }))(
    "haproxy -c -dW accepts the fragment loaded after README's global and defaults, and after Debian's haproxy.cfg",
    async () => {
      const r = await cli(["proxy", "config", "--config", configFile, "--node", "pve1"]);
      const fragment = join(fx.dir, "pvemigrate-dns.cfg");
      writeFileSync(fragment, r.stdout);
      const base = join(fx.dir, "haproxy.cfg");
      writeFileSync(base, readmeHaproxyBase());
      expect(haproxyCheck([base, fragment])).toContain("Configuration file is valid");
      // A conf directory works the same way (-f DIR loads its *.cfg in order).
      const confDir = join(fx.dir, "conf.d");
      mkdirSync(confDir, { recursive: true });
      writeFileSync(join(confDir, "pvemigrate-dns.cfg"), r.stdout);
      expect(haproxyCheck([base, confDir])).toContain("Configuration file is valid");
      // Debian's shipped haproxy.cfg (mode http + option httplog in defaults) with the fragment.
      if (existsSync("/etc/haproxy/haproxy.cfg")) {
        expect(haproxyCheck(["/etc/haproxy/haproxy.cfg", fragment])).toContain("Configuration file is valid");
      }
      // And the check can fail: the fragment alone lacks the timeouts the defaults give.
      expect(() => haproxyCheck([fragment])).toThrow();
    },
  );

  it.skipIf(missing({ bins: ["haproxy"] }))(
    "haproxy -c -dW accepts --standalone as a whole config",
    async () => {
      const r = await cli(["proxy", "config", "--standalone", "--config", configFile, "--node", "pve1"]);
      expect(r.stdout).toMatch(/^global$/m);
      const file = join(fx.dir, "standalone.cfg");
      writeFileSync(file, r.stdout);
      expect(haproxyCheck([file])).toContain("Configuration file is valid");
    },
  );

  it("--nginx prints the stream and http blocks; with --standalone it is refused and prints nothing", async () => {
    const r = await cli(["proxy", "config", "--nginx", "--config", configFile, "--node", "pve1"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`include ${join(fx.dir, "pve1", "maps", "sni.map")};`);
    expect(r.stdout).toContain("ssl_preread on;");
    expect(r.stdout).toContain("proxy_pass http://$pvemigrate_http;");
    const bad = await cli([
      "proxy",
      "config",
      "--nginx",
      "--standalone",
      "--config",
      configFile,
      "--node",
      "pve1",
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/^\S+Z pvemigrate-dns: error: --standalone: /);
  });

  it("--json gives the backend, node, socket, map paths and the same text", async () => {
    const args = ["proxy", "config", "--config", configFile, "--node", "pve1"];
    const text = (await cli(args)).stdout;
    const j = JSON.parse((await cli([...args, "--json"])).stdout);
    expect(j).toMatchObject({
      ok: true,
      data: {
        backend: "haproxy",
        node: "pve1",
        socket: "/run/haproxy/admin.sock",
        maps: {
          sni: join(fx.dir, "pve1", "maps", "sni.map"),
          http: join(fx.dir, "pve1", "maps", "http.map"),
        },
      },
    });
    expect(j.data.text).toBe(text);
  });
});
