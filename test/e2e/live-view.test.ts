import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadProject } from "../../src/config/index.ts";
import { hostPlatform } from "../../src/config/platform.ts";
import type { EngineEvent } from "../../src/engine/timings.ts";
import { build } from "../../src/image/build.ts";
import { platformString } from "../../src/oci/types.ts";
import { makeImage } from "../support/bases.ts";
import { runTug, tugArgv } from "../support/cli.ts";
import { demoWebDevProject } from "../support/dev-session.ts";
import { httpText } from "../support/http.ts";
import { startInPty } from "../support/pty.ts";
import { startRegistry } from "../support/registry.ts";
import { tempDir } from "../support/tmp.ts";
import { freePort, skopeoCopy, skopeoInspectRaw } from "../support/tools.ts";

const DEMO = fileURLToPath(new URL("../../examples/demo/", import.meta.url));
const ESC = String.fromCharCode(27);

/** A files image and a command image whose command takes a while, so a frame shows it running. */
async function buildProject(t: TestContext): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  const dir = await tempDir(t, "tug-live-");
  await fs.cp(join(DEMO, "public"), join(dir, "public"), { recursive: true });
  await fs.writeFile(
    join(dir, "tug.yaml"),
    `images:
  site:
    builder: files
    context: ./public
    dest: /srv/www
    base: scratch
  slow:
    builder: command
    run: sleep 1.5 && mkdir -p out && echo done > out/x
    output: out
    dest: /opt
    base: scratch
`,
  );
  return { dir, env: { TUG_CACHE: await tempDir(t, "tug-live-cache-"), TUG_REPO: "", CI: "" } };
}

function pty(t: TestContext, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }) {
  const session = startInPty(tugArgv(args), { ...opts, cols: 100, rows: 20 });
  t.after(() => session.stop());
  return session;
}

test("tug build on a terminal: a line per running step with its time, then one summary line", async (t) => {
  const { dir, env } = await buildProject(t);
  const p = pty(t, ["build"], { cwd: dir, env });
  assert.equal(await p.exited, 0, p.raw);
  // While the command ran, a frame showed it with its elapsed time over a summary line.
  const running = p.frames.find((f) => f.some((l) => /^. slow {2}command linux\/\w+ +1\.\ds$/.test(l)));
  assert.ok(
    running,
    `no frame showed the running command:\n${p.frames.map((f) => f.join("\n")).join("\n--\n")}`,
  );
  assert.ok(running.some((l) => /^· \d+ steps? done/.test(l)));
  // At the end the running lines are gone: the summary, then each artifact.
  const screen = (await p.screen()).filter((l) => l !== "");
  assert.match(screen[0]!, /^✓ \d+ steps done \(\d+ cached\) {2}\d+\.\ds$/);
  assert.ok(screen.some((l) => l.startsWith("site  oci:")));
  assert.ok(screen.some((l) => l.startsWith("slow  oci:")));
  assert.ok(!screen.some((l) => /command linux/.test(l)), screen.join("\n"));
});

test("tug build: plain lines without a terminal, nothing with -q, JSON with --json, no colour with NO_COLOR", async (t) => {
  const { dir, env } = await buildProject(t);
  const plain = await runTug(["build"], { cwd: dir, env });
  assert.equal(plain.code, 0, plain.stderr);
  assert.ok(!plain.stderr.includes(ESC), "no escape codes without a terminal");
  assert.match(plain.stderr, /^slow {2}command linux\/\w+ {2}built in /m);

  const quiet = pty(t, ["build", "-q"], { cwd: dir, env });
  assert.equal(await quiet.exited, 0);
  assert.deepEqual(
    (await quiet.screen()).filter((l) => l !== ""),
    [],
  );

  const json = pty(t, ["build", "--json"], { cwd: dir, env });
  assert.equal(await json.exited, 0);
  assert.ok(!json.raw.includes(`${ESC}[`), "--json never moves the cursor");
  const doc = json.raw.split(/\r?\n/).find((l) => l.startsWith("{"));
  assert.equal((JSON.parse(doc!) as { artifacts: unknown[] }).artifacts.length, 2);

  const colored = pty(t, ["build"], {
    cwd: dir,
    env: { ...env, TERM: "xterm-256color", NO_COLOR: undefined, FORCE_COLOR: undefined },
  });
  assert.equal(await colored.exited, 0);
  assert.ok(colored.raw.includes(`${ESC}[32m✓`), "a colour terminal gets a green mark");
  const noColor = pty(t, ["build"], { cwd: dir, env: { ...env, TERM: "xterm-256color", NO_COLOR: "1" } });
  assert.equal(await noColor.exited, 0);
  assert.ok(!new RegExp(`${ESC}\\[\\d+m`).test(noColor.raw), "NO_COLOR: no SGR codes");
  assert.match((await noColor.screen())[0]!, /^✓ \d+ steps done/);
});

