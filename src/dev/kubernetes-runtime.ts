// NOT RUN AGAINST A REAL CLUSTER. There is no Kubernetes API server on the machines tug is
// developed on: this runtime is tested only for the kubectl commands it builds and the tar it
// streams (test/dev/kubernetes-runtime.test.ts, with a fake CommandRunner). The sync and
// restart mechanism is the one the podman runtime runs for real (the supervisor's `extract` and
// SIGHUP), only reached through `kubectl exec` instead of `podman exec`.
import { parseAllDocuments } from "yaml";
import { TugError } from "../errors.ts";
import { type CommandResult, type CommandRunner, type Follower, processRunner } from "./command-runner.ts";
import { generation } from "./generation.ts";
import type { FileChange, RunSpec, Runtime } from "./runtime.ts";
import { parseSupervisorExit, SUPERVISOR_PATH } from "./supervisor.ts";
import { extractCommand, syncTar } from "./tar-sync.ts";

export interface KubernetesRuntimeOptions {
  /** `-n NAMESPACE` on every command; kubectl's current context namespace when unset. */
  namespace?: string;
  /** Label selector of the target's pods, e.g. `app=web`. */
  selector: string;
  /** `-c CONTAINER` for exec and logs, for pods with more than one container. */
  container?: string;
  kubectl?: string;
  /**
   * Resolved manifests (YAML text, as `tug resolve` prints them) applied with `kubectl apply -f -`
   * on start. Their container must run the dev image under the supervisor
   * (`command: ["/tug/supervisor", "run", "--", …]`) and the pod must not set
   * `shareProcessNamespace`, since restart signals PID 1. Without manifests the pods must exist.
   */
  manifests?: string[];
  /** On stop, `kubectl delete -f -` what `manifests` created. Default false: left running. */
  deleteOnStop?: boolean;
  /** For `rollout status` and `wait`; default 120. */
  readyTimeoutSeconds?: number;
  env?: NodeJS.ProcessEnv;
  /** Runs kubectl; child processes by default. Tests inject one that records argv and stdin. */
  runner?: CommandRunner;
}

interface PodList {
  items?: Array<{
    metadata?: { name?: string; creationTimestamp?: string; deletionTimestamp?: string };
    status?: { phase?: string; containerStatuses?: Array<{ name?: string; ready?: boolean }> };
  }>;
}

/**
 * The pod to live-update among `kubectl get pods -o json` output: running, not terminating, its
 * (chosen) container ready, newest first — during a rollout the old pods are still listed.
 */
export function pickPod(list: PodList, container?: string): string | undefined {
  const candidates = (list.items ?? []).filter((p) => {
    if (p.metadata?.deletionTimestamp || p.status?.phase !== "Running" || !p.metadata?.name) return false;
    const statuses = (p.status.containerStatuses ?? []).filter((c) => !container || c.name === container);
    return statuses.length > 0 && statuses.every((c) => c.ready === true);
  });
  candidates.sort((a, b) =>
    (b.metadata?.creationTimestamp ?? "").localeCompare(a.metadata?.creationTimestamp ?? ""),
  );
  return candidates[0]?.metadata?.name;
}

const ROLLOUT_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet"]);

/** `deployment/web`-style names of the workloads in `manifests`, for `kubectl rollout status`. */
export function workloadsOf(manifests: string[]): string[] {
  const out: string[] = [];
  for (const text of manifests) {
    for (const doc of parseAllDocuments(text)) {
      const v: unknown = doc.toJS();
      if (typeof v !== "object" || v === null) continue;
      const { kind, metadata } = v as { kind?: unknown; metadata?: { name?: unknown } };
      if (typeof kind === "string" && ROLLOUT_KINDS.has(kind) && typeof metadata?.name === "string") {
        out.push(`${kind.toLowerCase()}/${metadata.name}`);
      }
    }
  }
  return out;
}

/**
 * `kubernetes`: `kubectl apply` + wait for the rollout, then live updates through `kubectl exec`
 * into the newest ready pod matching the selector:
 *
 * - sync: `kubectl exec -i POD [-c C] -- /tug/supervisor extract / [--delete P]…`, tar on stdin;
 * - restart: `kubectl exec POD [-c C] -- /tug/supervisor signal HUP` (to PID 1, the supervisor);
 * - exec: `kubectl exec POD [-c C] -- /bin/sh -c CMD` (the container's workingDir);
 * - logs: `kubectl logs -f POD [-c C]`; `spec.port`: `kubectl port-forward` on 127.0.0.1.
 *
 * `exited()` as in the container runtime: the supervisor's `[tug] process exited (…)` line, a
 * restart, stop, or the logs follower ending (the pod went away) resolve it.
 */
