// Text a guest controls (its Notes, tags, guest agent answers, the names and
// messages derived from them) ends up in log lines, errors and the terminal of
// an admin who runs the CLI as root. Unescaped, a newline in a VM's Notes
// forges a log line, an escape sequence rewrites the admin's terminal, and a
// 64 KiB block floods the journal. Every such text goes through `untrusted`
// before it is printed: one line, visible escapes, bounded length.

/** Default bound for one piece of guest text in a log line or message. */
export const UNTRUSTED_MAX_CHARS = 300;

// Control characters (C0, DEL, C1), format characters (bidi overrides,
// zero-width joiners, BOM), line/paragraph separators and lone surrogates:
// anything that moves the cursor, hides text or reorders what a reader sees.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\" };

function escapeChar(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  if (!INVISIBLE.test(ch)) return ch;
  const code = ch.codePointAt(0) ?? 0;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
}

/**
 * `text` as one printable line: `\n`, `\r`, `\t` and `\` written as escapes,
 * every other invisible character as `\xHH` or `\u{HHHH}`, and at most
 * `maxChars` characters of the escaped form, with a marker saying how much of
 * the original was cut.
 */
export function untrusted(text: string, maxChars = UNTRUSTED_MAX_CHARS): string {
  let out = "";
  let consumed = 0;
  for (const ch of text) {
    const escaped = escapeChar(ch);
    if (out.length + escaped.length > maxChars) {
      return `${out}...(${text.length - consumed} more characters)`;
    }
    out += escaped;
    consumed += ch.length;
  }
  return out;
}
