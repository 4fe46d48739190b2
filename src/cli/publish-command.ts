import { resolve } from "node:path";
import type { Command } from "commander";
import { findProjectUp } from "../config/find.ts";
import { TugError } from "../errors.ts";
import { addConfigOption, type ConfigFlags } from "./config-option.ts";
import { cli } from "./context.ts";
import { projectFromArgs } from "./project-args.ts";

const collect = (v: string, prev: string[]) => [...prev, v];

export function publishCommand(program: Command): void {
  addConfigOption(program.command("publish").argument("<targets...>"))
    .requiredOption("--from <dir>", "OCI layout written by `tug build --out DIR` (DIR/oci)")
    .option("--repo <repository>", "repository to push to (also TUG_REPO, tug.yaml repo:)")
    .option("--insecure-registry <host>", "allow plain HTTP to this registry (repeatable)", collect, [])
    .option("--json", "print one JSON document on stdout")
    .description(
      "push exactly the digests an earlier `tug build --out` wrote: the tested image is the pushed image",
    )
    .action(
      async (
        targets: string[],
        flags: ConfigFlags & { from: string; repo?: string; insecureRegistry: string[]; json?: boolean },
      ) => {
        const started = performance.now();
        // A project is optional (it gives tags and repo), but one that is named or present must load.
        const hasProject =
          flags.config !== undefined ||
          flags.file !== undefined ||
          (await findProjectUp(cli.cwd())) !== undefined;
        const { project, repo } = hasProject
          ? await projectFromArgs([], flags)
          : { project: undefined, repo: flags.repo ?? cli.env.TUG_REPO };
        if (!repo)
          throw new TugError({
            what: "no repository to publish to",
            hint: "pass --repo, set TUG_REPO, or repo: in tug.yaml",
          });
        const { publishFromLayout } = await import("../image/publish.ts");
        const artifacts = await publishFromLayout({
          from: resolve(flags.from),
          targets,
          repo,
          project,
          insecureRegistries: flags.insecureRegistry,
        });
        if (flags.json)
          cli.stdout.write(`${JSON.stringify({ ms: Math.round(performance.now() - started), artifacts })}\n`);
        else for (const a of artifacts) cli.stderr.write(`${a.target}  ${a.ref}\n`);
      },
    );
}
