// NOT RUN AGAINST A REAL CLUSTER. There is no Kubernetes API server on the machines tug is
// developed on: this runtime is tested only for the kubectl commands it builds and the tar it
// streams (test/dev/kubernetes-runtime.test.ts, with a fake CommandRunner). The sync and
// restart mechanism is the one the podman runtime runs for real (the supervisor's `extract` and
// SIGHUP), only reached through `kubectl exec` instead of `podman exec`.
import { parseAllDocuments } from "yaml";
import { TugError } from "../errors.ts";
import { type CommandRunner, processRunner, type RunOptions } from "./command-runner.ts";
import type { FileChange, RunSpec, Runtime } from "./runtime.ts";
import { Supervised } from "./supervised.ts";
import { SUPERVISOR_PATH } from "./supervisor.ts";

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
 * The live-update half is the shared `Supervised` one (the podman runtimes run it for real),
 * with kubectl's exec shape; when the runner can open a session, syncs and restarts go
 * through one `kubectl exec -i POD -- /tug/supervisor agent /`. `exited()`: the supervisor's
 * `[tug] process exited (…)` line, a restart, stop, or the logs ending (the pod went away).
 */
export function kubernetesRuntime(opts: KubernetesRuntimeOptions): Runtime {
  const kubectl = opts.kubectl ?? "kubectl";
  const runner = opts.runner ?? processRunner(opts.env);
  const ns = opts.namespace ? ["-n", opts.namespace] : [];
  const inContainer = opts.container ? ["-c", opts.container] : [];
  const timeout = opts.readyTimeoutSeconds ?? 120;
  const manifests = opts.manifests ?? [];
  const box = new Supervised({
    cli: kubectl,
    global: ns,
    runner,
    exec: (pod, argv, interactive) => [
      "exec",
      ...(interactive ? ["-i"] : []),
      pod,
      ...inContainer,
      "--",
      ...argv,
    ],
    hup: (pod) => ["exec", pod, ...inContainer, "--", SUPERVISOR_PATH, "signal", "HUP"],
    logs: (pod) => ["logs", "-f", pod, ...inContainer],
    name: (pod) => `pod ${pod}`,
    installHint: "install kubectl",
  });
  const run = (args: string[], o?: RunOptions) => box.run(args, o);
  let stopping: Promise<void> | undefined;
  const manifestText = () => manifests.map((m) => m.replace(/\n*$/, "\n")).join("---\n");

  const runtime: Runtime = {
    kind: "kubernetes",

    async start(spec: RunSpec) {
      if (box.id()) await runtime.stop();
      stopping = undefined;
      if (manifests.length > 0) {
        const r = await run(["apply", "-f", "-"], { stdin: manifestText(), timeoutMs: 120_000 });
        if (r.code !== 0) throw box.failed(`kubectl apply for ${spec.target} failed`, r);
        for (const w of workloadsOf(manifests)) {
          const s = await run(["rollout", "status", w, `--timeout=${timeout}s`], {
            timeoutMs: (timeout + 10) * 1000,
          });
          if (s.code !== 0) throw box.failed(`${w} did not roll out`, s);
        }
      }
      const ready = await run(
        ["wait", "--for=condition=Ready", "pod", "-l", opts.selector, `--timeout=${timeout}s`],
        { timeoutMs: (timeout + 10) * 1000 },
      );
      if (ready.code !== 0) throw box.failed(`no pod matching ${opts.selector} became ready`, ready);
      const list = await run(["get", "pods", "-l", opts.selector, "-o", "json"]);
      if (list.code !== 0) throw box.failed(`kubectl get pods -l ${opts.selector} failed`, list);
      const pod = pickPod(JSON.parse(list.stdout) as PodList, opts.container);
      if (!pod) {
        throw new TugError({
          what: `no running, ready pod matches ${opts.selector}`,
          where: `tug dev ${spec.target}`,
          hint: "check the target's selector: (its pods' labels) and `kubectl get pods`",
        });
      }
      box.attach(pod, spec);
      if (spec.port !== undefined) {
        box.keep(
          runner.follow(
            kubectl,
            [...ns, "port-forward", "--address", "127.0.0.1", `pod/${pod}`, `${spec.port}:${spec.port}`],
            () => {},
          ),
        );
      }
    },

    sync: (changes: FileChange[]) => box.sync(changes),
    exec: (command) => box.exec(command),
    restart: () => box.restart(),

    stop() {
      stopping ??= box.detach(async () => {
        if (opts.deleteOnStop && manifests.length > 0) {
          const r = await run(["delete", "--ignore-not-found", "--wait=false", "-f", "-"], {
            stdin: manifestText(),
            timeoutMs: 60_000,
          });
          if (r.code !== 0) throw box.failed("kubectl delete failed", r);
        }
      });
      return stopping;
    },

    id: () => box.id(),
    // The port-forward reaches the pod tug chose: an answer through it is that pod's.
    owns: async () => box.id() !== undefined,
    exited: () => box.exited(),
  };
  return runtime;
}
