// Tokens that only have to be unique (a lock holder's, a journal revision, a
// temp file's suffix), never secret: made from the pid, the time, a counter
// and Math.random instead of node:crypto, whose load alone costs about 5 ms of
// the hookscript's start-up (it records a journal item while a VM start waits).

let counter = 0;

/** 24 characters, unique across the processes of one machine and over time. */
export function uniqueToken(): string {
  counter = (counter + 1) % 1296;
  const random = Math.floor(Math.random() * 36 ** 8)
    .toString(36)
    .padStart(8, "0");
  return [
    process.pid.toString(36).padStart(5, "0").slice(-5),
    Date.now().toString(36).padStart(9, "0").slice(-9),
    counter.toString(36).padStart(2, "0"),
    random,
  ].join("");
}
