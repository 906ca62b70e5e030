import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { jsonSchemaText } from "../lib/envelope-schema.ts";

// Writes docs/json-envelope.schema.json from the zod schema in lib/envelope.ts
// (the contract tests validate with). test/cli/json-envelope.test.ts fails
// when the file and the schema differ: run `node --import tsx scripts/json-schema.ts`.

writeFileSync(join(import.meta.dirname, "..", "docs", "json-envelope.schema.json"), jsonSchemaText());
