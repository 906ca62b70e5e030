// PURE: how one log message becomes lines on stderr. Two readers:
// - the journal (the timer's service, or the hook's worker started through
//   systemd-cat): journald stamps every line itself and reads a syslog
//   priority from a `<N>` prefix (sd-daemon(3), SyslogLevelPrefix=), so a line
//   is `<4>message`, nothing else;
// - everything else (a terminal, cron's mail, the Proxmox task log of a hook,
//   worker.log): an ISO timestamp and the level in words, so a line read days
//   later still says when and how bad.
// A message with several lines (DnsAllMastersFailed lists one master per line)
// becomes several log lines, each with its own prefix: nothing reaches the
// reader as an unprefixed line, so no text can pass itself off as one of ours.
import { isoUtc } from "../iso-utc.ts";

/** Syslog levels this tool uses (sd-daemon's SD_ERR .. SD_DEBUG). */
export const LEVELS = { error: 3, warning: 4, notice: 5, info: 6, debug: 7 } as const;
export type LogLevel = keyof typeof LEVELS;

/** Where stderr goes, as far as the format is concerned. */
export type LogTarget = "journal" | "stream";

export interface LineFormat {
  target: LogTarget;
  /** `pvemigrate-dns` or `pvemigrate-dns[pve1]` (which node a process acts as). */
  tag: string;
  /** Milliseconds since the epoch, for the timestamp of stream lines. */
  now: number;
}

// Control and format characters other than tab (C0, DEL, C1, bidi overrides,
// zero-width characters, line separators): shown as escapes, so a message
// cannot move the cursor, hide text or start a line of its own. Backslashes
// are left alone: guest text arrives already escaped by lib/text (`\n` as two
// characters), and escaping again would double them.
// Printable ASCII and tab, nothing to escape, are most lines: asked first, by
// a plain class (a few range checks). The Unicode property class is only made
// for the other lines: V8 parses a regexp when the literal is evaluated and
// builds these property sets through ICU, ~4.5 M instructions (~1.5 ms) that
// every hook phase paid while it was a module constant (measured under cachegrind).
const PLAIN = /^[\t\x20-\x7e]*$/;
let control: RegExp | undefined;

function visible(line: string): string {
  if (PLAIN.test(line)) return line;
  control ??= /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
  return line.replace(control, (ch) => {
    if (ch === "\t") return ch;
    const code = ch.codePointAt(0) ?? 0;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
  });
}

/** The words a stream line shows for a level; info is the normal case and says nothing. */
const WORD: Record<LogLevel, string> = {
  error: "error: ",
  warning: "warning: ",
  notice: "",
  info: "",
  debug: "debug: ",
};

/** One message as the lines to write (each ends in "\n"). */
export function formatLines(level: LogLevel, message: string, f: LineFormat): string {
  const lines = message.split(/\r?\n/);
  if (lines.length > 1 && lines.at(-1) === "") lines.pop();
  const prefix = f.target === "journal" ? `<${LEVELS[level]}>` : `${isoUtc(f.now)} ${f.tag}: ${WORD[level]}`;
  return lines.map((l) => `${prefix}${visible(l)}\n`).join("");
}

/**
 * Is stderr the journal? systemd sets JOURNAL_STREAM to `<dev>:<inode>` of
 * the stream it connected to stdout/stderr; a process whose fd 2 is still
 * that stream (not a pipe or file a parent put in between) may use `<N>`
 * prefixes (systemd.exec(5) "JOURNAL_STREAM", sd_journal_stream_fd(3)).
 * Both numbers are decimal; `stat` is fstat(2) of fd 2.
 */
export function stderrIsJournal(
  journalStream: string | undefined,
  stat: { dev: number | bigint; ino: number | bigint } | undefined,
): boolean {
  if (!journalStream || !stat) return false;
  const m = /^(\d+):(\d+)$/.exec(journalStream);
  if (!m) return false;
  return BigInt(m[1]!) === BigInt(stat.dev) && BigInt(m[2]!) === BigInt(stat.ino);
}
