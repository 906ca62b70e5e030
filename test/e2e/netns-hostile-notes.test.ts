import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { haproxyCommand } from "../../lib/proxy/admin-socket.ts";
import { eth0 } from "../support/agent.ts";
import { dig } from "../support/named.ts";
import { probe, waitForOutput } from "../support/netns.ts";
import { missing } from "../support/requirements.ts";
import { type NetnsCluster, startNetnsCluster, VMID } from "./netns-world.ts";

// The hostile tenant of the "Trust boundary" issue: VM 101 is tagged
// pvemigrate-dns, the central file does not list it, and its tenant (who holds
// VM.Config.Options, so writes the Notes, and runs the guest, so answers for
// the agent) tries every trick the issue lists. Real nft and HAProxy in each
// node's namespace, real BIND, the real CLI bundle; each case first with
// Notes off (the default), then under the file's notes policy.

const TAG = "pvemigrate-dns";
const POLICY = {
  enabled: true,
  dnsSuffixes: ["tenants.example.org"],
  ports: ["tcp/20000-20999", "udp/20000-20999"],
  maxNames: 16,
  maxForwards: 16,
  ip: "agent",
};
const APP = "app.tenants.example.org";
const NOTES_OFF =
  "vms.101 (Notes): Notes are off (notes.enabled is false in the config file); the VM's Notes block is ignored";
const FORGED = "pvemigrate-dns[pve1]: FORGED dns mail.example.org -> 203.0.113.66";

