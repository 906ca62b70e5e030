import { checkNotesPolicy, notesOffReason } from "../config/notes-policy.ts";
import type { Config } from "../config/types.ts";
import type { Claim } from "./changes.ts";
import { type ClaimRecord, registryRefusal } from "./claims.ts";

// PURE: which guest `dns adopt NAME` labels a name for. The central file is
// asked first: its claim needs no cluster read, and a Notes block can never
// claim a name the file gives to a VM (the merge drops such a block). Else
// the name may come from a guest's Notes, which are untrusted: the file's
// Notes policy decides first whether any Notes could claim it at all (so a
// refused name costs no request), then the claims are the ones the reconcile
// computes from the merged config (observe + claimsOf: one interpretation of
// Notes), and the registry's rule for Notes claims applies as in the reconcile.

/** The VM of the config file whose `dns:` lists `name`. */
export function fileClaim(config: Pick<Config, "vms">, name: string): Claim | undefined {
  const vm = Object.values(config.vms).find((v) => v.dns.includes(name));
  return vm ? { vmid: vm.vmid, origin: "file" } : undefined;
}

/** True when the file lets no guest's Notes count: off for every VM it lists, and for the rest. */
export function notesOffEverywhere(config: Config): boolean {
  return !config.notes.enabled && Object.keys(config.vms).every((id) => notesOffReason(config, id));
}

/** Why no guest's Notes may claim `name` under the file's policy, or undefined when one may. */
export function notesPolicyRefusal(config: Config, name: string): string | undefined {
  // The very check a Notes block's names go through (suffixes, node host names).
  const block = { dns: [name], forward: [], sni: [], http: [] };
  return checkNotesPolicy(config, "adopt", block)[0]?.message;
}

export type AdoptClaim = { claim: Claim } | { refusal: string };

/**
 * `name`'s claimant among the merged config's claims (file + accepted Notes),
 * and the registry's verdict on a Notes claim (lib/dns/claims.ts registryRefusal).
 */
export function adoptClaim(
  claims: ReadonlyMap<string, Claim>,
  registry: ReadonlyMap<string, ClaimRecord>,
  name: string,
): AdoptClaim {
  const claim = claims.get(name);
  if (!claim)
    return {
      refusal: `no VM claims ${name}, in the config file or in a Notes block the policy accepts (list it under a VM's dns: first)`,
    };
  const why = registryRefusal(claim, registry.get(name));
  return why ? { refusal: `${name} is claimed by VM ${claim.vmid}'s Notes, but it ${why}` } : { claim };
}
