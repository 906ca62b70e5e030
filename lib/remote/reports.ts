import { z } from "zod";
import type { Change } from "../plan/types.ts";

// What another node's `pvemigrate-dns <command> --json` printed, parsed at
// the edge: output read back over ssh is data from outside this process, so
// every field the caller uses is checked here and nothing is cast. Fields the
// caller does not use pass through untouched (a newer peer may add some).

const changeSchema = z.strictObject({
  op: z.enum(["add", "update", "remove"]),
  backend: z.enum(["nat", "proxy", "dns"]),
  node: z.string().optional(),
  vmid: z.number().int().optional(),
  key: z.string(),
  before: z.string().optional(),
  after: z.string().optional(),
  note: z.string().optional(),
});

/** exactOptionalPropertyTypes: the optional keys only when present. */
function toChange({ node, vmid, before, after, note, ...c }: z.output<typeof changeSchema>): Change {
  return {
    ...c,
    ...(node === undefined ? {} : { node }),
    ...(vmid === undefined ? {} : { vmid }),
    ...(before === undefined ? {} : { before }),
    ...(after === undefined ? {} : { after }),
    ...(note === undefined ? {} : { note }),
  };
}

/** `apply --local [--dry-run] --json` (a NodeConvergence): what it changed (or would), as lines. */
export const remoteApplied = z.looseObject({ changes: z.array(z.string()) });

/** `apply --local --dry-run --json` read by `plan`: the node's plan as change objects. */
export const remotePlan = z
  .looseObject({ plan: z.array(changeSchema), warnings: z.array(z.string()) })
  .transform(({ plan, warnings }) => ({ plan: plan.map(toChange), warnings }));

const step = <T extends z.ZodType>(value: T) =>
  z.looseObject({ ok: z.boolean(), value: value.optional(), error: z.string().optional() });

/** `switch VMID --json` (a SwitchReport): the parts `migrate` reads and prints. */
export const remoteSwitchReport = z.looseObject({
  vmid: z.number().int(),
  to: z.string(),
  from: z.string().optional(),
  skipped: z.string().optional(),
  skipReason: z.enum(["not-configured", "not-running-here"]).optional(),
  local: step(z.looseObject({ changes: z.array(z.string()) })).optional(),
  old: step(z.looseObject({ node: z.string(), changes: z.array(z.string()) })).optional(),
  dns: step(z.looseObject({ lines: z.array(z.string()) })).optional(),
  pending: z.array(z.string()),
});

export type RemoteSwitchReport = z.output<typeof remoteSwitchReport>;
