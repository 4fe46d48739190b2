// tug's dev supervisor, compiled from the embedded source and run directly on this (linux) host:
// it is a static binary, so what it does here is what it does as PID 1 in a container.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, type TestContext, test } from "node:test";
import tar from "tar-stream";
import { compileSupervisor, parseSupervisorExit, supervisorLayerRecipe } from "../../src/dev/supervisor.ts";
import { SUPERVISOR_SOURCE } from "../../src/dev/supervisor-source.ts";
import { Engine } from "../../src/engine/engine.ts";
import { cachedLayer } from "../../src/engine/layer-action.ts";
import { tempDir } from "../support/tmp.ts";
import { runTool } from "../support/tools.ts";

const host = { os: "linux", architecture: process.arch === "arm64" ? "arm64" : "amd64" };

let built: Promise<string> | undefined;
let buildDir: string | undefined;
/** One compile per test file, in a directory that outlives the individual tests. */
function supervisorBinary(): Promise<string> {
  built ??= (async () => {
    buildDir = await mkdtemp(join(tmpdir(), "tug-supervisor-"));
    return compileSupervisor({ dir: buildDir, platform: host });
  })();
  return built;
}
after(async () => {
  if (buildDir) await rm(buildDir, { recursive: true, force: true });
});

test("supervisor-source.ts embeds main.go exactly", async () => {
  const main = await readFile(new URL("../../src/dev/supervisor/main.go", import.meta.url), "utf8");
  assert.equal(SUPERVISOR_SOURCE, main, "run: node scripts/embed-supervisor.mjs");
});

test("it compiles to a static binary", async () => {
  const bin = await supervisorBinary();
  // readelf (binutils, in CI): a static executable has no program interpreter and no dynamic section.
  const header = (await runTool("readelf", ["-hlW", bin])).stdout;
  assert.match(header, /Type:\s+EXEC/, header);
  assert.match(
    header,
    host.architecture === "arm64" ? /Machine:\s+AArch64/ : /Machine:\s+Advanced Micro Devices X86-64/,
  );
  assert.doesNotMatch(header, /\bINTERP\b|Requesting program interpreter/, header);
  assert.doesNotMatch(header, /\bDYNAMIC\b/, header);
  assert.ok((await stat(bin)).mode & 0o111);
});

/** A running `supervisor run -- …` whose output is collected. */
interface Supervised {
  child: ChildProcess;
  output(): string;
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function supervise(t: TestContext, argv: string[], cwd: string): Promise<Supervised> {
  const bin = await supervisorBinary();
  const child = spawn(bin, ["run", "--", ...argv], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on("exit", (code, signal) => res({ code, signal })),
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    // A failed test may leave the supervised app (its own process group) holding our pipes
    // open, which would keep this test file from ever finishing.
    for (const m of out.matchAll(/(?:started|grandchild) (\d+)/g)) {
      try {
        process.kill(Number(m[1]), "SIGKILL");
      } catch {
        // already gone
      }
    }
    child.stdout.destroy();
    child.stderr.destroy();
  });
  return {
    child,
    output: () => out,
    exit,
    async waitFor(re, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!re.test(out)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; output:\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// The app: prints its pid and a generation marker from a file, then lives until signalled.
const APP = `
const fs = require("node:fs");
const gen = fs.readFileSync("gen.txt", "utf8").trim();
// The handler goes in before "started" is printed: a test reacting to that line must not be
// able to signal the app while it still has the default (fatal) SIGTERM disposition.
if (gen === "stubborn") process.on("SIGTERM", () => console.log("ignoring TERM"));
console.log("started " + process.pid + " gen=" + gen);
if (gen === "crash") { console.error("boom"); process.exit(3); }
setInterval(() => {}, 1000);
`;

test("run: starts the app, restarts it on SIGHUP, forwards SIGTERM and exits with its status", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "app.cjs"), APP);
  await writeFile(join(dir, "gen.txt"), "one");
  const s = await supervise(t, [process.execPath, "app.cjs"], dir);
  await s.waitFor(/started (\d+) gen=one/);
  const first = Number(/started (\d+) gen=one/.exec(s.output())![1]);

  await writeFile(join(dir, "gen.txt"), "two");
  s.child.kill("SIGHUP");
  await s.waitFor(/started (\d+) gen=two/);
  const second = Number(/started (\d+) gen=two/.exec(s.output())![1]);
  assert.notEqual(first, second);
  assert.ok(!alive(first), "the old process is gone");
  assert.doesNotMatch(s.output(), /process exited/, "a restart is not reported as a crash");

  s.child.kill("SIGTERM");
  const exit = await s.exit;
  // node dies of the forwarded SIGTERM: 128 + 15.
  assert.deepEqual(exit, { code: 143, signal: null });
  assert.ok(!alive(second));
});

