import { existsSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { findProject } from "../config/find.ts";
import { TugError } from "../errors.ts";
import { cli } from "./context.ts";

/** schema/tug.schema.json of this installation: from src/cli/ or from dist/. */
function schemaFile(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const file = join(dir, "schema", "tug.schema.json");
    if (existsSync(file)) return file;
    dir = dirname(dir);
  }
  return undefined;
}

/** The modeline's target: relative to the tug.yaml when near, else absolute. */
export function schemaRef(yamlDir: string): string {
  const file = schemaFile();
  // The package ships schema/; without it (a partial copy) point where npm installs it.
  if (!file) return "node_modules/tug/schema/tug.schema.json";
  // Relative when both live in one tree (a checkout, node_modules/tug), so the file can move with it.
  const top = (p: string) => resolve(p).split("/")[1];
  return top(yamlDir) === top(file) ? relative(yamlDir, file).split("\\").join("/") : file;
}

export function initCommand(program: Command): void {
  program
    .command("init")
    .argument("[dir]", "the project directory (default: the working directory)")
    .option("--force", "overwrite an existing tug.yaml")
    .option("--stdout", "print the tug.yaml instead of writing it")
    .description("detect the Go, Node and Python projects below and write a commented tug.yaml")
    .action(async (dirArg: string | undefined, flags: { force?: boolean; stdout?: boolean }) => {
      const dir = resolve(dirArg ?? ".");
      const existing = await findProject(dir);
      if (existing && !flags.force && !flags.stdout) {
        throw new TugError({
          what: `${relative(cli.cwd(), existing) || existing} already exists`,
          where: existing,
          hint: "edit it, or pass --force to replace it",
        });
      }
      const [{ scanProjects }, { renderInitYaml }] = await Promise.all([
        import("./init-scan.ts"),
        import("./init-yaml.ts"),
      ]);
      const found = await scanProjects(dir);
      const text = renderInitYaml(found, schemaRef(dir));
      if (flags.stdout) {
        cli.stdout.write(text);
        return;
      }
      const file = join(dir, "tug.yaml");
      // Written whole or not at all: a temp file renamed over.
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, text, { flag: "wx" });
      await rename(tmp, file);
      for (const d of found) cli.stderr.write(`found ${d.kind} ${d.name} in ${d.dir}\n`);
      cli.stderr.write(`wrote ${relative(cli.cwd(), file) || file}; next: tug build\n`);
    });
}
