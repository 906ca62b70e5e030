import { loadConfig } from "../config/load.ts";
import { InputError, messageOf } from "../errors.ts";
import type { Runtime } from "../orchestrate/runtime.ts";
import { execOn } from "../remote/apply.ts";
import { checkConfig, type Load } from "./check-config.ts";
import { checkDns } from "./check-dns.ts";
import { checkHookFileHere, checkHookFiles } from "./check-hook-file.ts";
import { checkHookscripts } from "./check-hookscript.ts";
import { checkJournal } from "./check-journal.ts";
import { checkNft } from "./check-nat.ts";
import { checkIpForward, checkTimer, VERSION, versionFinding } from "./check-node.ts";
import { checkPrivileges } from "./check-privileges.ts";
import { type ClusterStatusView, checkProxmox } from "./check-proxmox.ts";
import { checkProxy } from "./check-proxy.ts";
import { checkNftablesService } from "./nftables-service.ts";
import { buildReport } from "./report.ts";
import { type CheckName, type DoctorReport, type Finding, fail, warn } from "./types.ts";

// `doctor`: every check of a node's setup, independent ones in parallel, each
// turned into one-line findings. Nothing is changed anywhere (a corrupt
// journal file is moved aside by the journal's own reader, as `status` does).

export interface DoctorOptions {
  /** Config loader; default the real one. */
  load?: Load;
  configPath?: string;
  /** Act as this node; default $PVEMIGRATE_DNS_NODE or the hostname. */
  node?: string;
  /**
   * Where /etc/nftables.conf, /etc/systemd and the hookscript file
   * (/var/lib/vz/snippets) live: "/" on a node, a temp dir in tests.
   */
  rootDir?: string;
  /** Check only this node: no other node's hookscript file (no ssh). */
  local?: boolean;
  now?: () => number;
}

/** A check that throws unexpectedly still yields a finding, and the other checks still run. */
async function guarded(check: CheckName, fn: () => Promise<Finding[]>): Promise<Finding[]> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof InputError) return [fail("config", messageOf(err), "fix this field in the config")];
    return [fail(check, messageOf(err), "unexpected error; see the message")];
  }
}

/** This node's report, with what `doctor --cluster` goes on with: the runtime and the cluster's status. */
export interface NodeDoctor {
  report: DoctorReport;
  runtime?: Runtime;
  status?: ClusterStatusView;
}

export async function runDoctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  return (await doctorThisNode(opts)).report;
}

export async function doctorThisNode(opts: DoctorOptions = {}): Promise<NodeDoctor> {
  const logged: string[] = [];
  const now = opts.now ?? Date.now;
  const gate = await checkConfig(opts.load ?? loadConfig, {
    ...(opts.configPath ? { configPath: opts.configPath } : {}),
    ...(opts.node ? { node: opts.node } : {}),
    now,
    // Runtime log lines (Notes problems while observing) become findings, not stderr noise.
    log: (line) => logged.push(line),
  });
  const rt = gate.runtime;
  if (!rt) return { report: buildReport(gate.findings) };
  const { config } = rt;

  let status: ClusterStatusView | undefined;
  const proxmox = guarded("proxmox", async () => {
    const r = await checkProxmox(config.proxmox, rt.secrets.token, rt.self);
    status = r.status;
    if (!r.reachable) {
      return [
        ...r.findings,
        warn("hookscript", "not checked: no Proxmox API endpoint answered", "fix the proxmox findings first"),
      ];
    }
    return [
      ...r.findings,
      ...(await guarded("privileges", () => checkPrivileges(rt.proxmox, config))),
      ...(await checkHookscripts(rt)),
    ];
  });
  const groups = await Promise.all([
    proxmox,
    guarded("dns", () =>
      checkDns(config.dns, rt.secrets.tsig, {
        clock: now,
        names: Object.values(config.vms).flatMap((vm) => vm.dns),
      }),
    ),
    guarded("nft", () => checkNft(config.nat, execOn(config, rt.self))),
    guarded("ip-forward", () => checkIpForward(config.nat, execOn(config, rt.self))),
    guarded("timer", () => checkTimer(opts.rootDir ?? "/")),
    guarded("nftables.service", () => checkNftablesService(config.nat, opts.rootDir ?? "/")),
    guarded("proxy", () => checkProxy(config.proxy)),
    guarded("hookscript-file", () =>
      checkHookFiles(
        config,
        rt.self,
        opts.rootDir ?? "/",
        opts.local ? [rt.self] : Object.keys(config.nodes),
      ),
    ),
    guarded("journal", () =>
      checkJournal(
        [
          { label: "cluster", journal: rt.state.cluster },
          { label: "local", journal: rt.state.local },
        ],
        now(),
      ),
    ),
  ]);
  const notes = logged
    .filter((l) => l.startsWith("notes: "))
    .map((l) =>
      warn(
        "notes",
        l.slice("notes: ".length),
        "the VM's Notes add nothing: fix the block, or the config file's notes policy (the file wins on conflict)",
      ),
    );
  const report = buildReport([...gate.findings, ...groups.flat(), ...notes, versionFinding()], rt.self);
  return { report: { ...report, version: VERSION }, runtime: rt, ...(status ? { status } : {}) };
}

/**
 * `doctor --hookscript-file`: only this node's hookscript file. What doctor
 * on another node runs here, since the snippets directory is per node.
 */
export async function runHookFileDoctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  const gate = await checkConfig(opts.load ?? loadConfig, {
    ...(opts.configPath ? { configPath: opts.configPath } : {}),
    ...(opts.node ? { node: opts.node } : {}),
    log: () => {},
  });
  const rt = gate.runtime;
  if (!rt) return buildReport(gate.findings);
  const file = await guarded("hookscript-file", async () => [
    await checkHookFileHere(rt.config, rt.self, opts.rootDir ?? "/"),
  ]);
  return buildReport([...gate.findings, ...file], rt.self);
}