test("run: a crashed app is reported, the supervisor stays up and starts it on the next SIGHUP", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "app.cjs"), APP);
  await writeFile(join(dir, "gen.txt"), "crash");
  const s = await supervise(t, [process.execPath, "app.cjs"], dir);
  await s.waitFor(/\[tug\] process exited \(code 3\)/);
  const line = s
    .output()
    .split("\n")
    .find((l) => l.startsWith("[tug]"))!;
  assert.deepEqual(parseSupervisorExit(line), { code: 3, signal: null });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(s.child.exitCode, null, "the supervisor is still running");

  await writeFile(join(dir, "gen.txt"), "fixed");
  s.child.kill("SIGHUP");
  await s.waitFor(/gen=fixed/);
  s.child.kill("SIGINT");
  assert.deepEqual(await s.exit, { code: 130, signal: null });
});

test("run: an app ignoring SIGTERM is killed after the grace period on restart", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "app.cjs"), APP);
  await writeFile(join(dir, "gen.txt"), "stubborn");
  const s = await supervise(t, [process.execPath, "app.cjs"], dir);
  await s.waitFor(/started (\d+) gen=stubborn/);
  const first = Number(/started (\d+) gen=stubborn/.exec(s.output())![1]);
  await writeFile(join(dir, "gen.txt"), "next");
  const t0 = Date.now();
  s.child.kill("SIGHUP");
  await s.waitFor(/gen=next/);
  const took = Date.now() - t0;
  assert.match(s.output(), /ignoring TERM/);
  assert.ok(took >= 1_900 && took < 5_000, `restart took ${took} ms`);
  assert.ok(!alive(first));
  s.child.kill("SIGTERM");
  await s.exit;
});

test("run: the app's children go with it on restart (process group)", async (t) => {
  const dir = await tempDir(t);
  // The app forks a grandchild that would keep running (and keep a port) if only the app died.
  await writeFile(
    join(dir, "app.cjs"),
    `const { spawn } = require("node:child_process");
const g = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
console.log("grandchild " + g.pid);
setInterval(() => {}, 1000);`,
  );
  const s = await supervise(t, [process.execPath, "app.cjs"], dir);
  await s.waitFor(/grandchild (\d+)/);
  const g = Number(/grandchild (\d+)/.exec(s.output())![1]);
  assert.ok(alive(g));
  s.child.kill("SIGHUP");
  await s.waitFor(/grandchild (\d+)[\s\S]*grandchild (\d+)/);
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(!alive(g), "the first grandchild was stopped (and reaped) with the app");
  s.child.kill("SIGTERM");
  await s.exit;
});

test("run: a missing program is an immediate failure", async (t) => {
  const dir = await tempDir(t);
  const s = await supervise(t, ["/nonexistent/app"], dir);
  assert.equal((await s.exit).code, 127);
  assert.match(s.output(), /cannot start \/nonexistent\/app/);
});

// ---------------------------------------------------------------------------------------------
// extract

