// esbuild plugin: the bundles reach Node's built-in modules through require()
// (the banner's createRequire) instead of static `import { x } from "node:..."`.
// Why: ESM links every static import before running a single line, and a named
// export an old Node lacks (fs/promises' statfs came in 18.15; Debian 12.0
// shipped 18.13) fails that link with a SyntaxError stack, before the version
// check at the top of each entry (bin/check-node.ts, hooks/check-node.ts) can
// run; a hookscript failing like that at pre-start aborts the VM start. Through
// require(), a missing export is only undefined until used, so the check is
// always reached. It also defers loading a built-in to the first evaluation of
// a module that uses it (the hook's lazily imported client code).
import { isBuiltin } from "node:module";

const NAMESPACE = "builtin-via-require";

export const builtinsViaRequire = {
  name: "builtins-via-require",
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => {
      if (!isBuiltin(args.path)) return undefined;
      // The require() inside the stand-in module is the real, external one.
      if (args.namespace === NAMESPACE) return { path: args.path, external: true };
      return { path: args.path, namespace: NAMESPACE };
    });
    b.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};
