// First: on a Node.js older than the minimum, one line and exit 0 before any
// built-in is loaded (check-node.ts says why; test/node-version.test.ts).
import "./check-node.ts";
import { Script } from "node:vm";
import { readTrustedCodeCache } from "../lib/code-cache.ts";
import { codeCacheFile } from "./code-cache.ts";

// What Node runs as the hookscript: the body (hooks/hookscript.ts, bundled
// apart) is a string here, compiled with its V8 code cache when there is a
// valid one (hooks/code-cache.ts), else as Node would compile it. A string
// costs V8 one scan; the same code as code would be pre-parsed whole at every
// start. scripts/build.mjs defines both constants.
declare const HOOK_BODY: string;
declare const HOOK_BUILD: string;

const file = codeCacheFile(HOOK_BUILD, process.env);
const cachedData = readTrustedCodeCache(file);
const script = new Script(HOOK_BODY, { filename: __filename, ...(cachedData ? { cachedData } : {}) });
// The body is one function expression of CommonJS's wrapper arguments and the handle.
const body: unknown = script.runInThisContext();
if (typeof body === "function") body(exports, require, module, __filename, __dirname, { script, file });
