import { channel } from "node:diagnostics_channel";

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
  /** Masters that did not take it (timeout, SERVFAIL, a refusal...), once per failed attempt, every round. */
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

/** The master that refused a send with a final answer, read structurally (lib/dns/errors.ts DnsRejected). */
function refusedBy(err: unknown): string[] {
  if (typeof err !== "object" || err === null) return [];
  return "master" in err && typeof err.master === "string" ? [err.master] : [];
}

/**
 * Wraps an UPDATE sender so each message is published: `winner` names the
 * master that answered. The sender adds to `failed` the master of every
 * attempt that failed, in every failover round (a master that failed two
 * rounds counts twice: each was an UPDATE it did not take, and the last
 * round alone would hide a master that keeps failing before the other one
 * answers); a final refusal counts against the master that refused.
 */
export function observedSend<A extends unknown[], R>(
  send: (failed: string[], ...args: A) => Promise<R>,
  winner: (r: R) => string,
): (...args: A) => Promise<R> {
  return async (...args) => {
    // process.hrtime, not performance.now(): that loads node:perf_hooks, ~1 ms of every `dns set`.
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    const failed: string[] = [];
    try {
      const r = await send(failed, ...args);
      publishDnsUpdate({ master: winner(r), seconds: seconds(), failed });
      return r;
    } catch (err) {
      publishDnsUpdate({ seconds: seconds(), failed: [...failed, ...refusedBy(err)] });
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
