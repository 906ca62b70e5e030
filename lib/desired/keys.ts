import type { Proto } from "../config/types.ts";

// PURE: the one spelling of what identifies a node's forward and route, so
// the desired state (one entry per key and node), the backends' specs (live
// beats grace per key), holding what an unresolved VM has, and the plan's
// Change keys all agree on what "the same entry" means.

/** A forward's key: "tcp/80", "ip6 tcp/80" (an entry without a family is IPv4). */
export const forwardKey = (f: { family?: 4 | 6; proto: Proto; publicPort: number }): string =>
  `${f.family === 6 ? "ip6 " : ""}${f.proto}/${f.publicPort}`;

/** A route's key: "sni www.example.org", "http www.example.org". */
export const routeKey = (r: { kind: "sni" | "http"; name: string }): string => `${r.kind} ${r.name}`;