type Entry = {
  name: string;
  type?: "file" | "directory" | "symlink" | "link";
  data?: string;
  mode?: number;
  linkname?: string;
};

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    const header = { name: e.name, type: e.type ?? "file", mode: e.mode ?? 0o644, linkname: e.linkname };
    if ((e.type ?? "file") === "file") pack.entry(header, e.data ?? "");
    else pack.entry(header);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function extract(dir: string, input: Buffer, args: string[] = []) {
  const bin = await supervisorBinary();
  return new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(bin, ["extract", dir, ...args], { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
    Readable.from([input]).pipe(child.stdin);
  });
}

test("extract: files with their modes, new directories, symlinks, replacements and deletions", async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, "root");
  await mkdir(join(root, "app", "old"), { recursive: true });
  await writeFile(join(root, "app", "server.js"), "old");
  await writeFile(join(root, "app", "gone.js"), "x");
  await writeFile(join(root, "app", "old", "a"), "x");
  const r = await extract(
    root,
    await tarOf([
      { name: "app/server.js", data: "new", mode: 0o644 },
      { name: "app/bin/run", data: "#!/bin/sh\n", mode: 0o755 },
      { name: "app/private", data: "secret", mode: 0o600 },
      { name: "app/assets/", type: "directory", mode: 0o750 },
      { name: "./app/link", type: "symlink", linkname: "server.js" },
    ]),
    ["--delete", "/app/gone.js", "--delete=app/old", "--delete", "/app/never-existed"],
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(join(root, "app", "server.js"), "utf8"), "new");
  assert.equal((await stat(join(root, "app", "server.js"))).mode & 0o777, 0o644);
  assert.equal((await stat(join(root, "app", "bin", "run"))).mode & 0o777, 0o755);
  assert.equal((await stat(join(root, "app", "private"))).mode & 0o777, 0o600);
  assert.equal((await stat(join(root, "app", "assets"))).mode & 0o777, 0o750);
  assert.equal(await readlink(join(root, "app", "link")), "server.js");
  await assert.rejects(lstat(join(root, "app", "gone.js")), { code: "ENOENT" });
  await assert.rejects(lstat(join(root, "app", "old")), { code: "ENOENT" });
  assert.deepEqual(
    (await readdir(join(root, "app"))).filter((n) => n.startsWith(".tug-")),
    [],
    "no temp files left",
  );
});

test("extract: replaces a file by rename, so an open reader keeps the old content", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "f"), "old");
  const before = (await stat(join(dir, "f"))).ino;
  const r = await extract(dir, await tarOf([{ name: "f", data: "new" }]));
  assert.equal(r.code, 0, r.stderr);
  assert.notEqual((await stat(join(dir, "f"))).ino, before, "a new inode, not an in-place rewrite");
});

test("extract: refuses entries and deletions that leave the directory", async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, "root");
  const outside = join(dir, "outside");
  await mkdir(root);
  await mkdir(outside);
  await writeFile(join(outside, "keep"), "keep");

  const dotdot = await extract(root, await tarOf([{ name: "../outside/evil", data: "x" }]));
  assert.notEqual(dotdot.code, 0);
  assert.match(dotdot.stderr, /leaves the target directory/);

  // A symlink inside pointing out, then a file (or a directory) through it.
  await symlink(outside, join(root, "esc"));
  const through = await extract(root, await tarOf([{ name: "esc/evil", data: "x" }]));
  assert.notEqual(through.code, 0);
  assert.match(through.stderr, /outside .* through a symlink/);
  const deep = await extract(root, await tarOf([{ name: "esc/a/b/", type: "directory", mode: 0o755 }]));
  assert.notEqual(deep.code, 0);

  const del = await extract(root, await tarOf([]), ["--delete", "/esc/keep"]);
  assert.notEqual(del.code, 0);
  const delUp = await extract(root, await tarOf([]), ["--delete", "../outside/keep"]);
  assert.notEqual(delUp.code, 0);
  const delRoot = await extract(root, await tarOf([]), ["--delete", "/"]);
  assert.notEqual(delRoot.code, 0);

  const hard = await extract(root, await tarOf([{ name: "h", type: "link", linkname: "x" }]));
  assert.notEqual(hard.code, 0);
  assert.match(hard.stderr, /not a file, directory or symlink/);

  assert.deepEqual(await readdir(outside), ["keep"]);
  assert.equal(await readFile(join(outside, "keep"), "utf8"), "keep");
});

