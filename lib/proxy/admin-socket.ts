import { connect } from "node:net";
import { PeerError } from "../errors.ts";

// HAProxy's runtime API over its admin socket (a unix socket: a path on the
// node's filesystem, so it is reachable whatever network namespace HAProxy
// runs in). One command per connection, non-interactive: HAProxy answers and
// closes. Callers build commands only from validated values.

const DEFAULT_TIMEOUT_MS = 5000;

/** Nothing listens on the socket (ENOENT, ECONNREFUSED): HAProxy is not running. */
export class SocketUnreachable extends PeerError {
  override name = "SocketUnreachable";
}

/** Sends one command (optionally with a `<<` payload) and returns HAProxy's answer. */
export function haproxyCommand(
  socket: string,
  command: string,
  opts: { payload?: string[]; timeoutMs?: number } = {},
): Promise<string> {
  if (/[\r\n]/.test(command)) return Promise.reject(new Error("haproxy command must be one line"));
  const text =
    opts.payload === undefined
      ? `${command}\n`
      : `${command} <<\n${opts.payload.map((l) => `${l}\n`).join("")}\n`;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const conn = connect(socket);
    const timer = setTimeout(() => {
      conn.destroy();
      reject(
        new PeerError(
          `haproxy admin socket ${socket}: no answer to "${command.split(" ").slice(0, 2).join(" ")}"`,
        ),
      );
    }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    conn.on("connect", () => conn.end(text));
    conn.on("data", (b: Buffer) => chunks.push(b));
    conn.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const down = err.code === "ENOENT" || err.code === "ECONNREFUSED";
      reject(new (down ? SocketUnreachable : PeerError)(`haproxy admin socket ${socket}: ${err.message}`));
    });
    conn.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
  });
}

/** Entries of `show map <file>`: "<ref> <key> <value>" lines. */
export function parseShowMap(output: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of output.split("\n")) {
    const m = /^0x[0-9a-f]+ (\S+) (\S+)$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
    else if (line.trim() !== "") throw new PeerError(`haproxy: ${line.trim()}`);
  }
  return out;
}

/**
 * Replaces a whole map at run time atomically: a new version is prepared,
 * filled, then committed; traffic sees the old map or the new one, never a mix.
 */
export async function swapMap(
  socket: string,
  file: string,
  entries: ReadonlyMap<string, string>,
): Promise<void> {
  const prepared = await haproxyCommand(socket, `prepare map ${file}`);
  const version = /New version created: (\d+)/.exec(prepared)?.[1];
  if (version === undefined)
    throw new PeerError(`haproxy prepare map ${file}: ${prepared.trim() || "no answer"}`);
  if (entries.size > 0) {
    const payload = [...entries].map(([k, v]) => `${k} ${v}`);
    const added = (await haproxyCommand(socket, `add map @${version} ${file}`, { payload })).trim();
    if (added !== "") throw new PeerError(`haproxy add map ${file}: ${added}`);
  }
  const committed = (await haproxyCommand(socket, `commit map @${version} ${file}`)).trim();
  if (committed !== "") throw new PeerError(`haproxy commit map ${file}: ${committed}`);
}
