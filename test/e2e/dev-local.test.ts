import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { promises as fs, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadProject } from "../../src/config/index.ts";
import { dev } from "../../src/dev/dev.ts";
import { formatReport, type UpdateReport } from "../../src/dev/report.ts";
import { demoWebDevProject } from "../support/dev-session.ts";
import { httpText, until } from "../support/http.ts";
import { tempDir } from "../support/tmp.ts";
import { freePort } from "../support/tools.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A project dir with the demo's Node service (and a Go HTTP service) and a dev: block. */
async function devProject(t: TestContext, port: number, goPort?: number): Promise<string> {
  const dir = await demoWebDevProject(
    t,
    "tug-dev-",
    port,
    "      live_update:\n        - fall_back_on: [package.json]\n        - restart: true\n",
  );
  let yaml = "";
  if (goPort) {
    await fs.mkdir(join(dir, "api"));
    await fs.writeFile(join(dir, "api", "go.mod"), "module example.com/api\n\ngo 1.19\n");
    await fs.writeFile(
      join(dir, "api", "main.go"),
      `package main

import (
\t"fmt"
\t"net/http"
\t"os"
)

func main() {
\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "go says one") })
\thttp.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil)
}
`,
    );
    yaml += `  api:
    builder: go
    context: ./api
    env: { PORT: "${goPort}" }
    dev:
      port: ${goPort}
`;
  }
  await fs.appendFile(join(dir, "tug.yaml"), yaml);
  return dir;
}

/** `tug dev` on a project dir through the library, collecting reports; stopped when `t` ends. */
async function startDev(t: TestContext, dir: string, targets?: string[]) {
  const reports: UpdateReport[] = [];
  const session = await dev(await loadProject(join(dir, "tug.yaml")), {
    ...(targets ? { targets } : {}),
    cacheDir: await tempDir(t, "tug-cache-"),
    onReport: (r) => reports.push(r),
    onLog: () => {},
  });
  t.after(() => session.stop());
  return { session, reports };
}

test("local runtime: an edit is served after a live update; fall_back_on rebuilds; stop leaves no process", async (t) => {
  const port = await freePort();
  const dir = await devProject(t, port);
  const { session, reports } = await startDev(t, dir);
  try {
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.action, "start");
    assert.ok(reports[0]!.ok, reports[0]!.error);
    assert.equal(
      await httpText(port).catch((e: Error) => `${e.message} ${JSON.stringify(reports)}`),
      "hello from web\n",
    );
    const firstPid = Number(reports[0]!.id);

    await fs.writeFile(
      join(dir, "web/src/greeting.ts"),
      'export function greeting(): string {\n  return "edited";\n}\n',
    );
    const live = await until("the live update", () => reports.find((r) => r.action === "live-update"));
    await session.idle();
    assert.ok(live.ok, live.error);
    assert.deepEqual(live.files, ["src/greeting.ts"]);
    assert.ok(live.ms > 0 && live.restart > 0);
    assert.match(
      formatReport(live),
      /^web {2}live-update {2}src\/greeting\.ts {2}→ {2}ready in \d+ ms \(build \d+, sync \d+, restart \d+\)$/,
    );
    assert.equal(await httpText(port), "edited\n");
    assert.ok(!alive(firstPid), "the old process was replaced");

    const pkg = JSON.parse(await fs.readFile(join(dir, "web/package.json"), "utf8")) as Record<
      string,
      unknown
    >;
    await fs.writeFile(join(dir, "web/package.json"), JSON.stringify({ ...pkg, description: "changed" }));
    const rebuild = await until("the fall-back rebuild", () => reports.find((r) => r.action === "rebuild"));
    await session.idle();
    assert.ok(rebuild.ok, rebuild.error);
    assert.deepEqual(rebuild.files, ["package.json"]);
    assert.equal(await httpText(port), "edited\n");
  } finally {
    await session.stop();
  }
  const last = Number(reports.at(-1)!.id);
  assert.ok(!alive(last), "stop() ended the process");
});

test("local runtime: a syntax error keeps the old version serving; fixing it recovers", async (t) => {
  const port = await freePort();
  const dir = await devProject(t, port);
  const { session, reports } = await startDev(t, dir);
  try {
    const file = join(dir, "web/src/greeting.ts");
    await fs.writeFile(file, 'export function greeting(): string {\n  return "broken"\n');
    const failed = await until("the failed update", () => reports.find((r) => r.action === "live-update"));
    await session.idle();
    assert.equal(failed.ok, false);
    assert.match(failed.error ?? "", /greeting\.ts:\d+/);
    assert.match(formatReport(failed), /failed: esbuild failed/);
    assert.equal(await httpText(port), "hello from web\n", "the old version still serves");
    await fs.writeFile(file, 'export function greeting(): string {\n  return "fixed";\n}\n');
    await until("the recovery", () => reports.find((r) => r.action === "live-update" && r.ok));
    await session.idle();
    assert.equal(await httpText(port), "fixed\n");
  } finally {
    await session.stop();
  }
});

