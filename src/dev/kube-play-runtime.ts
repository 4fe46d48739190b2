import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseToml, stringify as stringifyToml } from "smol-toml";
import { parseAllDocuments, stringify } from "yaml";
import { resolveYamlText } from "../deploy/resolve.ts";
import { TugError } from "../errors.ts";
import { type CommandRunner, processRunner } from "./command-runner.ts";
import { defaultPodmanArgs } from "./container-runtime.ts";
import { containerServes, layoutLink, pruneDevImages } from "./podman-image.ts";
import type { FileChange, RunSpec, Runtime } from "./runtime.ts";
import { containerTransport, Supervised } from "./supervised.ts";
import { SUPERVISOR_PATH } from "./supervisor.ts";

export interface KubePlayRuntimeOptions {
  /** The target's `dev.manifests` (absolute paths): Pod or Deployment YAML naming `tug://TARGET`. */
  manifests: string[];
  /** Flags before the subcommand; default `defaultPodmanArgs(env)`. */
  globalArgs?: string[];
  env?: NodeJS.ProcessEnv;
  runner?: CommandRunner;
}

/**
 * runc on these machines cannot raise rlimits above the sandbox's own hard limits, which podman's
 * defaults ask for; `kube play` has no --ulimit, so the limits `podman run` gets from flags come
 * from `default_ulimits` in a private containers.conf: the user's own (CONTAINERS_CONF) with
 * that one key set.
 */
export async function ulimitContainersConf(env: NodeJS.ProcessEnv, dir: string): Promise<string> {
  const own = env.CONTAINERS_CONF ? await fs.readFile(env.CONTAINERS_CONF, "utf8").catch(() => "") : "";
  const conf = own ? parseToml(own) : {};
  const containers = (conf.containers ?? {}) as Record<string, unknown>;
  conf.containers = { ...containers, default_ulimits: ["nofile=1024:1024", "nproc=1024:1024"] };
  const path = join(dir, "containers.conf");
  await fs.writeFile(path, stringifyToml(conf));
  return path;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The pods of resolved manifests, made to run the dev image `ref` under tug's supervisor: its
 * containers get `command: [/tug/supervisor, run, --, ARGV…]` (their own command and args, else
 * the image's), `imagePullPolicy: Never` (it is in local storage only) and, for `port`, a
 * `hostPort` on 127.0.0.1. Pods and Deployments are played; other kinds pass through.
 */
export function superviseManifests(o: { texts: string[]; ref: string; argv: string[]; port?: number }): {
  yaml: string;
  containers: number;
} {
  const out: string[] = [];
  let containers = 0;
  for (const text of o.texts) {
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) throw new TugError({ what: `manifest YAML: ${doc.errors[0]?.message}` });
      const v: unknown = doc.toJS();
      if (!isObj(v)) continue;
      const spec = v.kind === "Pod" ? v.spec : v.kind === "Deployment" ? podTemplate(v) : undefined;
      for (const c of isObj(spec) && Array.isArray(spec.containers) ? spec.containers : []) {
        if (!isObj(c) || c.image !== o.ref) continue;
        containers++;
        const own = Array.isArray(c.command)
          ? [...c.command, ...(Array.isArray(c.args) ? c.args : [])]
          : o.argv;
        c.command = [SUPERVISOR_PATH, "run", "--", ...own.map(String)];
        delete c.args;
        c.imagePullPolicy = "Never";
        if (o.port !== undefined) {
          const ports = (Array.isArray(c.ports) ? c.ports : []).filter(isObj);
          const p = ports.find((x) => x.containerPort === o.port);
          if (p) p.hostPort ??= o.port;
          else ports.push({ containerPort: o.port, hostPort: o.port });
          for (const x of ports) if (x.hostPort !== undefined) x.hostIP ??= "127.0.0.1";
          c.ports = ports;
        }
      }
      out.push(stringify(v));
    }
  }
  return { yaml: out.join("---\n"), containers };
}

function podTemplate(v: Obj): unknown {
  const spec = v.spec;
  return isObj(spec) && isObj(spec.template) ? spec.template.spec : undefined;
}

/**
 * `kube-play`: Kubernetes Pod/Deployment YAML run for real by `podman kube play`, no cluster
 * needed. Each start loads the dev image into podman storage, resolves `tug://TARGET` in the
 * target's manifests to it, plays them (`--replace`: a fallback rebuild re-plays the same pods)
 * and follows the target's container, which live updates reach like the podman runtime's
 * (`Supervised`). Ports come from `hostPort` (added for `dev.port`); stop runs `kube down`.
 */
