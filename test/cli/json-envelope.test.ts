import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProgram } from "../../bin/program.ts";
import { allCommands } from "../../lib/cli-docs/examples.ts";
import { changeSchema, envelopeSchema } from "../../lib/envelope.ts";
import { jsonSchemaText } from "../../lib/envelope-schema.ts";
import { type Harness, startHarness } from "../e2e/harness.ts";
import { missing } from "../support/requirements.ts";
import { cli } from "./run.ts";

// Every command that takes --json prints one envelope (lib/envelope.ts) on
// success and on error, its exitCode the process's, no secret in it: run
// against the simulated cluster and real BIND masters, each output validated
// with the zod schema the published JSON Schema is generated from.

const root = join(import.meta.dirname, "..", "..");

/** Every command path that has a --json option, from the program itself. */
function jsonCommands(): string[] {
  const path = (c: Command): string => {
    const names: string[] = [];
    for (let x: Command | null = c; x?.parent; x = x.parent) names.unshift(x.name());
    return names.join(" ");
  };
  return allCommands(buildProgram())
    .filter((c) => c.options.some((o) => o.long === "--json"))
    .map(path)
    .sort();
}

/** Per command: a run that succeeds and one that fails (argv after the command's name is given whole). */
const cases: Record<string, { ok: string[]; error: string[] }> = {
  "config check": { ok: ["config", "check"], error: ["config", "check", "--config", "/nonexistent/x.yaml"] },
  status: { ok: ["status"], error: ["status", "--node", "pve9"] },
  plan: { ok: ["plan"], error: ["plan", "--node", "pve9"] },
  reconcile: { ok: ["reconcile", "--dry-run"], error: ["reconcile", "--node", "pve9"] },
  apply: { ok: ["apply", "--local", "--dry-run"], error: ["apply", "--dry-run"] },
  switch: { ok: ["switch", "102", "--node", "pve1"], error: ["switch", "999"] },
  migrate: { ok: ["migrate", "101", "pve3", "--dry-run"], error: ["migrate", "101", "pve9"] },
  "dns set": {
    ok: ["dns", "set", "json.example.org", "192.0.2.40"],
    error: ["dns", "set", "json.example.org", "x"],
  },
  "dns show": { ok: ["dns", "show", "mail.example.org"], error: ["dns", "show", "mail.example.com"] },
  "dns adopt": { ok: ["dns", "adopt", "legacy.example.org"], error: ["dns", "adopt", "nobody.example.org"] },
  "dns delete": { ok: ["dns", "delete", "json.example.org"], error: ["dns", "delete", "a..example.org"] },
  doctor: { ok: ["doctor", "--local"], error: ["doctor", "--local", "--node", "pve9"] },
  "hooks status": { ok: ["hooks", "status", "--local"], error: ["hooks", "status", "abc"] },
  "hooks attach": { ok: ["hooks", "attach", "101", "--dry-run", "--local"], error: ["hooks", "attach"] },
  "hooks detach": { ok: ["hooks", "detach", "101", "--dry-run", "--local"], error: ["hooks", "detach", "0"] },
  "proxy config": { ok: ["proxy", "config"], error: ["proxy", "config", "--node", "pve9"] },
};

describe("the JSON envelope's schema", () => {
  it("docs/json-envelope.schema.json is what the zod schema generates (node --import tsx scripts/json-schema.ts)", () => {
    expect(readFileSync(join(root, "docs", "json-envelope.schema.json"), "utf8")).toBe(jsonSchemaText());
  });

  it("every command with --json has a success and an error case here", () => {
    expect(Object.keys(cases).sort()).toEqual(jsonCommands());
  });

  it("refuses what the contract forbids: ok with a failing code, a failure without an error line, extra keys", () => {
    const base = { data: null, warnings: [], errors: [] };
    expect(envelopeSchema.safeParse({ ok: true, exitCode: 0, ...base }).success).toBe(true);
    expect(envelopeSchema.safeParse({ ok: true, exitCode: 2, ...base }).success).toBe(false);
    expect(envelopeSchema.safeParse({ ok: false, exitCode: 2, ...base }).success).toBe(false);
    expect(envelopeSchema.safeParse({ ok: true, exitCode: 0, ...base, error: "x" }).success).toBe(false);
    expect(changeSchema.safeParse({ op: "add", backend: "dns", key: "a.example.org" }).success).toBe(true);
    expect(changeSchema.safeParse("+ a.example.org").success).toBe(false);
  });
});

describe.skipIf(missing({ bins: ["named", "dig", "tsig-keygen"] }))(
  "every --json command prints one envelope",
  () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({
        secondary: false,
        // A name made by hand before pvemigrate-dns, given to VM 102 by the config: dns adopt's case.
        records: ["legacy IN A 192.0.2.7"],
        config: (doc) => {
          const vms = doc.vms as Record<string, { dns: string[] }>;
          vms["102"]!.dns.push("legacy.example.org");
        },
      });
    }, 90_000);
    afterAll(async () => h?.stop());

    const run = (args: string[]) =>
      cli(["--config", h.configFile, ...args, "--json"], undefined, { PVEMIGRATE_DNS_NODE: "pve1" });

    for (const [command, { ok, error }] of Object.entries(cases)) {
      it(`${command}: success and error both validate, exitCode is the process's, no secret`, async () => {
        for (const [want, args] of [
          ["ok", ok],
          ["error", error],
        ] as const) {
          const r = await run(args);
          const parsed = envelopeSchema.safeParse(JSON.parse(r.stdout));
          expect(parsed.success, `${args.join(" ")}: ${r.stdout}\n${r.stderr}`).toBe(true);
          const env = parsed.data!;
          expect(env.exitCode, args.join(" ")).toBe(r.code);
          if (want === "error") {
            expect(env.ok, args.join(" ")).toBe(false);
            expect(env.errors.length).toBeGreaterThan(0);
          } else if (command !== "doctor") {
            // doctor's checks of nft, haproxy and the hookscript file fail on a test host: only its shape is checked.
            expect(env.ok, `${args.join(" ")}: ${env.errors.join("; ")}`).toBe(true);
          }
          expect(r.stdout).not.toContain(h.sim.tokenSecret);
          expect(r.stdout).not.toContain(h.key.secret);
        }
      }, 60_000);
    }

    it("changes are objects, not strings: plan's nodes and DNS, apply's plan", async () => {
      const plan = JSON.parse((await run(["plan"])).stdout).data;
      const changes = [...plan.nodes.flatMap((n: { changes: unknown[] }) => n.changes), ...plan.dns.changes];
      expect(changes.length).toBeGreaterThan(0);
      for (const c of changes) expect(changeSchema.safeParse(c).success, JSON.stringify(c)).toBe(true);
      const apply = JSON.parse((await run(["apply", "--local", "--dry-run"])).stdout).data;
      for (const c of apply.plan) expect(changeSchema.safeParse(c).success, JSON.stringify(c)).toBe(true);
    }, 60_000);
  },
);
