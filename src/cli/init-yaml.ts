import type { Detected } from "./init-scan.ts";

const q = (s: string) => JSON.stringify(s);
const ctx = (dir: string) => (dir === "." ? "." : `./${dir}`);

/** A commented tug.yaml for what `tug init` found; `schema` is the modeline's path or URL. */
export function renderInitYaml(found: Detected[], schema: string): string {
  const images = found.filter((d) => d.kind !== "python-lambda");
  const lambdas = found.filter((d) => d.kind === "python-lambda");
  const out = [
    `# yaml-language-server: $schema=${schema}`,
    "# Written by `tug init`. Paths are relative to this file. `tug build` builds everything below",
    "# into .tug/out (an OCI layout and docker tarballs); set repo: (or --repo / TUG_REPO) to push.",
    "# repo: registry.example.com/team",
  ];
  if (images.length > 0) out.push("images:");
  for (const d of images) {
    out.push(`  ${d.name}:`);
    switch (d.kind) {
      case "go":
        out.push(
          "    builder: go                 # go build, CGO_ENABLED=0, per platform",
          `    context: ${ctx(d.dir)}`,
        );
        out.push("    base: scratch               # a static binary needs nothing else");
        break;
      case "node":
        out.push(
          "    builder: node               # esbuild bundles entry and its dependencies",
          `    context: ${ctx(d.dir)}`,
        );
        out.push(`    entry: ${q(d.entry)}`);
        out.push(
          "    base: host:node             # this machine's node; a deployment names one, e.g. docker.io/library/node:20-slim",
        );
        break;
      case "python-service":
        out.push(
          "    builder: python             # wheels for the target, sources under /app",
          `    context: ${ctx(d.dir)}`,
        );
        out.push(`    module: ${d.module} # runs python3 -m ${d.module}`);
        if (d.requirements) out.push(`    requirements: ${d.requirements}`);
        out.push(
          "    base: docker.io/library/python:3.12-slim",
          '    python_version: "3.12"',
          '    glibc: "2.36"',
        );
        break;
      case "files":
        out.push(
          "    builder: files              # the directory's files, minus what ignore files exclude",
          `    context: ${ctx(d.dir)}`,
        );
        out.push("    dest: /app", "    base: scratch");
        break;
    }
    out.push("    # platforms: [linux/amd64, linux/arm64]", "    # ports: [8080]");
  }
  if (lambdas.length > 0) out.push("lambdas:");
  for (const d of lambdas) {
    if (d.kind !== "python-lambda") continue;
    out.push(
      `  ${d.name}:`,
      "    runtime: python3.12",
      `    handler: ${d.handler}`,
      "    # architecture: arm64",
    );
  }
  return `${out.join("\n")}\n`;
}
