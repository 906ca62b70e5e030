import type { RouteEntry, RouteKind } from "./routes.ts";

// PURE: how HAProxy and nginx spell a route map file, and where it lives, in
// one leaf module: the backends (I/O), the pure planner, the config renderers
// and doctor all read and write the same text at the same path.

/** name -> "ip:port" */
export type RouteTable = Record<string, string>;

/** How one proxy spells a map file. */
export interface MapFormat {
  render(kind: RouteKind, entries: readonly RouteEntry[]): string;
  parse(text: string): RouteTable;
}

/** `<mapDir>/<kind>.map`, for either proxy (a trailing slash on mapDir ignored). */
export function mapPath(mapDir: string, kind: RouteKind): string {
  return `${mapDir.replace(/\/+$/, "")}/${kind}.map`;
}

const HAPROXY_HEADER =
  "# managed by pvemigrate-dns: name ip:port (runtime changes go through the admin socket)\n";

export const haproxyMapFormat: MapFormat = {
  render: (_kind, entries) => HAPROXY_HEADER + entries.map((e) => `${e.name} ${e.target}\n`).join(""),
  parse(text) {
    const out: RouteTable = {};
    for (const line of text.split("\n")) {
      const t = line.trim();
      if (t === "" || t.startsWith("#")) continue;
      const [name, target] = t.split(/\s+/);
      if (name !== undefined && target !== undefined) out[name] = target;
    }
    return out;
  },
};

const NGINX_HEADER = "# managed by pvemigrate-dns: included in a map block (name ip:port;)\n";

export const nginxMapFormat: MapFormat = {
  render: (_kind, entries) => NGINX_HEADER + entries.map((e) => `${e.name} ${e.target};\n`).join(""),
  parse(text) {
    const out: RouteTable = {};
    for (const line of text.split("\n")) {
      const m = /^\s*(\S+)\s+(\S+);\s*$/.exec(line);
      if (m && !line.trim().startsWith("#")) out[m[1]!] = m[2]!;
    }
    return out;
  },
};