describe.skipIf(
  missing({ root: true, bins: ["named", "dig", "tsig-keygen", "nft", "haproxy", "ip", "openssl"] }),
)("a hostile tenant's Notes and guest agent", () => {
  let c: NetnsCluster;
  let policyFile: string;
  let bridgeService: ChildProcessWithoutNullStreams;
  /** pve1's address on its VM bridge (the VMs' gateway). */
  let gateway: string;

  const hostile = () => ({
    names: [
      "dns: [ login.example.org, pve1.example.org ]",
      "sni: [ example.org, pve1.example.org, accounts.google.com ]",
      "http: [ accounts.google.com ]",
      'forward: [ "tcp/2222:22" ]',
    ].join("\n"),
    bridge: `ip: ${gateway}\nforward: [ "tcp/20080:8022" ]`,
    flood: [
      `dns: [ ${Array.from({ length: 400 }, (_, i) => `n${i}.tenants.example.org`).join(", ")} ]`,
      `forward: [ ${Array.from({ length: 400 }, (_, i) => `"tcp/${20000 + i}"`).join(", ")} ]`,
    ].join("\n"),
    forge: `dns: [ "x\\n${FORGED}" ]`,
  });

  const setNotes = (yaml: string) => {
    const vm = c.h.sim.state.vm(VMID);
    vm.tags = [TAG];
    vm.config.description = `Tenant's notes\n\n\`\`\`pvemigrate-dns\n${yaml}\n\`\`\`\n`;
  };
  const cli = async (args: string[], configFile = c.h.configFile) => {
    const r = await c.cli("pve1", args, { configFile });
    return { ...r, json: r.stdout.trim().startsWith("{") ? JSON.parse(r.stdout).data : undefined };
  };
  const reconcile = (configFile?: string) => cli(["reconcile", "--json"], configFile);
  const httpMap = async () => {
    const proxy = c.runtime("pve1").config.proxy;
    return (await haproxyCommand(proxy.socket, `show map ${join(proxy.mapDir, "http.map")}`)).trim();
  };
  const a = (name: string) => dig(c.h.primary.port, name, "A");
  const tcp = (port: number) =>
    probe(c.world, c.world.client.ns, {
      kind: "tcp",
      host: c.publicIp("pve1"),
      port,
      payload: "hi",
      timeoutMs: 1500,
    });
  const tls = (servername: string) =>
    probe(c.world, c.world.client.ns, {
      kind: "tls",
      host: c.publicIp("pve1"),
      port: 443,
      servername,
      timeoutMs: 1500,
    });
  const http = (hostHeader: string) =>
    probe(c.world, c.world.client.ns, {
      kind: "http",
      host: c.publicIp("pve1"),
      port: 80,
      hostHeader,
      timeoutMs: 1500,
    });
  /** Nothing of VM 101's reached pve1's nft, HAProxy or the zone. */
  const nothingPublished = async () => {
    const nft = await c.nftTable("pve1");
    // The maps exist from the start; a forward would be one of their elements.
    expect(nft).not.toContain("elements");
    expect(await c.sniMap("pve1")).toBe("");
    expect(await httpMap()).toBe("");
    for (const name of ["login.example.org", "pve1.example.org", "example.org", "n0.tenants.example.org"]) {
      expect(await a(name), name).toEqual([]);
    }
    expect(await tcp(20080)).toMatchObject({ ok: false });
    expect(await tls("accounts.google.com")).toMatchObject({ ok: false });
    expect(await http("accounts.google.com")).toMatchObject({ ok: false });
  };

  beforeAll(async () => {
    c = await startNetnsCluster({
      ipSource: "agent",
      config: (d) => {
        // The file lists no VM: VM 101 is the tenant's, described only by its Notes.
        d.vms = {};
      },
    });
    gateway = c.world.nodes.pve1!.vmGateway;
    policyFile = c.h.writeConfigVariant("notes-on", (d) => (d.notes = POLICY));
    // A service of the node bound only to its VM bridge address: meant for the VMs, never the internet.
    bridgeService = c.world.spawn(c.ns("pve1"), [
      process.execPath,
      "-e",
      `require("node:net").createServer((s) => s.end("bridge-only\\n")).listen(8022, ${JSON.stringify(gateway)}, () => console.log("READY"))`,
    ]);
    await waitForOutput(bridgeService, /READY/);
  }, 120_000);
  afterAll(async () => c?.stop(), 60_000);

  it("Notes off (the default): no hostile block publishes anything, and each is reported without being read", async () => {
    for (const [what, yaml] of Object.entries(hostile())) {
      setNotes(yaml);
      const r = await reconcile();
      expect(r.code, `${what}: ${r.stderr}`).toBe(0);
      expect(r.json.notes, what).toEqual([NOTES_OFF]);
      expect(r.json.switched, what).toEqual([]);
      expect(r.stderr, what).not.toContain("FORGED");
      await nothingPublished();
    }
    const status = await cli(["status", "--json"]);
    expect(status.json.notes).toEqual([NOTES_OFF]);
    const doctor = await cli(["doctor", "--json"]);
    const notes = doctor.json.findings.filter((f: { check: string }) => f.check === "notes");
    expect(notes.map((f: { message: string }) => f.message)).toEqual([NOTES_OFF]);
  });

  it("policy on: names outside the policy's suffixes (new, a node's, the apex, another domain's) and ports outside its ranges are refused with the block, each reported", async () => {
    setNotes(hostile().names);
    const r = await reconcile(policyFile);
    expect(r.code, r.stderr).toBe(0);
    const outside = (name: string) => `${name} is not a subdomain of notes.dnsSuffixes (tenants.example.org)`;
    expect(r.json.notes).toEqual([
      `vms.101 (Notes).dns[0]: ${outside("login.example.org")}`,
      "vms.101 (Notes).dns[1]: pve1.example.org is node pve1's host name",
      `vms.101 (Notes).sni[0]: ${outside("example.org")}`,
      "vms.101 (Notes).sni[1]: pve1.example.org is node pve1's host name",
      `vms.101 (Notes).sni[2]: ${outside("accounts.google.com")}`,
      `vms.101 (Notes).http[0]: ${outside("accounts.google.com")}`,
      "vms.101 (Notes).forward[0]: tcp/2222 is not in notes.ports (tcp/20000-20999, udp/20000-20999)",
    ]);
    expect(r.json.switched).toEqual([]);
    await nothingPublished();
  });

  it("policy on: 400 names and 400 ports are refused by count in two lines", async () => {
    setNotes(hostile().flood);
    const r = await reconcile(policyFile);
    expect(r.json.notes).toEqual([
      "vms.101 (Notes): claims 400 names (dns + sni + http), more than notes.maxNames 16",
      "vms.101 (Notes).forward: claims 400 forwards, more than notes.maxForwards 16",
    ]);
    await nothingPublished();
  });

  it("policy on: a newline in the Notes cannot forge a log line, in the log, reconcile, status or doctor", async () => {
    setNotes(hostile().forge);
    const r = await reconcile(policyFile);
    const escaped = `vms.101 (Notes).dns[0]: "x\\n${FORGED}" is not a valid host name (letters, digits, hyphens)`;
    expect(r.json.notes).toEqual([escaped]);
    // Logged once per run, though reconcile observes the cluster several times.
    expect(r.stderr.split("\n").filter((l) => l.endsWith(`notes: ${escaped}`))).toHaveLength(1);
    const status = await cli(["status"], policyFile);
    const doctor = await cli(["doctor"], policyFile);
    for (const out of [r.stderr, status.stdout, status.stderr, doctor.stdout, doctor.stderr]) {
      expect(out.split("\n").filter((l) => l.trimStart().startsWith(FORGED))).toEqual([]);
    }
    expect(status.stdout).toContain(`notes ignored: ${escaped}`);
  });

  it("policy on: a Notes block cannot name an address, and the agent cannot point a forward at the node's bridge address", async () => {
    setNotes(hostile().bridge);
    const refused = await reconcile(policyFile);
    expect(refused.json.notes).toEqual([
      "vms.101 (Notes).ip: a Notes block cannot choose the VM's address: it comes from the config file or from discovery (notes.ip)",
    ]);
    await nothingPublished();

    // Within the policy, but the guest agent answers with the bridge address.
    c.h.sim.setAgentInterfaces(VMID, eth0(gateway));
    setNotes(
      `dns: [ ${APP} ]\nsni: [ ${APP} ]\nhttp: [ ${APP} ]\nforward: [ "tcp/20080:8022", "tcp/20022:22" ]`,
    );
    const r = await reconcile(policyFile);
    expect(r.json.notes).toEqual([]);
    expect(r.stderr).toContain(
      `VM 101: reports ${gateway}, which is node pve1's VM bridge address (vmGateway); not routing to it`,
    );
    expect(await a(APP)).toEqual([c.publicIp("pve1")]);
    expect(await c.nftTable("pve1")).not.toContain(gateway);
    expect(await tcp(20080)).toMatchObject({ ok: false });

    // What the policy allows, at the VM's own address: applied.
    c.h.sim.setAgentInterfaces(VMID, eth0(c.vmIp));
    const ok = await reconcile(policyFile);
    expect(ok.json.notes).toEqual([]);
    expect(await tcp(20022)).toEqual({ ok: true, data: `vm101 hi ${c.world.client.ip}` });
    expect(await c.sniMap("pve1")).toBe(`${APP} ${c.vmIp}:443`);
    expect(await tls(APP)).toMatchObject({ ok: true });
    expect(await http(APP)).toMatchObject({ ok: true, status: 200 });
    expect(await tcp(20080)).not.toMatchObject({ data: expect.stringContaining("bridge-only") });
  });

  it("Notes turned off again: what they claimed is withdrawn (forwards, routes, names)", async () => {
    expect(await a(APP)).toEqual([c.publicIp("pve1")]);
    const r = await reconcile();
    expect(r.json.notes).toEqual([NOTES_OFF]);
    expect(r.json.dns.withdrawn).toEqual([APP]);
    await nothingPublished();
    expect(await a(APP)).toEqual([]);
    expect(await tcp(20022)).toMatchObject({ ok: false });
  });
});
