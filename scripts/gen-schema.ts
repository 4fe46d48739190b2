// Writes schema/tug.schema.json from the zod schema that also validates tug.yaml at load time.
// Usage: node --import tsx scripts/gen-schema.ts [--check]
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { EXTENSION_PREFIX, TugFileSchema } from "../src/config/schema.ts";

export const SCHEMA_FILE = fileURLToPath(new URL("../schema/tug.schema.json", import.meta.url));

/** The JSON Schema text: draft-07 because that is what YAML editors' language servers read best. */
export function schemaText(): string {
  const schema = z.toJSONSchema(TugFileSchema, { io: "input", target: "draft-7" });
  // loadProject drops top-level x-* keys before validating; tell editors they are allowed.
  return `${JSON.stringify({ ...schema, patternProperties: { [`^${EXTENSION_PREFIX}`]: {} } }, null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = schemaText();
  if (process.argv.includes("--check")) {
    const current = await readFile(SCHEMA_FILE, "utf8").catch(() => "");
    if (current !== text) {
      console.error("schema/tug.schema.json is out of date; run node --import tsx scripts/gen-schema.ts");
      process.exit(1);
    }
  } else {
    await writeFile(SCHEMA_FILE, text);
    console.log(`wrote ${SCHEMA_FILE}`);
  }
}
