// Creates the demo cluster's secret files (examples/secrets/) with mode 600.
// git cannot store file modes other than 644/755, and the config loader
// rightly refuses group/other-readable secrets, so they are made here, by
// `npm ci` (prepare), instead of being committed. Demo values only.
import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "examples", "secrets");
mkdirSync(dir, { recursive: true, mode: 0o700 });
const files = {
  "pvemigrate-dns.token": () => randomUUID(),
  "pvemigrate.tsig": () => randomBytes(32).toString("base64"),
};
for (const [name, make] of Object.entries(files)) {
  const file = join(dir, name);
  if (!existsSync(file)) writeFileSync(file, `${make()}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}
