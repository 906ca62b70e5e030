import { channel } from "node:diagnostics_channel";
import { performance } from "node:perf_hooks";

// What the deep layers tell the metrics, without knowing about them: an UPDATE
// sent (which master took it and how long it took, which masters were passed
// over) and a switch finished. Published on node:diagnostics_channel, which
// costs nothing while nobody listens; the shells that write metrics (the
// reconcile command, the hook's worker) listen for the length of their run
// (recordEvents) and add what they heard to the node's metrics state.

/** One UPDATE message: the master that gave the final answer, and the ones that failed it. */
export interface DnsUpdateEvent {
  /** The master that answered NOERROR (absent when none did). */
  master?: string;
  /** From sending to the final answer, failover included. */
  seconds: number;
  /** Masters that did not take it (timeout, SERVFAIL, a refusal...), once each. */
  failed: string[];
}

export interface SwitchEvent {
  vmid: number;
  /** When it finished, milliseconds since the epoch. */
  at: number;
  to: string;
  from?: string;
  /** From the switch's start until its names answered everywhere (or the wait ran out). */
  seconds: number;
}

const dnsUpdates = channel("pvemigrate-dns:dns-update");
const switches = channel("pvemigrate-dns:switch");

export function publishSwitch(e: SwitchEvent): void {
  if (switches.hasSubscribers) switches.publish(e);
}

export function publishDnsUpdate(e: DnsUpdateEvent): void {
  if (dnsUpdates.hasSubscribers) dnsUpdates.publish(e);
}

/** What a failed send tells about masters, read structurally (lib/dns/errors.ts). */
function failedMasters(err: unknown): string[] {
  if (typeof err !== "object" || err === null) return [];
  if ("failures" in err && Array.isArray(err.failures)) {
    return err.failures.flatMap((f: unknown) =>
      typeof f === "object" && f !== null && "master" in f && typeof f.master === "string" ? [f.master] : [],
    );
  }
  if ("master" in err && typeof err.master === "string") return [err.master];
  return [];
}

/**
 * Wraps an UPDATE sender so each message is published: `label` names the
 * master that answered, `skipped` lists the ones passed over before it.
 */
export function observedSend<A extends unknown[], R extends { skipped?: ReadonlyArray<{ master: string }> }>(
  send: (...args: A) => Promise<R>,
  winner: (r: R) => string,
): (...args: A) => Promise<R> {
  return async (...args) => {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const r = await send(...args);
      publishDnsUpdate({
        master: winner(r),
        seconds: seconds(),
        failed: (r.skipped ?? []).map((s) => s.master),
      });
      return r;
    } catch (err) {
      publishDnsUpdate({ seconds: seconds(), failed: failedMasters(err) });
      throw err;
    }
  };
}

export interface RunEvents {
  dns: DnsUpdateEvent[];
  switches: SwitchEvent[];
  /** Stops listening; the lists keep what was heard. */
  stop(): void;
}

/** Listens to both channels until stop(). */
export function recordEvents(): RunEvents {
  const run: RunEvents = {
    dns: [],
    switches: [],
    stop: () => {
      dnsUpdates.unsubscribe(onDns);
      switches.unsubscribe(onSwitch);
    },
  };
  const onDns = (m: unknown) => run.dns.push(m as DnsUpdateEvent);
  const onSwitch = (m: unknown) => run.switches.push(m as SwitchEvent);
  dnsUpdates.subscribe(onDns);
  switches.subscribe(onSwitch);
  return run;
}
