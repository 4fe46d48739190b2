// The rows of the quest table ("The Quest for the Fastest Deployment Time", Ellen Körbes): each
// is a way to get an edit of examples/quest into a running container, done with the tools here.
// A row deploys once (untimed), then for every edit `apply()` does whatever the strategy does
// after a save; the caller times the save → the new response on the row's port.
import { randomBytes } from "node:crypto";
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort, runTool } from "../../test/support/tools.ts";
import { DevProcess, pollFor } from "./quest-dev.ts";
import { PODMAN_RUN_ARGS, type QuestSetting } from "./quest-setting.ts";
import { manifestDigest } from "./registry.ts";

export interface RowContext {
  setting: QuestSetting;
  /** The row's own copy of examples/quest (app/, quest-lib/, Dockerfiles). */
  dir: string;
  /** argv that runs the tug CLI. */
  tug: string[];
}

export interface Deployment {
  /** The host port serving the row's service. */
  port: number;
  /** What the strategy does after a save (nothing when a watcher does it). */
  apply(): Promise<void>;
  stop(): Promise<void>;
}

export interface Row {
  id: string;
  name: string;
  /** tug's rows vs the talk's strategies. */
  tug: boolean;
  /** Why the row does not run in a setting, if it does not. */
  skip?(setting: QuestSetting): string | undefined;
  start(ctx: RowContext): Promise<Deployment>;
}

export const GREETING_FILE = "app/internal/server/greeting.go";

export function greetingSource(text: string): string {
  return `package server\n\n// Greeting is the line GET / answers; bench/quest.ts rewrites this file for each edit.\nconst Greeting = ${JSON.stringify(text)}\n`;
}

/** A fresh copy of examples/quest for one row. */
export async function rowProject(example: string, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const part of ["app", "quest-lib"])
    await cp(join(example, part), join(dir, part), { recursive: true });
  for (const f of [
    "Dockerfile",
    "Dockerfile.layers",
    "Dockerfile.vendor",
    "Dockerfile.gocache",
    "Dockerfile.binary",
  ])
    await cp(join(example, f), join(dir, f));
  return dir;
}

/** `podman rm -f` of every container a row started, and the replacement of a running one. */
class Containers {
  current: string | undefined;
  constructor(private readonly s: QuestSetting) {}

  async run(port: number, image: string, extra: string[] = []): Promise<string> {
    await this.remove();
    const r = await this.s.podman([
      "run",
      "-d",
      "--tls-verify=false",
      ...PODMAN_RUN_ARGS,
      "-p",
      `127.0.0.1:${port}:8080`,
      ...extra,
      image,
    ]);
    this.current = r.stdout.trim().split("\n").pop()!.trim();
    return this.current;
  }

  async remove(): Promise<void> {
    if (!this.current) return;
    const id = this.current;
    this.current = undefined;
    await this.s.podman(["rm", "--force", "--time", "0", id]);
  }
}

/** `buildah bud` + `buildah push` + replace the container: the image-based strategies. */
function buildahRow(o: {
  id: string;
  name: string;
  dockerfile: string;
  layers: boolean;
  prepare?: (dir: string) => Promise<void>;
}): Row {
  return {
    id: o.id,
    name: o.name,
    tug: false,
    async start(ctx) {
      const s = ctx.setting;
      await o.prepare?.(ctx.dir);
      const port = await freePort();
      const tag = `localhost/quest/${o.id}:latest`;
      const repo = `quest/${o.id}`;
      const containers = new Containers(s);
      const apply = async () => {
        await s.buildah([
          "bud",
          "--isolation",
          "chroot",
          "--quiet",
          "--pull=false",
          ...(o.layers ? ["--layers"] : ["--no-cache"]),
          "--build-arg",
          `GO_IMAGE=${s.goImage}`,
          "-f",
          join(ctx.dir, o.dockerfile),
          "-t",
          tag,
          ctx.dir,
        ]);
        await s.buildah([
          "push",
          "--quiet",
          "--tls-verify=false",
          tag,
          `docker://${s.pushHost}/${repo}:latest`,
        ]);
        const digest = await manifestDigest(s.registry, repo, "latest");
        await containers.run(port, `${s.pullHost}/${repo}@${digest}`);
      };
      await apply();
      return { port, apply, stop: () => containers.remove() };
    },
  };
}

