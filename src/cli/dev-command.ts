import type { Command } from "commander";
import type { UpdateReport } from "../dev/report.ts";
import { addConfigOption, type ConfigFlags } from "./config-option.ts";
import { devOutput } from "./dev-output.ts";
import { projectFromArgs } from "./project-args.ts";

export function devCommand(program: Command): void {
  addConfigOption(program.command("dev").argument("[targets...]"))
    .option("--json", "stream one JSON object per update on stdout")
    .option("--runtime <name>", "run every image target here: local, podman, docker, kube-play or kubernetes")
    .description(
      "build, run and watch images (live-updated) and lambdas (zips rebuilt) on every change (Ctrl-C stops)",
    )
    .action(async (names: string[], flags: ConfigFlags & { json?: boolean; runtime?: string }) => {
      const { project } = await projectFromArgs([], flags);
      const out = await devOutput(project, flags);
      const onReport = (r: UpdateReport) => out.onReport(r);
      // Names may be images, lambdas or layers; none means all of each kind.
      const isLambda = (n: string) =>
        (project.lambdas ?? []).some((l) => l.name === n) || (project.layers ?? []).some((l) => l.name === n);
      const lambdaNames = names.filter(isLambda);
      const imageNames = names.filter((n) => !isLambda(n));
      const lambdas = (project.lambdas ?? []).filter(
        (l) => names.length === 0 || lambdaNames.includes(l.name),
      );
      const layers = (project.layers ?? []).filter((l) => names.length === 0 || lambdaNames.includes(l.name));
      const sessions: Array<{ stop(): Promise<void> }> = [];
      // One-shot `tug build`/`tug invoke` of this project are served by a warm child while dev runs.
      sessions.push((await import("../server/spawn.ts")).startProjectServer(project.dir));
      if (lambdas.length + layers.length > 0) {
        const { devLambdas } = await import("../dev/lambda-dev.ts");
        sessions.push(await devLambdas(project, lambdas, layers, { onReport }));
      }
      if (imageNames.length > 0 || (names.length === 0 && project.targets.length > 0)) {
        const { dev } = await import("../dev/dev.ts");
        sessions.push(
          await dev(project, {
            targets: imageNames,
            ...(flags.runtime ? { runtime: flags.runtime } : {}),
            onReport,
            onLog: (target, line) => out.onLog(target, line),
            onPhase: (target, phase) => out.onPhase(target, phase),
            imageRuntime: async (target, engine, p) =>
              (await import("../dev/image-runtime.ts")).imageRuntime(target, engine, p),
          }),
        );
      }
      const session = { stop: () => Promise.all(sessions.map((x) => x.stop())).then(() => {}) };
      await new Promise<void>((resolve) => {
        const shutdown = () => {
          process.off("SIGINT", shutdown);
          process.off("SIGTERM", shutdown);
          resolve();
        };
        process.on("SIGINT", shutdown);
        process.on("SIGTERM", shutdown);
      });
      await session.stop();
      out.done();
    });
}
