import { spawn } from "node:child_process";
import { type Command, Option } from "commander";
import { TugError } from "../errors.ts";
import { addManifestFlags, type ManifestFlags, resolveManifests } from "./resolve-command.ts";

interface ApplyFlags extends ManifestFlags {
  context?: string;
  namespace?: string;
  kubeconfig?: string;
  dryRun?: "client" | "server";
  kubectl: string;
}

/** kubectl's command line for `tug apply`: its global flags, then `apply -f -`. */
export function kubectlApplyArgs(
  flags: Omit<ApplyFlags, "filename" | "insecureRegistry" | "kubectl">,
): string[] {
  return [
    ...(flags.kubeconfig ? [`--kubeconfig=${flags.kubeconfig}`] : []),
    ...(flags.context ? [`--context=${flags.context}`] : []),
    ...(flags.namespace ? [`--namespace=${flags.namespace}`] : []),
    "apply",
    "-f",
    "-",
    ...(flags.dryRun ? [`--dry-run=${flags.dryRun}`] : []),
  ];
}

export function applyCommand(program: Command): void {
  addManifestFlags(
    program
      .command("apply")
      .description("tug resolve, then kubectl apply -f - with the resolved YAML")
      .option("--context <name>", "kubeconfig context for kubectl")
      .option("-n, --namespace <namespace>", "namespace for kubectl")
      .option("--kubeconfig <file>", "kubeconfig file for kubectl")
      .addOption(new Option("--dry-run <mode>", "kubectl's dry run").choices(["client", "server"]))
      .option("--kubectl <path>", "the kubectl to run", "kubectl"),
  ).action(async (flags: ApplyFlags) => {
    const yaml = await resolveManifests(flags);
    const args = kubectlApplyArgs(flags);
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(flags.kubectl, args, { stdio: ["pipe", "inherit", "inherit"] });
      child.on("error", (cause: NodeJS.ErrnoException) =>
        reject(
          new TugError({
            what: `cannot run ${flags.kubectl}: ${cause.code ?? cause.message}`,
            where: "--kubectl",
            hint: "install kubectl (Debian: kubernetes-client) or pass --kubectl PATH",
            cause,
          }),
        ),
      );
      child.on("close", (c, signal) => resolve(c ?? (signal ? 128 : 1)));
      // kubectl may exit before reading everything (a bad kubeconfig): EPIPE is its error, not ours.
      child.stdin.on("error", () => {});
      child.stdin.end(yaml);
    });
    if (code !== 0) {
      throw new TugError({
        what: `kubectl apply failed (exit ${code})`,
        where: `${flags.kubectl} ${args.join(" ")}`,
        hint: "kubectl's own message is above; `tug resolve` with the same -f prints what was sent",
      });
    }
  });
}