export function kubernetesRuntime(opts: KubernetesRuntimeOptions): Runtime {
  const kubectl = opts.kubectl ?? "kubectl";
  const runner = opts.runner ?? processRunner(opts.env);
  const ns = opts.namespace ? ["-n", opts.namespace] : [];
  const inContainer = opts.container ? ["-c", opts.container] : [];
  const timeout = opts.readyTimeoutSeconds ?? 120;
  const manifests = opts.manifests ?? [];

  let pod: string | undefined;
  let target = "";
  let followers: Follower[] = [];
  let current = generation();
  let stopping: Promise<void> | undefined;

  const run = (args: string[], o?: Parameters<CommandRunner["run"]>[2]) =>
    runner.run(kubectl, [...ns, ...args], o).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") {
        throw new TugError({
          what: `${kubectl} is not installed (not found on PATH)`,
          hint: "install kubectl",
        });
      }
      throw e;
    });
  const failed = (what: string, r: CommandResult) =>
    new TugError({
      what,
      where: target ? `tug dev ${target}` : undefined,
      hint: r.stderr.trim() || r.stdout.trim() || `kubectl exited ${r.code}`,
    });
  const need = (): string => {
    if (!pod) throw new TugError({ what: `${target || "the target"} has no pod selected (start it first)` });
    return pod;
  };
  const manifestText = () => manifests.map((m) => m.replace(/\n*$/, "\n")).join("---\n");

  const runtime: Runtime = {
    kind: "kubernetes",

    async start(spec: RunSpec) {
      if (pod) await runtime.stop();
      stopping = undefined;
      current = generation();
      target = spec.target;
      if (manifests.length > 0) {
        const r = await run(["apply", "-f", "-"], { stdin: manifestText(), timeoutMs: 120_000 });
        if (r.code !== 0) throw failed(`kubectl apply for ${spec.target} failed`, r);
        for (const w of workloadsOf(manifests)) {
          const s = await run(["rollout", "status", w, `--timeout=${timeout}s`], {
            timeoutMs: (timeout + 10) * 1000,
          });
          if (s.code !== 0) throw failed(`${w} did not roll out`, s);
        }
      }
      const ready = await run(
        ["wait", "--for=condition=Ready", "pod", "-l", opts.selector, `--timeout=${timeout}s`],
        {
          timeoutMs: (timeout + 10) * 1000,
        },
      );
      if (ready.code !== 0) throw failed(`no pod matching ${opts.selector} became ready`, ready);
      const list = await run(["get", "pods", "-l", opts.selector, "-o", "json"]);
      if (list.code !== 0) throw failed(`kubectl get pods -l ${opts.selector} failed`, list);
      pod = pickPod(JSON.parse(list.stdout) as PodList, opts.container);
      if (!pod) {
        throw new TugError({
          what: `no running, ready pod matches ${opts.selector}`,
          where: `tug dev ${spec.target}`,
          hint: "check the target's selector: (its pods' labels) and `kubectl get pods`",
        });
      }
      const logs = runner.follow(kubectl, [...ns, "logs", "-f", pod, ...inContainer], (line, stream) => {
        spec.onLog(line, stream);
        const crash = parseSupervisorExit(line);
        if (crash) current.end(crash);
      });
      void logs.done.then(() => {
        if (followers.includes(logs)) current.end({ code: null, signal: null });
      });
      followers = [logs];
      if (spec.port !== undefined) {
        followers.push(
          runner.follow(
            kubectl,
            [...ns, "port-forward", "--address", "127.0.0.1", `pod/${pod}`, `${spec.port}:${spec.port}`],
            () => {},
          ),
        );
      }
    },

    async sync(changes: FileChange[]) {
      if (changes.length === 0) return;
      const p = need();
      const r = await run(
        ["exec", "-i", p, ...inContainer, "--", ...extractCommand(SUPERVISOR_PATH, changes)],
        {
          stdin: syncTar(changes),
          timeoutMs: 120_000,
        },
      );
      if (r.code !== 0) throw failed(`syncing ${changes.length} file change(s) into pod ${p} failed`, r);
    },

    async exec(command) {
      const p = need();
      const r = await run(["exec", p, ...inContainer, "--", "/bin/sh", "-c", command], {
        timeoutMs: 600_000,
      });
      const output = r.stdout + r.stderr;
      if ((r.code === 126 || r.code === 127) && /\/bin\/sh.*(not found|no such file)/i.test(output)) {
        throw new TugError({
          what: `cannot run "${command}" in ${target}: the image has no /bin/sh`,
          hint: "run: steps need a shell in the image; use a base with one, or drop the step",
        });
      }
      return { code: r.code, output };
    },

    async restart() {
      const p = need();
      const r = await run(["exec", p, ...inContainer, "--", SUPERVISOR_PATH, "signal", "HUP"]);
      if (r.code !== 0) throw failed(`restarting ${target} in pod ${p} failed`, r);
      current.end({ code: null, signal: "SIGTERM" });
      current = generation();
    },

    stop() {
      stopping ??= (async () => {
        const fs = followers;
        followers = [];
        for (const f of fs) f.stop();
        if (opts.deleteOnStop && manifests.length > 0) {
          const r = await run(["delete", "--ignore-not-found", "--wait=false", "-f", "-"], {
            stdin: manifestText(),
            timeoutMs: 60_000,
          });
          if (r.code !== 0) throw failed(`kubectl delete for ${target} failed`, r);
        }
        current.end({ code: null, signal: "SIGTERM" });
        pod = undefined;
      })();
      return stopping;
    },

    id: () => pod,
    exited: () => current.done,
  };
  return runtime;
}