test("signal: sends a named signal to a pid", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "app.cjs"), APP);
  await writeFile(join(dir, "gen.txt"), "one");
  const s = await supervise(t, [process.execPath, "app.cjs"], dir);
  await s.waitFor(/gen=one/);
  await writeFile(join(dir, "gen.txt"), "two");
  const bin = await supervisorBinary();
  await runTool(bin, ["signal", "HUP", String(s.child.pid)]);
  await s.waitFor(/gen=two/);
  const bad = await runTool(bin, ["signal", "NOPE", String(s.child.pid)], { allowFailure: true });
  assert.notEqual(bad.code, 0);
  s.child.kill("SIGTERM");
  await s.exit;
});

// ---------------------------------------------------------------------------------------------
// agent

/** A running `supervisor agent DIR [--pid PID]`: frames in, reply lines out. */
interface AgentSession {
  send(frame: Buffer | string): void;
  /** The next reply line (the greeting first). */
  reply(): Promise<string>;
  end(): void;
  exit: Promise<{ code: number | null; stderr: string }>;
}

async function agentSession(t: TestContext, dir: string, args: string[] = []): Promise<AgentSession> {
  const bin = await supervisorBinary();
  const child = spawn(bin, ["agent", dir, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let stderr = "";
  const waiting: Array<() => void> = [];
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
    for (const w of waiting.splice(0)) w();
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdin.on("error", () => {});
  const exit = new Promise<{ code: number | null; stderr: string }>((res) =>
    child.on("close", (code) => {
      for (const w of waiting.splice(0)) w();
      res({ code, stderr });
    }),
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    // A failed test may leave the supervised app (its own process group) holding our pipes
    // open, which would keep this test file from ever finishing.
    for (const m of out.matchAll(/(?:started|grandchild) (\d+)/g)) {
      try {
        process.kill(Number(m[1]), "SIGKILL");
      } catch {
        // already gone
      }
    }
    child.stdout.destroy();
    child.stderr.destroy();
  });
  return {
    send: (frame) => child.stdin.write(frame),
    end: () => child.stdin.end(),
    exit,
    async reply() {
      const deadline = Date.now() + 10_000;
      while (!out.includes("\n")) {
        if (child.exitCode !== null) throw new Error(`agent exited; stderr: ${stderr}`);
        if (Date.now() > deadline) throw new Error(`no reply; stderr: ${stderr}`);
        await new Promise<void>((r) => {
          waiting.push(r);
          setTimeout(r, 100);
        });
      }
      const i = out.indexOf("\n");
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      return line;
    },
  };
}

function syncRequest(tarBytes: Buffer, deletes: string[] = []): Buffer {
  const head = `SYNC ${tarBytes.length} ${deletes.length}\n${deletes.map((d) => `${d}\n`).join("")}`;
  return Buffer.concat([Buffer.from(head), tarBytes]);
}

test("agent: greets, applies SYNC frames like extract, one reply each, until stdin ends", async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, "root");
  await mkdir(join(root, "app", "old"), { recursive: true });
  await writeFile(join(root, "app", "server.js"), "old");
  await writeFile(join(root, "app", "gone.js"), "x");
  await writeFile(join(root, "app", "old", "a"), "x");
  const a = await agentSession(t, root);
  assert.equal(await a.reply(), "READY 1");

  const first = await tarOf([
    { name: "app/server.js", data: "new", mode: 0o644 },
    { name: "app/bin/run", data: "#!/bin/sh\n", mode: 0o755 },
    { name: "app/private", data: "secret", mode: 0o600 },
    { name: "./app/link", type: "symlink", linkname: "server.js" },
  ]);
  // Two requests in one write, and one split mid-tar across writes: framing is by length.
  a.send(
    Buffer.concat([
      syncRequest(first, ["/app/gone.js"]),
      syncRequest(await tarOf([{ name: "app/two", data: "2" }])),
    ]),
  );
  assert.equal(await a.reply(), "OK");
  assert.equal(await a.reply(), "OK");
  const third = syncRequest(await tarOf([{ name: "app/three", data: "3" }]), ["app/old"]);
  a.send(third.subarray(0, 700));
  await new Promise((r) => setTimeout(r, 50));
  a.send(third.subarray(700));
  assert.equal(await a.reply(), "OK");
  // Deletions alone: no tar bytes at all.
  a.send("SYNC 0 1\n/app/three\n");
  assert.equal(await a.reply(), "OK");

  assert.equal(await readFile(join(root, "app", "server.js"), "utf8"), "new");
  assert.equal((await stat(join(root, "app", "bin", "run"))).mode & 0o777, 0o755);
  assert.equal((await stat(join(root, "app", "private"))).mode & 0o777, 0o600);
  assert.equal(await readlink(join(root, "app", "link")), "server.js");
  assert.equal(await readFile(join(root, "app", "two"), "utf8"), "2");
  await assert.rejects(lstat(join(root, "app", "gone.js")), { code: "ENOENT" });
  await assert.rejects(lstat(join(root, "app", "old")), { code: "ENOENT" });
  await assert.rejects(lstat(join(root, "app", "three")), { code: "ENOENT" });
  assert.deepEqual(
    (await readdir(join(root, "app"))).filter((n) => n.startsWith(".tug-")),
    [],
    "no temp files left",
  );

  a.end();
  assert.deepEqual(await a.exit, { code: 0, stderr: "" });
});

