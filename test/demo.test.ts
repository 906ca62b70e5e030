import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_CACHE_DIR } from "../lib/config/cache.ts";
import { runDemo } from "../lib/demo/scenario.ts";
import { missing } from "./support/requirements.ts";

// README's first command. Run in-process, with this file's tsx-loaded CLI as
// the demo's "other nodes".

const cli = [
  process.execPath,
  "--import",
  "tsx",
  join(import.meta.dirname, "..", "bin", "pvemigrate-dns.ts"),
];

async function demo(netns: boolean): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await runDemo({ out: (l) => lines.push(l), netns, cliCommand: cli });
  return { code, text: lines.join("\n") };
}

/** Config-cache entries in `dir` made for a demo's config file. */
function demoEntries(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.startsWith("config-"))
    .filter((f) => readFileSync(join(dir, f), "utf8").slice(0, 300).includes("pvemigrate-demo-"))
    .map((f) => join(dir, f));
}

function section(text: string, title: string): string {
  const start = text.indexOf(`== ${title}`);
  const end = text.indexOf("\n-- ", start);
  return text.slice(start, end === -1 ? undefined : end);
}

describe.skipIf(missing({ bins: ["named"] }))("demo", () => {
  it("moves mail.example.org with the live migration and play.example.org with the HA recovery, its config cache in its own temp dir", async () => {
    // As README's command runs it: no cache dir chosen. Neither this process's
    // default nor the host's /run may get an entry for the demo's config.
    const chosen = process.env.PVEMIGRATE_DNS_CACHE_DIR;
    delete process.env.PVEMIGRATE_DNS_CACHE_DIR;
    const cachesBefore = [CONFIG_CACHE_DIR, "/run/pvemigrate-dns"].flatMap(demoEntries);
    let run: { code: number; text: string };
    try {
      run = await demo(false);
    } finally {
      expect(process.env.PVEMIGRATE_DNS_CACHE_DIR).toBeUndefined();
      if (chosen !== undefined) process.env.PVEMIGRATE_DNS_CACHE_DIR = chosen;
    }
    expect([CONFIG_CACHE_DIR, "/run/pvemigrate-dns"].flatMap(demoEntries)).toEqual(cachesBefore);
    const { code, text } = run;
    expect(code).toBe(0);
    const before = section(text, "after step 1");
    const afterMigration = section(text, "after step 2");
    const end = section(text, "after step 4");
    expect(before).toMatch(/mail\.example\.org\s+203\.0\.113\.10/);
    expect(afterMigration).toMatch(/mail\.example\.org\s+198\.51\.100\.20/);
    expect(afterMigration).toMatch(/tcp\/2222 -> 10\.10\.1\.101:22 \(VM 101\) \(grace, \d+s left\)/);
    expect(text).toContain("forwards and routes in place on pve2: yes");
    expect(end).toMatch(/play\.example\.org\s+192\.0\.2\.30, 2001:db8:30::1/);
    // pve3 has a public IPv6: VM 104's forwards exist there for IPv6 too.
    expect(end).toContain("pve3 192.0.2.30 2001:db8:30::1:");
    expect(end).toContain("ip6 tcp/2224 -> [fd10:10:2::104]:22 (VM 104)");
    expect(end).toMatch(/blog\.example\.org\s+198\.51\.100\.20/);
    // HA recovery: the new node's LRM starts the VM, so its start hooks run there (no PVE_MIGRATED_FROM), none on pve2.
    const recovery = text.slice(text.indexOf("-- step 3"), text.indexOf("== after step 3"));
    expect(recovery).toContain("pve3: Proxmox runs the hookscript: 104 post-start\n");
    expect(recovery).not.toMatch(/pve2: Proxmox runs the hookscript: 104/);
    expect(recovery).toContain("VM 104 switched to pve3 by its post-start hook's worker");
  }, 120_000);
});

describe.skipIf(missing({ root: true, bins: ["named", "nft"] }))("demo as root", () => {
  it("applies the nft tables in network namespaces and journals the dead node's cleanup", async () => {
    const { code, text } = await demo(true);
    expect(code).toBe(0);
    expect(text).toMatch(/nft table in pvmdemo\d+-pve1: \d+ map elements applied/);
    expect(text).toMatch(/old node pve2 unreachable: journaled/);
    expect(text).toMatch(/pve2 finished from the journal: node:pve2/);
  }, 120_000);
});
