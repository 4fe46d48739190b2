// The generated 20-image repo the benches build: 8 Node services (4 TypeScript files each,
// esbuild-bundled, FROM scratch), 6 static sites (files builder on a busybox OCI-layout base)
// and 6 Go binaries (FROM scratch), plus one tug.yaml.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { makeBusyboxBase } from "../../test/support/bases.ts";

export const NODE_SERVICES = 8;
export const SITES = 6;
export const GO_BINARIES = 6;

export function writeFiles(dir: string, files: Record<string, string | Buffer>): void {
  for (const [path, data] of Object.entries(files)) {
    const p = join(dir, path);
    mkdirSync(join(p, ".."), { recursive: true });
    writeFileSync(p, data);
  }
}

export function nodeService(i: number): Record<string, string> {
  return {
    "package.json": JSON.stringify({ name: `svc${i}`, version: "1.0.0", private: true, type: "module" }),
    "src/greeting.ts": `export const greeting = (who: string): string => \`hello \${who} from svc${i}\`;\n`,
    "src/util.ts": `export function clamp(n: number, lo: number, hi: number): number {\n  return Math.min(hi, Math.max(lo, n));\n}\nexport const started = Date.now();\n`,
    "src/routes.ts": `import { greeting } from "./greeting.ts";\nimport { clamp, started } from "./util.ts";\nexport function route(url: string): string {\n  if (url === "/healthz") return "ok";\n  if (url === "/uptime") return String(clamp(Date.now() - started, 0, 1e12));\n  return greeting(url.slice(1) || "world");\n}\n`,
    "src/server.ts": `import { createServer } from "node:http";\nimport { route } from "./routes.ts";\nconst port = Number(process.env.PORT ?? 8080);\ncreateServer((req, res) => {\n  res.writeHead(200, { "content-type": "text/plain" });\n  res.end(route(req.url ?? "/") + "\\n");\n}).listen(port);\n`,
  };
}

export function site(i: number): Record<string, string | Buffer> {
  const page = (t: string) =>
    `<!doctype html><title>${t}</title><link rel=stylesheet href=style.css><h1>${t}</h1>\n`;
  const files: Record<string, string | Buffer> = {
    "index.html": page(`site ${i}`),
    "about.html": page(`about site ${i}`),
    "style.css": `body { font-family: sans-serif; margin: ${i}em; }\n`,
    "app.js": `document.title += " (${i})";\n`,
    "img/logo.bin": Buffer.alloc(20_000 + i * 1000, i),
  };
  for (let p = 0; p < 10; p++) files[`docs/page${p}.html`] = page(`site ${i} page ${p}`);
  return files;
}

export function goBinary(i: number): Record<string, string> {
  return {
    "go.mod": `module example.com/gobin${i}\n\ngo 1.19\n`,
    "main.go": `package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc main() {\n\tfmt.Fprintln(os.Stdout, "gobin${i} says hello")\n}\n`,
  };
}

export interface TwentyImageRepo {
  /** Target names, in tug.yaml order. */
  targets: string[];
  /** How many source files the targets' contexts hold (the base layout not counted). */
  sourceFiles: number;
}

/** Writes the whole repo (sources, the busybox base layout, tug.yaml) into `repo`. */
export async function writeTwentyImageRepo(repo: string): Promise<TwentyImageRepo> {
  await makeBusyboxBase(join(repo, "bases", "busybox"));
  const images: Record<string, Record<string, unknown>> = {};
  let sourceFiles = 0;
  const add = (name: string, files: Record<string, string | Buffer>, spec: Record<string, unknown>) => {
    writeFiles(join(repo, name), files);
    sourceFiles += Object.keys(files).length;
    images[name] = { ...spec, context: `./${name}` };
  };
  for (let i = 0; i < NODE_SERVICES; i++)
    add(`svc${i}`, nodeService(i), {
      builder: "node",
      entry: "src/server.ts",
      base: "scratch",
      entrypoint_check: false, // never run: a node bundle on scratch cannot start
    });
  for (let i = 0; i < SITES; i++)
    add(`site${i}`, site(i), { builder: "files", dest: "/srv/www", base: "oci-layout:./bases/busybox" });
  for (let i = 0; i < GO_BINARIES; i++) add(`gobin${i}`, goBinary(i), { builder: "go", base: "scratch" });
  writeFileSync(join(repo, "tug.yaml"), stringify({ images }));
  return { targets: Object.keys(images), sourceFiles };
}
