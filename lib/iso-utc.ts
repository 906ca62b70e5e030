// Date#toISOString, without loading the time zone: V8's toISOString (and
// toJSON) initialise its local time zone first, reading /etc/localtime and
// ICU's zone data (~0.3 ms and a few million instructions of a hookscript
// start, issue 16), although the text is UTC. The getUTC* methods do not.
// Used on the hookscript's path: the log line's stamp, the lock holder, the
// journal item.

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** The same text as `new Date(ms).toISOString()` for years 0-9999 (the only ones a clock gives). */
export function isoUtc(ms: number): string {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  if (!(year >= 0 && year <= 9999)) return d.toISOString();
  return (
    `${pad(year, 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}Z`
  );
}
