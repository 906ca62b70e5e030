// The ownership TXT: which cluster (ownerId) and which guest (vm=<vmid>) a
// name belongs to. Pure and a leaf (imports nothing), so the planner, the
// client and the orchestrator read a TXT set the same way.
//
//   heritage=pvemigrate-dns,owner=<ownerId>,vm=<vmid>   written by this version
//   heritage=pvemigrate-dns,owner=<ownerId>              written by older versions
//                                                         and by `dns set` (no guest)

export const HERITAGE = "pvemigrate-dns";

/** Our ownership TXT, labelled with the guest when `vmid` is given. */
export function ownershipTxt(ownerId: string, vmid?: number): string {
  const base = `heritage=${HERITAGE},owner=${ownerId}`;
  return vmid === undefined ? base : `${base},vm=${vmid}`;
}

/** Who a name belongs to, as its TXT set says. */
export type NameOwner =
  /** No A, AAAA or TXT at all: nobody holds it. */
  | { kind: "free" }
  /** Records, but none of our TXT: someone else's name, never touched. */
  | { kind: "foreign" }
  /** Our TXT without a guest label (an older version, or `dns set`). */
  | { kind: "unlabelled"; ours: string[] }
  /** Our TXT labelled with one guest. */
  | { kind: "vm"; vmid: number; ours: string[] }
  /** Our TXT labelled with several guests (written by hand?): no guest may assume it is its own. */
  | { kind: "contested"; vmids: number[]; ours: string[] };

/** The guest a TXT string of ours names: a vmid, null for our unlabelled marker, undefined when not ours. */
function labelOf(text: string, ownerId: string): number | null | undefined {
  const base = ownershipTxt(ownerId);
  if (text === base) return null;
  const m = /^,vm=([1-9][0-9]{0,8})$/.exec(text.startsWith(base) ? text.slice(base.length) : "");
  return m ? Number(m[1]) : undefined;
}

export function nameOwner(
  state: { a: readonly string[]; aaaa: readonly string[]; txt: readonly string[] },
  ownerId: string,
): NameOwner {
  const ours: string[] = [];
  const vmids = new Set<number>();
  for (const text of state.txt) {
    const label = labelOf(text, ownerId);
    if (label === undefined) continue;
    ours.push(text);
    if (label !== null) vmids.add(label);
  }
  if (ours.length === 0) {
    return state.a.length + state.aaaa.length + state.txt.length === 0
      ? { kind: "free" }
      : { kind: "foreign" };
  }
  const labels = [...vmids].sort((x, y) => x - y);
  if (labels.length === 0) return { kind: "unlabelled", ours };
  if (labels.length === 1) return { kind: "vm", vmid: labels[0]!, ours };
  return { kind: "contested", vmids: labels, ours };
}

/** The TXT set holds a marker of ours (labelled or not). */
export function isOwned(txt: readonly string[], ownerId: string): boolean {
  return txt.some((t) => labelOf(t, ownerId) !== undefined);
}
