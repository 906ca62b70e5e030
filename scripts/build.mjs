// Bundles the CLI and the hookscript into single ESM files (dist/) so a
// Proxmox node needs no node_modules, and the hook cold-starts fast: it delays
// VM start and live migration.
import { execFileSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { builtinsViaRequire } from "./builtins-via-require.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const FULL_CLI = "pvemigrate-dns-full";
const outdir = process.argv[2] ?? join(root, "dist");
const entries = {
  "pvemigrate-dns": join(root, "bin", "pvemigrate-dns.ts"),
  hookscript: join(root, "hooks", "hookscript.ts"),
  // The full CLI, loaded by the launcher above for every command line its `dns set`
  // fast path does not take (bin/pvemigrate-dns.ts): not run on its own, so not executable.
  [FULL_CLI]: join(root, "bin", "program.ts"),
};
const executable = ["pvemigrate-dns", "hookscript"];

// The launcher's `await import("./program.ts")` becomes an import of the full
// CLI's own bundle next to it, resolved at run time (relative to the
// launcher's real path: Node runs a symlinked main by its target), instead of
// being inlined: inlined, Node would parse the whole CLI at every start again.
const fullCliApart = {
  name: "full-cli-apart",
  setup(b) {
    b.onResolve({ filter: /^\.\/program\.ts$/ }, (args) =>
      args.kind === "dynamic-import" && args.importer === entries["pvemigrate-dns"]
        ? { path: `./${FULL_CLI}.mjs`, external: true }
        : undefined,
    );
  },
};

// zod re-exports every locale (z.locales); the project uses only English,
// which zod imports on its own. Keeping the other 40-odd out of the bundle
// saves a third of the hook's parse time.
const zodEnglishOnly = {
  name: "zod-english-only",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${join("node_modules", "zod")}`)
        ? { path: "zod-locales", namespace: "zod-en" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "zod-en" }, () => ({
      contents: `export { default as en } from ${JSON.stringify(join(root, "node_modules/zod/v4/locales/en.js"))};`,
      resolveDir: root,
    }));
  },
};

await build({
  entryPoints: entries,
  outdir,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  // The oldest Node the bundles support (Proxmox VE 8's Debian 12): lib/node-version.ts.
  target: "node18.19",
  format: "esm",
  // Whitespace and syntax only: stack traces keep their names.
  minifyWhitespace: true,
  minifySyntax: true,
  alias: { undici: join(root, "scripts", "undici-shim.mjs") },
  plugins: [fullCliApart, zodEnglishOnly, builtinsViaRequire],
  sourcemap: false,
  legalComments: "none",
  // Some dependencies are CommonJS and call require() for node built-ins.
  banner: {
    js: "import { createRequire as __pvmCreateRequire } from 'node:module'; const require = __pvmCreateRequire(import.meta.url);",
  },
  logLevel: "warning",
});
for (const name of Object.keys(entries))
  chmodSync(join(outdir, `${name}.mjs`), executable.includes(name) ? 0o755 : 0o644);
// The man page and the bash completion, printed by the CLI bundle from its own
// command definitions (hidden commands `man`, `completion bash`); packages install both.
for (const [file, args] of [
  ["pvemigrate-dns.1", ["man"]],
  ["pvemigrate-dns.bash-completion", ["completion", "bash"]],
]) {
  const text = execFileSync(process.execPath, [join(outdir, "pvemigrate-dns.mjs"), ...args], {
    encoding: "utf8",
  });
  writeFileSync(join(outdir, file), text);
}
console.error(
  `built ${Object.keys(entries)
    .map((n) => `${outdir}/${n}.mjs`)
    .join(", ")}`,
);