export function kubePlayRuntime(opts: KubePlayRuntimeOptions): Runtime {
  const env: NodeJS.ProcessEnv = { ...(opts.env ?? process.env) };
  const global = opts.globalArgs ?? defaultPodmanArgs(env);
  // The runner reads `env` at each spawn: CONTAINERS_CONF is set in it once the file exists.
  const runner = opts.runner ?? processRunner(env);
  const box = new Supervised(containerTransport({ cli: "podman", global, runner }));
  let work: string | undefined;
  let played: string | undefined;
  let port: number | undefined;
  let stopping: Promise<void> | undefined;

  async function loadImage(spec: RunSpec): Promise<string> {
    if (!spec.image)
      throw new TugError({ what: "the kube-play runtime needs an image", where: `tug dev ${spec.target}` });
    const link = await layoutLink(spec.image.layout, spec.target);
    try {
      const r = await box.run(["pull", "--quiet", `oci:${link.path}:${spec.image.name}`], {
        timeoutMs: 600_000,
      });
      if (r.code !== 0) throw box.failed(`podman could not load the dev image of ${spec.target}`, r);
    } finally {
      await fs.rm(link.dir, { recursive: true, force: true });
    }
    return `localhost${link.path}:latest`;
  }

  const ownConf = env.CONTAINERS_CONF;
  /** Removes the private containers.conf and played YAML once the pod is down. */
  async function cleanup(): Promise<void> {
    if (work) await fs.rm(work, { recursive: true, force: true });
    work = undefined;
    if (ownConf === undefined) delete env.CONTAINERS_CONF;
    else env.CONTAINERS_CONF = ownConf;
  }

  const runtime: Runtime = {
    kind: "kube-play",

    async start(spec) {
      if (opts.manifests.length === 0) {
        throw new TugError({
          what: `the kube-play runtime has no manifests to play for ${spec.target}`,
          where: `tug dev ${spec.target}`,
          hint: "list the target's Pod or Deployment YAML in dev.manifests, with image: tug://NAME",
        });
      }
      stopping = undefined;
      port = spec.port;
      if (!work) {
        work = await fs.mkdtemp(join(tmpdir(), "tug-kube-play-"));
        env.CONTAINERS_CONF = await ulimitContainersConf(env, work);
      }
      const ref = await loadImage(spec);
      const texts = await Promise.all(
        opts.manifests.map(async (file) =>
          resolveYamlText(await fs.readFile(file, "utf8"), file, async (name) => {
            if (name !== spec.target) {
              throw new TugError({
                what: `tug://${name} is not this target (${spec.target})`,
                hint: "the kube-play runtime plays one target's manifests; run other targets as targets of their own",
              });
            }
            return ref;
          }),
        ),
      );
      const { yaml, containers } = superviseManifests({
        texts,
        ref,
        argv: spec.argv,
        ...(port ? { port } : {}),
      });
      if (containers === 0) {
        throw new TugError({
          what: `no container in ${spec.target}'s manifests runs image tug://${spec.target}`,
          where: opts.manifests.join(", "),
          hint: `set image: tug://${spec.target} on the container to live-update`,
        });
      }
      played = join(work, "play.yaml");
      await fs.writeFile(played, yaml);
      const r = await box.run(["kube", "play", "--replace", played], { timeoutMs: 600_000 });
      if (r.code !== 0) throw box.failed(`podman kube play for ${spec.target} failed`, r);
      const ps = await box.run([
        "ps",
        "-a",
        "--no-trunc",
        "--filter",
        `ancestor=${ref}`,
        "--format",
        "{{.ID}}",
      ]);
      const id = ps.stdout.trim().split("\n")[0]?.trim();
      if (ps.code !== 0 || !id)
        throw box.failed(`podman kube play started no container of ${spec.target}`, ps);
      box.attach(id, spec);
      await pruneDevImages(box, spec.target);
    },

    sync: (changes: FileChange[]) => box.sync(changes),
    exec: (command) => box.exec(command),
    restart: () => box.restart(),

    stop() {
      stopping ??= (async () => {
        const file = played;
        await box
          .detach(async () => {
            if (!file) return;
            const r = await box.run(["kube", "down", file], { timeoutMs: 120_000 });
            if (r.code !== 0 && !/no such pod/i.test(r.stderr))
              throw box.failed("podman kube down failed", r);
          })
          .catch((e: unknown) => {
            stopping = undefined;
            throw e;
          });
        played = undefined;
        await cleanup();
      })();
      return stopping;
    },

    id: () => box.id(),
    owns: async (p) => {
      const cid = box.id();
      return cid !== undefined && p === port && containerServes(box, cid, p);
    },
    exited: () => box.exited(),
  };
  return runtime;
}