async function goBuild(ctx: RowContext, out: string, ldflags?: string): Promise<void> {
  await runTool("go", ["build", "-trimpath", ...(ldflags ? [`-ldflags=${ldflags}`] : []), "-o", out, "."], {
    cwd: join(ctx.dir, "app"),
    env: ctx.setting.env,
    timeoutMs: 600_000,
  });
}

/** Local build + binary hot-swap: `go build` on the host, copied into the running container, restarted. */
function hotSwapRow(o: { id: string; name: string; ldflags?: string }): Row {
  return {
    id: o.id,
    name: o.name,
    tug: false,
    async start(ctx) {
      const s = ctx.setting;
      const port = await freePort();
      const bin = join(ctx.dir, "quest");
      await goBuild(ctx, bin, o.ldflags);
      const tag = `localhost/quest/${o.id}:latest`;
      const repo = `quest/${o.id}`;
      await s.buildah([
        "bud",
        "--isolation",
        "chroot",
        "--quiet",
        "-f",
        join(ctx.dir, "Dockerfile.binary"),
        "-t",
        tag,
        ctx.dir,
      ]);
      await s.buildah([
        "push",
        "--quiet",
        "--tls-verify=false",
        tag,
        `docker://${s.pushHost}/${repo}:latest`,
      ]);
      const digest = await manifestDigest(s.registry, repo, "latest");
      const containers = new Containers(s);
      const id = await containers.run(port, `${s.pullHost}/${repo}@${digest}`);
      return {
        port,
        async apply() {
          await goBuild(ctx, bin, o.ldflags);
          // Stopped first: the running binary's file cannot be rewritten in place (ETXTBSY).
          await s.podman(["stop", "--time", "0", id]);
          await s.podman(["cp", bin, `${id}:/quest`]);
          await s.podman(["start", id]);
        },
        stop: () => containers.remove(),
      };
    },
  };
}

/**
 * Live update the talk's way (Tilt's `sync` + `run`): a container of the Go image holding the
 * source, whose command compiles it and runs the result; an edit copies the changed file in
 * and restarts the container, which compiles with its own (now warm) build cache.
 */
const seedLiveUpdate: Row = {
  id: "live-update",
  name: "live update (sync source, compile in the container)",
  tug: false,
  async start(ctx) {
    const s = ctx.setting;
    const port = await freePort();
    const containers = new Containers(s);
    const r = await s.podman([
      "create",
      "--tls-verify=false",
      ...PODMAN_RUN_ARGS,
      "-p",
      `127.0.0.1:${port}:8080`,
      "--env",
      "CGO_ENABLED=0",
      "--env",
      "GOPROXY=off",
      "--env",
      "GOFLAGS=-mod=mod",
      s.goImage,
      "sh",
      "-c",
      "cd /src/app && go build -trimpath -o /tmp/quest . && exec /tmp/quest",
    ]);
    const id = r.stdout.trim().split("\n").pop()!.trim();
    containers.current = id;
    // The row's project (app/, quest-lib/) becomes /src, which does not exist yet.
    await s.podman(["cp", ctx.dir, `${id}:/src`]);
    await s.podman(["start", id]);
    const file = join(ctx.dir, GREETING_FILE);
    return {
      port,
      async apply() {
        await s.podman(["cp", file, `${id}:/src/${GREETING_FILE}`]);
        await s.podman(["restart", "--time", "0", id]);
      },
      stop: () => containers.remove(),
    };
  },
};

/** tug's tug.yaml for a row: the quest service with the setting's compression and dev block. */
async function writeTugYaml(ctx: RowContext, image: Record<string, unknown>): Promise<void> {
  const compression = ctx.setting.name === "remote" ? { gzip: 6 } : { gzip: 1 };
  await writeFile(
    join(ctx.dir, "tug.yaml"),
    stringify({
      images: { quest: { builder: "go", context: "./app", base: "scratch", compression, ...image } },
    }),
  );
}