test("agent: a failed SYNC is an ERR reply and the session goes on; escapes are refused", async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, "root");
  const outside = join(dir, "outside");
  await mkdir(root);
  await mkdir(outside);
  await writeFile(join(outside, "keep"), "keep");
  await symlink(outside, join(root, "esc"));
  const a = await agentSession(t, root);
  assert.equal(await a.reply(), "READY 1");

  const refused = async (frame: Buffer | string, re: RegExp) => {
    a.send(frame);
    const r = await a.reply();
    assert.match(r, /^ERR /);
    assert.match(r, re);
  };
  await refused(
    syncRequest(await tarOf([{ name: "../outside/evil", data: "x" }])),
    /leaves the target directory/,
  );
  await refused(syncRequest(await tarOf([{ name: "esc/evil", data: "x" }])), /outside .* through a symlink/);
  await refused(syncRequest(await tarOf([{ name: "esc/a/b/", type: "directory", mode: 0o755 }])), /symlink/);
  await refused("SYNC 0 1\n/esc/keep\n", /symlink/);
  await refused("SYNC 0 1\n../outside/keep\n", /leaves the target directory/);
  await refused("SYNC 0 1\n/\n", /refusing to delete/);
  // Refused at the first entry, with more tar after it: the rest of the body is skipped, so
  // the next request is read from the right place.
  await refused(
    syncRequest(
      await tarOf([
        { name: "h", type: "link", linkname: "x" },
        { name: "after-hardlink", data: "x".repeat(5000) },
      ]),
    ),
    /not a file, directory or symlink/,
  );
  await refused(syncRequest(Buffer.from("not a tar at all")), /reading tar/);

  a.send(syncRequest(await tarOf([{ name: "fine", data: "ok" }])));
  assert.equal(await a.reply(), "OK");
  assert.equal(await readFile(join(root, "fine"), "utf8"), "ok");
  assert.deepEqual(await readdir(outside), ["keep"]);
  assert.equal(await readFile(join(outside, "keep"), "utf8"), "keep");
  a.end();
  assert.equal((await a.exit).code, 0);
});

