import { messageOf } from "../errors.ts";
import { checkCorosync } from "./check-corosync.ts";
import { VERSION } from "./check-node.ts";
import { dedupeFindings, judgeVersions, type NodeFindings } from "./merge.ts";
import { runDoctorOn } from "./remote-doctor.ts";
import { buildReport } from "./report.ts";
import { type DoctorOptions, doctorThisNode } from "./run.ts";
import { type DoctorReport, type Finding, fail } from "./types.ts";

// `doctor --cluster`: this node's doctor, every other node's own doctor
// (run there with --local over the config's transport: ssh, BatchMode, the
// node's known_hosts), and what only makes sense once for the whole
// cluster: corosync's links and quorum, the versions side by side. Findings
// several nodes share are reported once, naming the nodes (merge.ts).

export interface ClusterDoctorOptions extends DoctorOptions {
  /** How long one node's doctor may take (default 120 s: a dead master costs its timeouts there too). */
  remoteTimeoutMs?: number;
}

function unreachable(node: string, why: string, sshFailed: boolean): Finding {
  return sshFailed
    ? fail(
        "cluster",
        `${node}: cannot run doctor there: ${why}`,
        `is ${node} up? root ssh between nodes must work without a prompt (ssh -o BatchMode=yes root@${node} true; pvecm updatecerts repairs the host keys)`,
      )
    : fail(
        "cluster",
        `${node}: pvemigrate-dns doctor did not run there: ${why}`,
        `install pvemigrate-dns on ${node}, the same version as here (${VERSION})`,
      );
}

export async function runClusterDoctor(opts: ClusterDoctorOptions = {}): Promise<DoctorReport> {
  const here = await doctorThisNode({ ...opts, local: true });
  const rt = here.runtime;
  if (!rt) return here.report;
  const { config } = rt;
  const others = Object.keys(config.nodes).filter((n) => n !== rt.self);
  const rootDir = opts.rootDir ?? "/";
  const remote = await Promise.all(
    others.map(async (node) => ({
      node,
      r: await runDoctorOn(config, node, ["--local", "--root", rootDir], opts.remoteTimeoutMs ?? 120_000),
    })),
  );
  const perNode: NodeFindings[] = [
    { node: rt.self, findings: here.report.findings, version: VERSION },
    ...remote.flatMap(({ node, r }) =>
      r.ok
        ? [{ node, findings: r.report.findings, ...(r.report.version ? { version: r.report.version } : {}) }]
        : [],
    ),
  ];
  const down = remote.flatMap(({ node, r }) => (r.ok ? [] : [unreachable(node, r.why, r.unreachable)]));
  const wiring = await checkCorosync(config, here.status).catch((err: unknown) => [
    fail("corosync", messageOf(err), "unexpected error; see the message"),
  ]);
  const findings = [...dedupeFindings(perNode), ...down, ...wiring, ...judgeVersions(perNode)];
  return { ...buildReport(findings), nodes: [rt.self, ...others], version: VERSION };
}