test("tug dev on a terminal: the table shows the resource ready at its URL, an edit live-updating, logs below", async (t) => {
  const port = await freePort();
  const dir = await demoWebDevProject(
    t,
    "tug-live-dev-",
    port,
    "      live_update:\n        - restart: true\n",
  );
  const env = { TUG_CACHE: await tempDir(t, "tug-live-cache-"), CI: "" };
  const p = pty(t, ["dev"], { cwd: dir, env });
  const url = `http://localhost:${port}`;
  const isReady = (s: string[]) =>
    s.some((l) => new RegExp(`^web +local +ready +${url} +\\d+(\\.\\d)? m?s`).test(l));
  const first = await p.waitFor(isReady);
  assert.match(first[0]!, /^RESOURCE +RUNTIME +STATE +URL +LAST UPDATE +ERROR$/);
  const rule = first.findIndex((l) => l.startsWith("── logs "));
  assert.equal(rule, 2);
  assert.ok(
    first.slice(rule + 1).some((l) => l === `web | listening on ${port}`),
    first.join("\n"),
  );
  assert.equal(await httpText(port), "hello from web\n");

  const frames = p.frames.length;
  await fs.writeFile(
    join(dir, "web/src/greeting.ts"),
    'export function greeting(): string {\n  return "edited";\n}\n',
  );
  await p.waitFor(
    (s) =>
      isReady(s) && p.frames.slice(frames).some((f) => f.some((l) => /^web +local +live-updating /.test(l))),
  );
  assert.equal(await httpText(port), "edited\n");

  p.type("\x03");
  assert.equal(await p.exited, 0);
  // The last table stays on screen after Ctrl-C.
  assert.ok(isReady(await p.screen()));
  await assert.rejects(httpText(port), "the app stopped with tug dev");
});

test("transfers report their bytes: a base pull and a push, each summed per step to its total", async (t) => {
  const registry = await startRegistry(t);
  const work = await tempDir(t, "tug-live-bytes-");
  const base = await makeImage(join(work, "base"), "1", {
    contents: [{ to: "/data/noise", data: randomBytes(300_000) }],
  });
  await skopeoCopy(base.ref, `docker://${registry.repo("base:1")}`);
  const baseManifest = await skopeoInspectRaw(`docker://${registry.repo("base:1")}`);
  await fs.mkdir(join(work, "app", "public"), { recursive: true });
  await fs.writeFile(join(work, "app", "public", "noise.bin"), randomBytes(200_000));
  await fs.writeFile(
    join(work, "app", "tug.yaml"),
    `images:
  site:
    builder: files
    context: ./public
    dest: /srv/www
    base: ${registry.repo("base:1")}
`,
  );
  const events: EngineEvent[] = [];
  const project = await loadProject(join(work, "app", "tug.yaml"));
  const result = await build(project, {
    repo: registry.repo("live"),
    cacheDir: await tempDir(t, "tug-live-cache-"),
    insecureRegistries: [new URL(registry.url).host],
    // An SBOM is one more upload in the publish step; without it the figure is the layer alone.
    sbom: "none",
    onEvent: (e) => events.push(e),
  });
  const last = (step: string) =>
    events
      .filter((e): e is Extract<EngineEvent, { type: "bytes" }> => e.type === "bytes" && e.step === step)
      .at(-1);
  const pulled = last(`base ${platformString(hostPlatform())}`);
  const layers = baseManifest.layers!.reduce((n, l) => n + l.size, 0);
  assert.deepEqual(pulled && { done: pulled.done, total: pulled.total }, { done: layers, total: layers });
  const pushed = last("publish");
  const manifest = await skopeoInspectRaw(
    `docker://${registry.repo("live/site")}@${result.artifacts[0]!.digest}`,
  );
  // The base's layers are mounted, not sent; the new layer is uploaded (and the config, not metered).
  const uploaded = manifest.layers!.at(-1)!.size;
  assert.deepEqual(pushed && { done: pushed.done, total: pushed.total }, { done: uploaded, total: uploaded });
  assert.equal(result.artifacts[0]!.pushedBytes, uploaded + manifest.config!.size);
});