test("agent: an unknown or malformed request is an ERR reply and ends the session", async (t) => {
  const dir = await tempDir(t);
  for (const bad of ["BOGUS\n", "SYNC x 0\n", "SYNC -1 0\n", "SYNC 1\n"]) {
    const a = await agentSession(t, dir);
    assert.equal(await a.reply(), "READY 1");
    a.send(bad);
    assert.match(await a.reply(), /^ERR (unknown|bad) request/);
    const exit = await a.exit;
    assert.equal(exit.code, 1, bad);
  }
  // Input ending inside a body is an error too (not a silent partial sync).
  const cut = await agentSession(t, dir);
  assert.equal(await cut.reply(), "READY 1");
  cut.send(syncRequest(await tarOf([{ name: "f", data: "x" }])).subarray(0, 600));
  cut.end();
  const exit = await cut.exit;
  assert.equal(exit.code, 1);
  assert.match(exit.stderr, /unexpected EOF/);

  const usage = await runTool(await supervisorBinary(), ["agent"], { allowFailure: true });
  assert.notEqual(usage.code, 0);
  const badPid = await runTool(await supervisorBinary(), ["agent", dir, "--pid", "zero"], {
    allowFailure: true,
  });
  assert.notEqual(badPid.code, 0);
});

test("agent: HUP sends SIGHUP to the given pid (PID 1 by default), which restarts the app", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "app.cjs"), APP);
  await writeFile(join(dir, "gen.txt"), "one");
  const s = await supervise(t, [process.execPath, "app.cjs"], dir);
  await s.waitFor(/gen=one/);
  const a = await agentSession(t, dir, ["--pid", String(s.child.pid)]);
  assert.equal(await a.reply(), "READY 1");
  // Sync the next generation and restart, through the same session.
  a.send(syncRequest(await tarOf([{ name: "gen.txt", data: "two" }])));
  assert.equal(await a.reply(), "OK");
  a.send("HUP\n");
  assert.equal(await a.reply(), "OK");
  await s.waitFor(/gen=two/);
  a.send(syncRequest(await tarOf([{ name: "gen.txt", data: "three" }])));
  a.send("HUP\n");
  assert.equal(await a.reply(), "OK");
  assert.equal(await a.reply(), "OK");
  await s.waitFor(/gen=three/);
  a.end();
  assert.equal((await a.exit).code, 0);
  s.child.kill("SIGTERM");
  await s.exit;

  // A pid that does not exist: an ERR reply, not the end of the session.
  const gone = await agentSession(t, dir, ["--pid=999999999"]);
  assert.equal(await gone.reply(), "READY 1");
  gone.send("HUP\n");
  assert.match(await gone.reply(), /^ERR .*(no such process|out of range|invalid)/i);
  gone.send("SYNC 0 0\n");
  assert.equal(await gone.reply(), "OK");
  gone.end();
  assert.equal((await gone.exit).code, 0);
});

test("supervisorLayerRecipe: a cached layer with /tug/supervisor, compiled once", async (t) => {
  const dir = await tempDir(t);
  const engine = await Engine.open({ cacheDir: join(dir, "cache"), scope: dir });
  t.after(() => engine.close());
  const first = await cachedLayer(engine, await supervisorLayerRecipe(engine, host), { kind: "none" });
  assert.equal(first.cached, false);
  const again = await cachedLayer(engine, await supervisorLayerRecipe(engine, host), { kind: "none" });
  assert.equal(again.cached, true);
  assert.equal(await again.layer.diffId(), await first.layer.diffId());

  const extractor = tar.extract();
  const seen: Array<{ name: string; mode: number; size: number }> = [];
  extractor.on("entry", (h, stream, next) => {
    seen.push({ name: h.name, mode: h.mode ?? 0, size: h.size ?? 0 });
    stream.on("end", next);
    stream.resume();
  });
  const done = new Promise<void>((r) => extractor.on("finish", () => r()));
  (await first.layer.compressed()).pipe(extractor);
  await done;
  const bin = seen.find((e) => e.name === "tug/supervisor");
  assert.ok(bin, JSON.stringify(seen));
  assert.equal(bin.mode & 0o777, 0o755);
  assert.ok(bin.size > 100_000);
});
