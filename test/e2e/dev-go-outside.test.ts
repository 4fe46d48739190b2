// tug dev on a Go service whose go.mod replaces a sibling module (`=> ../shared`): an edit to the
// sibling, outside the target's context, rebuilds the binary and the new text is served.
import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { loadProject } from "../../src/config/index.ts";
import { dev } from "../../src/dev/dev.ts";
import type { UpdateReport } from "../../src/dev/report.ts";
import { OFFLINE_GO_ENV } from "../support/go-monorepo.ts";
import { httpText, until } from "../support/http.ts";
import { tempDir } from "../support/tmp.ts";
import { freePort } from "../support/tools.ts";

const greet = (v: string) =>
  `package shared\n\n// Greeting is what the service serves.\nfunc Greeting() string { return "shared ${v}" }\n`;

test("local runtime: editing a replaced sibling module outside the context rebuilds the Go service", async (t) => {
  const saved = { ...process.env };
  Object.assign(process.env, OFFLINE_GO_ENV);
  t.after(() => {
    for (const k of Object.keys(OFFLINE_GO_ENV)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  const port = await freePort();
  const dir = await tempDir(t, "tug-dev-go-");
  const files: Record<string, string> = {
    "shared/go.mod": "module example.com/shared\n\ngo 1.19\n",
    "shared/greet.go": greet("v1"),
    "svc/go.mod":
      "module example.com/svc\n\ngo 1.19\n\nrequire example.com/shared v0.0.0\n\nreplace example.com/shared => ../shared\n",
    "svc/main.go": `package main

import (
\t"fmt"
\t"net/http"
\t"os"

\t"example.com/shared"
)

func main() {
\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, shared.Greeting()) })
\thttp.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil)
}
`,
    "tug.yaml": `images:\n  svc:\n    builder: go\n    context: ./svc\n    env: { PORT: "${port}" }\n    dev:\n      port: ${port}\n`,
  };
  for (const [path, text] of Object.entries(files)) {
    await fs.mkdir(join(dir, path, ".."), { recursive: true });
    await fs.writeFile(join(dir, path), text);
  }
  const reports: UpdateReport[] = [];
  const session = await dev(await loadProject(join(dir, "tug.yaml")), {
    cacheDir: await tempDir(t, "tug-cache-"),
    onReport: (r) => reports.push(r),
    onLog: () => {},
  });
  try {
    assert.ok(reports[0]?.ok, reports[0]?.error);
    assert.equal(await httpText(port), "shared v1\n");
    await fs.writeFile(join(dir, "shared", "greet.go"), greet("v2"));
    const live = await until("the update after the sibling edit", () => reports[1], 120_000);
    await session.idle();
    assert.ok(live.ok, live.error);
    assert.deepEqual(live.files, ["../shared/greet.go"]);
    assert.equal(await httpText(port), "shared v2\n");
  } finally {
    await session.stop();
  }
});
