// Bundles the CLI (ESM) and the hookscript (CommonJS) into single files
// (dist/) so a Proxmox node needs no node_modules, and the hook cold-starts
// fast: it delays VM start and live migration.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { builtinsViaRequire, builtinsViaRequireExcept } from "./builtins-via-require.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const FULL_CLI = "pvemigrate-dns-full";
const outdir = process.argv[2] ?? join(root, "dist");
const LAUNCHER_ENTRY = join(root, "bin", "pvemigrate-dns.ts");
// The launcher is CommonJS, for the hookscript's reason below (the ESM loader
// costs ~6 ms CPU at every start; issue 16, floor 2: `dns set` runs from it).
// pvemigrate-dns.mjs, the name the README, the packages and the hook run, is a
// relative symlink to it: Node runs the real path of its main script, so the
// .cjs extension picks the CommonJS loader.
const LAUNCHER = "pvemigrate-dns.cjs";
const LAUNCHER_NAME = "pvemigrate-dns.mjs";
const HOOKSCRIPT = "hookscript.cjs";

// The launcher's `await import("./program.ts")` becomes an import of the full
// CLI's own bundle next to it, resolved at run time (relative to the
// launcher's real path: Node runs a symlinked main by its target), instead of
// being inlined: inlined, Node would parse the whole CLI at every start again.
const fullCliApart = {
  name: "full-cli-apart",
  setup(b) {
    b.onResolve({ filter: /^\.\/program\.ts$/ }, (args) =>
      args.kind === "dynamic-import" && args.importer === LAUNCHER_ENTRY
        ? { path: `./${FULL_CLI}.mjs`, external: true }
        : undefined,
    );
  },
};

