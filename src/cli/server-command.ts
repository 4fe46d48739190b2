import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import { type CliContext, cli } from "./context.ts";

/** `tug server [dir]`: a warm process that one-shot `tug build`/`tug invoke` hand their work to. */
export function serverCommand(program: Command, run: (ctx: CliContext) => Promise<number>): void {
  program
    .command("server")
    .argument(
      "[dir]",
      "the project directory (default: the nearest one holding tug.yaml, from the current directory up)",
    )
    .option("--status", "print the running server's pid, build and served request count as JSON")
    .option("--quiet", "print nothing when another server already runs for the project")
    .description("keep a warm tug for this project: one-shot build and invoke commands run in it")
    .action(async (dir: string | undefined, flags: { status?: boolean; quiet?: boolean }) => {
      const { socketPath } = await import("../server/socket-path.ts");
      // Keyed by the directory holding tug.yaml, as one-shot commands find it (bin/server-client.js).
      const start = resolve(cli.cwd(), dir ?? ".");
      const { findProjectUp } = await import("../config/find.ts");
      const file = dir === undefined ? await findProjectUp(start) : undefined;
      const path = socketPath(file ? dirname(file) : start, cli.env);
      if (flags.status) {
        const status = await (await import("../server/status.ts")).serverStatus(path);
        const { TugError } = await import("../errors.ts");
        if (!status) throw new TugError({ what: "no tug server runs for this project", where: path });
        cli.stdout.write(`${JSON.stringify(status)}\n`);
        return;
      }
      const { serveProject } = await import("../server/server.ts");
      // Warm state that pays off only in a long-lived process: esbuild contexts per Node target,
      // the head hash of each Python zip.
      const warm = await import("../node/warm-bundles.ts");
      warm.keepBundleContexts();
      (await import("../lambda/resident-memo.ts")).keepZipHeads();
      const server = await serveProject({ path, run }).catch((e: unknown) => {
        if (flags.quiet && e instanceof Error && e.message.includes("already runs")) return undefined;
        throw e;
      });
      if (!server) return;
      cli.stderr.write(`tug server: listening on ${path}\n`);
      await new Promise<void>((done) => {
        const shutdown = () => {
          process.off("SIGINT", shutdown);
          process.off("SIGTERM", shutdown);
          process.off("disconnect", shutdown);
          done();
        };
        process.on("SIGINT", shutdown);
        process.on("SIGTERM", shutdown);
        // Started by `tug dev`: gone with it.
        if (process.connected) process.on("disconnect", shutdown);
      });
      await server.close();
      await warm.disposeBundleContexts();
    });
}