/** `tug build --repo` (one-shot CLI, warm cache) + replace the container. */
const tugBuild: Row = {
  id: "tug-build",
  name: "tug build + redeploy (podman)",
  tug: true,
  async start(ctx) {
    const s = ctx.setting;
    const port = await freePort();
    await writeTugYaml(ctx, { ports: [8080] });
    const containers = new Containers(s);
    const apply = async () => {
      await runTool(
        ctx.tug[0]!,
        [...ctx.tug.slice(1), "build", "quest", "--repo", `${s.pushHost}/tug`, "-q"],
        {
          cwd: ctx.dir,
          env: s.env,
          timeoutMs: 600_000,
        },
      );
      const digest = await manifestDigest(s.registry, "tug/quest", "latest");
      await containers.run(port, `${s.pullHost}/tug/quest@${digest}`);
    };
    await apply();
    return { port, apply, stop: () => containers.remove() };
  },
};

function tugDevRow(o: { id: string; name: string; runtime: "local" | "podman" }): Row {
  return {
    id: o.id,
    name: o.name,
    tug: true,
    skip: (s) =>
      s.name === "remote" && o.runtime === "local" ? "a host process: no link to cross" : undefined,
    async start(ctx) {
      const port = await freePort();
      const env =
        o.runtime === "local" ? { PORT: String(port), LISTEN: `127.0.0.1:${port}` } : { PORT: String(port) };
      // Remote: the setting's `docker` is podman --remote through the link (see quest-setting.ts).
      const runtime = o.runtime === "podman" && ctx.setting.name === "remote" ? "docker" : o.runtime;
      await writeTugYaml(ctx, { env, dev: { runtime, port } });
      const dev = await DevProcess.start({
        tug: ctx.tug,
        dir: ctx.dir,
        target: "quest",
        env: ctx.setting.env,
      });
      return {
        port,
        apply: async () => {},
        async stop() {
          await dev.stop();
          const failed = dev.reports.filter((r) => !r.ok);
          if (failed.length)
            throw new Error(`tug dev: ${failed.length} failed update(s): ${failed[0]!.error}`);
        },
      };
    },
  };
}

export const SEED_ROWS: Row[] = [
  buildahRow({ id: "basic", name: "basic (buildah bud, no cache)", dockerfile: "Dockerfile", layers: false }),
  buildahRow({ id: "layers", name: "layer cache (--layers)", dockerfile: "Dockerfile.layers", layers: true }),
  buildahRow({
    id: "vendor",
    name: "vendoring (go mod vendor, --layers)",
    dockerfile: "Dockerfile.vendor",
    layers: true,
    prepare: async (dir) => {
      await runTool("go", ["mod", "vendor"], {
        cwd: join(dir, "app"),
        env: { ...process.env, GOPROXY: "off", GOFLAGS: "-mod=mod" },
      });
    },
  }),
  buildahRow({
    id: "gocache",
    name: "compiler cache (RUN --mount=type=cache)",
    dockerfile: "Dockerfile.gocache",
    layers: true,
  }),
  seedLiveUpdate,
  hotSwapRow({ id: "hot-swap", name: "local build + hot-swap (podman cp + restart)" }),
  hotSwapRow({ id: "no-debug", name: "no debug symbols (-s -w) + hot-swap", ldflags: "-s -w" }),
];

export const TUG_ROWS: Row[] = [
  tugBuild,
  tugDevRow({ id: "tug-dev-local", name: "tug dev (local runtime)", runtime: "local" }),
  tugDevRow({ id: "tug-dev-podman", name: "tug dev (podman runtime)", runtime: "podman" }),
];

/** One measured edit of a deployed row: write the file, apply, poll; ms from the write to the response. */
export async function measureEdit(ctx: RowContext, d: Deployment, label: string): Promise<number> {
  const text = `quest ${label} ${randomBytes(3).toString("hex")}`;
  const file = join(ctx.dir, GREETING_FILE);
  const since = performance.now();
  await writeFile(file, greetingSource(text));
  await d.apply();
  await pollFor(d.port, `${text}\n`);
  const ms = performance.now() - since;
  if ((await readFile(file, "utf8")) !== greetingSource(text))
    throw new Error(`${file} changed under the row`);
  return ms;
}
