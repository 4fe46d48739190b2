import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { SCHEMA_FILE, schemaText } from "../../scripts/gen-schema.ts";

test("schema/tug.schema.json is generated from the zod schema", async () => {
  const committed = await readFile(SCHEMA_FILE, "utf8");
  assert.equal(committed, schemaText(), "run: node --import tsx scripts/gen-schema.ts");
});

test("the JSON Schema describes builders and rejects unknown keys", () => {
  const schema = JSON.parse(schemaText()) as {
    additionalProperties: boolean;
    properties: {
      images: { additionalProperties: { oneOf: Array<{ properties: { builder: { const: string } } }> } };
    };
  };
  assert.equal(schema.additionalProperties, false);
  assert.deepEqual(
    schema.properties.images.additionalProperties.oneOf.map((o) => o.properties.builder.const),
    ["go", "node", "files", "command", "python"],
  );
});