test("local runtime: a process that crashes on start is reported with its last log lines; the next change retries", async (t) => {
  const port = await freePort();
  const dir = await devProject(t, port);
  const { session, reports } = await startDev(t, dir);
  try {
    const file = join(dir, "web/src/greeting.ts");
    await fs.writeFile(
      file,
      'console.error("config missing: DATABASE_URL");\nprocess.exit(3);\nexport function greeting(): string {\n  return "never";\n}\n',
    );
    const crashed = await until("the crash report", () => reports.find((r) => r.action === "live-update"));
    await session.idle();
    assert.equal(crashed.ok, false);
    assert.match(crashed.error ?? "", /exited before it was ready \(code 3\)/);
    assert.ok(crashed.logs?.includes("config missing: DATABASE_URL"), JSON.stringify(crashed.logs));
    assert.match(formatReport(crashed), /\| config missing: DATABASE_URL/);
    await fs.writeFile(file, 'export function greeting(): string {\n  return "back";\n}\n');
    const recovered = await until("the retry", () =>
      reports.find((r) => r !== crashed && r.action !== "start" && r.ok),
    );
    await session.idle();
    assert.ok(recovered.ok);
    assert.equal(await httpText(port), "back\n");
  } finally {
    await session.stop();
  }
});

test("local runtime: 50 quick saves make at most 2 updates and the last content runs", async (t) => {
  const port = await freePort();
  const dir = await devProject(t, port);
  const { session, reports } = await startDev(t, dir);
  try {
    const file = join(dir, "web/src/greeting.ts");
    // One burst: with a pause between saves, a loaded machine could stretch a pause past the
    // debounce and make a third update, and the test would be timing one, not coalescing.
    for (let i = 1; i <= 50; i++) {
      writeFileSync(file, `export function greeting(): string {\n  return "save ${i}";\n}\n`);
    }
    await until("an update", () => reports.find((r) => r.action === "live-update"));
    // Let any queued follow-up finish, and give the watcher time to deliver stragglers.
    await new Promise((r) => setTimeout(r, 500));
    await session.idle();
    const updates = reports.filter((r) => r.action !== "start");
    assert.ok(updates.length >= 1 && updates.length <= 2, `${updates.length} updates`);
    // A save caught half-written may fail to compile; the follow-up then carries the last one.
    assert.equal(await httpText(port), "save 50\n");
  } finally {
    await session.stop();
  }
});

test("local runtime: a Go service is rebuilt with the warm cache and its binary swapped", async (t) => {
  const [port, goPort] = [await freePort(), await freePort()];
  const dir = await devProject(t, port, goPort);
  const { session, reports } = await startDev(t, dir, ["api"]);
  try {
    assert.ok(reports[0]?.ok, reports[0]?.error);
    assert.equal(await httpText(goPort), "go says one\n");
    const main = join(dir, "api/main.go");
    await fs.writeFile(main, (await fs.readFile(main, "utf8")).replace("go says one", "go says two"));
    const live = await until(
      "the go live update",
      () => reports.find((r) => r.action === "live-update"),
      120_000,
    );
    await session.idle();
    assert.ok(live.ok, live.error);
    assert.ok(live.build > 0, "go build ran");
    assert.equal(await httpText(goPort), "go says two\n");
  } finally {
    await session.stop();
  }
});

test("tug dev CLI: --json streams reports; SIGINT stops it and leaves no child process", async (t) => {
  const port = await freePort();
  const dir = await devProject(t, port);
  const main = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
  const tsx = fileURLToPath(import.meta.resolve("tsx"));
  const child = spawn(process.execPath, ["--import", tsx, main, "dev", "--json"], {
    cwd: dir,
    env: { ...process.env, TUG_CACHE: await tempDir(t, "tug-cache-") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const reports: UpdateReport[] = [];
  t.after(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
    // After a failure, the services tug started (own process groups) must not outlive the test.
    for (const r of reports) {
      try {
        if (r.id) process.kill(-Number(r.id), "SIGKILL");
      } catch {
        // already gone
      }
    }
  });
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => {
    stderr += b;
  });
  let served = "";
  const poll = () => {
    httpText(port).then(
      (text) => {
        served = text;
      },
      () => {},
    );
  };
  createInterface({ input: child.stdout }).on("line", (l) => reports.push(JSON.parse(l) as UpdateReport));
  const start = await until("the start report", () => reports[0], 30_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${stderr}`);
  });
  assert.ok(start.ok, start.error);
  assert.match(stderr, /web \| listening on/, "logs are prefixed with the target name");
  await fs.writeFile(
    join(dir, "web/src/greeting.ts"),
    'export function greeting(): string {\n  return "via cli";\n}\n',
  );
  const live = await until("the live update report", () => reports.find((r) => r.action === "live-update"));
  assert.ok(live.ok);
  // The CLI has no idle(): poll until the new text is served, as a user would.
  await until("the new text", () => {
    if (served === "via cli\n") return true;
    poll();
    return undefined;
  });
  const pid = Number(reports.at(-1)!.id);
  assert.ok(alive(pid));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.kill("SIGINT");
  assert.equal(await exited, 0);
  assert.ok(!alive(pid), "the service process is gone");
});
