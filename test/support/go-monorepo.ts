// A Go monorepo on disk for tests: services that reach a sibling module through `replace` and
// through a go.work workspace, plus the unrelated files a real repository holds. Local modules
// only, so nothing is downloaded (GOPROXY=off).
import { mkdir, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { runTool } from "./tools.ts";

/** The environment the Go tools run with in these tests: no network, no checksum database. */
export const OFFLINE_GO_ENV = { GOPROXY: "off", GONOSUMDB: "*", GOFLAGS: "" };

export const MONOREPO_FILES: Record<string, string> = {
  ".gitignore": "debug.log\n",
  "shared/go.mod": "module example.com/shared\n\ngo 1.19\n",
  "shared/greet.go":
    'package shared\n\nimport _ "embed"\n\n//go:embed msg.txt\nvar msg string\n\n// Greeting is what every service prints.\nfunc Greeting() string { return "shared says " + msg }\n',
  "shared/msg.txt": "v1",
  "shared/README.md": "not a Go input\n",
  "svc/go.mod":
    "module example.com/svc\n\ngo 1.19\n\nrequire example.com/shared v0.0.0\n\nreplace example.com/shared => ../shared\n",
  "svc/main.go":
    'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/shared"\n)\n\nfunc main() { fmt.Println("svc: " + shared.Greeting()) }\n',
  "svc/windows_only.go": "//go:build windows\n\npackage main\n",
  "ws/go.work": "go 1.19\n\nuse (\n\t./app\n\t./lib\n)\n",
  "ws/app/go.mod": "module example.com/app\n\ngo 1.19\n",
  "ws/app/main.go":
    'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/lib"\n)\n\nfunc main() { fmt.Println("app: " + lib.Text()) }\n',
  "ws/lib/go.mod": "module example.com/lib\n\ngo 1.19\n",
  "ws/lib/lib.go":
    'package lib\n\n// Text is what the workspace app prints.\nfunc Text() string { return "lib v1" }\n',
  "frontend/package.json": '{"name":"frontend"}\n',
  "frontend/node_modules/x/index.js": "module.exports = 1;\n",
};

export const MONOREPO_YAML = `images:
  svc:
    builder: go
    context: ./svc
    base: scratch
  app:
    builder: go
    context: ./ws/app
    base: scratch
`;

/** Writes `files` under `dir`, dated a minute ago so caches may trust their stamps at once. */
export async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  const past = new Date(Date.now() - 60_000);
  for (const [path, text] of Object.entries(files)) {
    const abs = join(dir, path);
    await mkdir(dirname(abs), { recursive: true });
    await writeFile(abs, text);
    await utimes(abs, past, past);
  }
}

/** A git work tree (so the repository root is a known root) holding the monorepo. */
export async function makeMonorepo(dir: string, extra: Record<string, string> = {}): Promise<void> {
  await writeTree(dir, { ...MONOREPO_FILES, "tug.yaml": MONOREPO_YAML, ...extra });
  await runTool("git", ["init", "-q", dir]);
}