// The launcher's `dns set` fast path (bin/dns-set-fast.ts), bundled on its own
// and embedded in the launcher as a string with its SHA-256, in place of
// bin/fast-path.ts: bin/code-cache.ts compiles it through V8's code cache
// (issue 16, floor 2: V8 compiling the fast path's functions cost ~5 ms of
// every start). Built-ins are required on first use, as in the launcher.
const FAST_PATH = join(root, "bin", "fast-path.ts");
const fastPathFromCodeCache = {
  name: "fast-path-from-code-cache",
  setup(b) {
    b.onResolve({ filter: /^\.\/fast-path\.ts$/ }, (args) =>
      join(args.resolveDir, args.path) === FAST_PATH
        ? { path: FAST_PATH, namespace: "fast-path" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "fast-path" }, async () => {
      const inner = await build({
        ...common,
        entryPoints: [join(root, "bin", "dns-set-fast.ts")],
        format: "cjs",
        write: false,
        plugins: [builtinsViaRequireExcept(["fs", "path", "util"], { functions: true })],
      });
      const source = inner.outputFiles[0].text;
      const hash = createHash("sha256").update(source).digest("hex").slice(0, 32);
      return {
        contents: [
          `import { runWithCodeCache } from ${JSON.stringify(join(root, "bin", "code-cache.ts"))};`,
          `const SOURCE = ${JSON.stringify(source)};`,
          "export function loadFastPath() {",
          `  const loaded = runWithCodeCache(SOURCE, ${JSON.stringify(hash)}, __filename, require);`,
          "  return { runDnsSetFast: (argv) => loaded.exports.runDnsSetFast(argv), saveCodeCache: loaded.save };",
          "}",
        ].join("\n"),
        resolveDir: join(root, "bin"),
        loader: "js",
      };
    });
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

const common = {
  bundle: true,
  platform: "node",
  // The oldest Node the bundles support (Proxmox VE 8's Debian 12): lib/node-version.ts.
  target: "node18.19",
  // Whitespace and syntax only: stack traces keep their names.
  minifyWhitespace: true,
  minifySyntax: true,
  alias: { undici: join(root, "scripts", "undici-shim.mjs") },
  sourcemap: false,
  legalComments: "none",
  logLevel: "warning",
};

// The hookscript: CommonJS, named .cjs, because Node runs a .mjs (or a file
// under a "type": "module" package.json) through its ESM loader, ~20 more
// internal modules and an async read of the file on the thread pool at every
// start (~15 M instructions, a sixth of `node -e 0`, measured under
// cachegrind: issue 16). Installed as pvemigrate-dns.cjs next to the
// pvemigrate-dns.mjs name guests use, a symlink to it (packaging/install.sh):
// Node picks the format by the real path. Built-ins but node:fs and node:path
// are required on first use (builtins-via-require.mjs).
// The body, then the loader Node runs (hooks/loader.ts), holding the body as a
// string it compiles with the body's V8 code cache (hooks/code-cache.ts), named
// by the body's build id. The body is one function of CommonJS's wrapper
// arguments and the loader's handle to the cache (__pvmCodeCache).
const body = await build({
  ...common,
  entryPoints: [join(root, "hooks", "hookscript.ts")],
  write: false,
  format: "cjs",
  plugins: [zodEnglishOnly, builtinsViaRequireExcept(["fs", "path"], { functions: true })],
  // The one import.meta in its modules is createRequire(import.meta.url)
  // (lib/state/journal-item.ts), which takes a path as well: no URL to build at every start.
  define: { "import.meta.url": "__filename" },
});
const bodyText = `(function (exports, require, module, __filename, __dirname, __pvmCodeCache) {${body.outputFiles[0].text.replace(/^#!.*\n/, "")}\n})`;
await build({
  ...common,
  entryPoints: [join(root, "hooks", "loader.ts")],
  outfile: join(outdir, HOOKSCRIPT),
  format: "cjs",
  banner: { js: "#!/usr/bin/env node" },
  define: {
    HOOK_BODY: JSON.stringify(bodyText),
    HOOK_BUILD: JSON.stringify(createHash("sha256").update(bodyText).digest("hex").slice(0, 16)),
  },
});
chmodSync(join(outdir, HOOKSCRIPT), 0o755);

// The launcher: `dns set` from the config cache (bin/dns-set-fast.ts), the
// full CLI below for everything else. Built-ins as in the hookscript, plus
// node:util eager (loaded by every Node start; Secret's inspect.custom is a
// property of util.inspect, which a function stand-in would not carry).
await build({
  ...common,
  entryPoints: [LAUNCHER_ENTRY],
  outfile: join(outdir, LAUNCHER),
  format: "cjs",
  plugins: [
    fullCliApart,
    fastPathFromCodeCache,
    builtinsViaRequireExcept(["fs", "path", "util"], { functions: true }),
  ],
});
chmodSync(join(outdir, LAUNCHER), 0o755);
rmSync(join(outdir, LAUNCHER_NAME), { force: true });
symlinkSync(LAUNCHER, join(outdir, LAUNCHER_NAME));

// The full CLI, loaded by the launcher above for every command line its `dns set`
// fast path does not take (bin/pvemigrate-dns.ts): not run on its own, so not executable.
await build({
  ...common,
  entryPoints: { [FULL_CLI]: join(root, "bin", "program.ts") },
  outdir,
  outExtension: { ".js": ".mjs" },
  format: "esm",
  plugins: [zodEnglishOnly, builtinsViaRequire],
  // Some dependencies are CommonJS and call require() for node built-ins.
  banner: {
    js: "import { createRequire as __pvmCreateRequire } from 'node:module'; const require = __pvmCreateRequire(import.meta.url);",
  },
});
chmodSync(join(outdir, `${FULL_CLI}.mjs`), 0o644);
// The man page and the bash completion, printed by the CLI bundle from its own
// command definitions (hidden commands `man`, `completion bash`); packages install both.
for (const [file, args] of [
  ["pvemigrate-dns.1", ["man"]],
  ["pvemigrate-dns.bash-completion", ["completion", "bash"]],
]) {
  const text = execFileSync(process.execPath, [join(outdir, LAUNCHER_NAME), ...args], {
    encoding: "utf8",
  });
  writeFileSync(join(outdir, file), text);
}
console.error(
  `built ${[LAUNCHER, `${LAUNCHER_NAME} (-> ${LAUNCHER})`, `${FULL_CLI}.mjs`, HOOKSCRIPT].map((f) => `${outdir}/${f}`).join(", ")}`,
);
