import { z } from "zod";
import { changeSchema, envelopeSchema } from "./envelope.ts";

// The JSON Schema of the --json envelope, derived from its zod schema with
// zod 4's toJSONSchema (draft 2020-12), so the published file
// (docs/json-envelope.schema.json) and what the tests validate with cannot
// drift apart. `Change` is listed under $defs: the shape of every change
// object inside `data`.

export const SCHEMA_ID = "pvemigrate-dns/json-envelope.schema.json";

export function jsonSchemaText(): string {
  const registry = z.registry<{ id: string }>();
  registry.add(envelopeSchema, { id: "Envelope" });
  registry.add(changeSchema, { id: "Change" });
  const { schemas } = z.toJSONSchema(registry, { uri: (id) => `#/$defs/${id}` });
  // Each entry as a plain definition: the document's own $schema and $id say the rest.
  const $defs = Object.fromEntries(
    Object.entries(schemas).map(([name, schema]) => {
      const { $schema, $id, ...body } = schema;
      void $schema;
      void $id;
      return [name, body];
    }),
  );
  const doc = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: SCHEMA_ID,
    title: "pvemigrate-dns --json output",
    $ref: "#/$defs/Envelope",
    $defs,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
