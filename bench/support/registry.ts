// A Debian docker-registry (distribution 2.8) for one bench run: own config and storage under
// the bench's temp dir, a free 127.0.0.1 port, stopped by PID.
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort, waitForHttp } from "../../test/support/tools.ts";

export interface BenchRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  url: string;
  storage: string;
  stop(): Promise<void>;
}

export async function startBenchRegistry(dir: string): Promise<BenchRegistry> {
  await mkdir(dir, { recursive: true });
  const storage = join(dir, "storage");
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    const config = {
      version: 0.1,
      log: { level: "error", accesslog: { disabled: true } },
      storage: {
        filesystem: { rootdirectory: storage },
        delete: { enabled: true },
        maintenance: { uploadpurging: { enabled: false } },
      },
      http: { addr: `127.0.0.1:${port}`, secret: "tug-bench-secret" },
    };
    const configPath = join(dir, "config.yml");
    await writeFile(configPath, stringify(config));
    // Its log goes to a file, not a pipe: the benches block their event loop in spawnSync, and a
    // pipe nobody drains fills up (the registry logs every 404 HEAD at level error) and then
    // blocks the registry mid-request.
    const logPath = join(dir, "registry.log");
    const log = openSync(logPath, "w");
    const child = spawn("docker-registry", ["serve", configPath], { stdio: ["ignore", "ignore", log] });
    closeSync(log);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const stop = async (): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      child.kill("SIGTERM");
      await exited;
      clearTimeout(timer);
    };
    const url = `http://127.0.0.1:${port}`;
    const ready = await Promise.race([
      waitForHttp(`${url}/v2/`, { timeoutMs: 15_000 }).then(() => true),
      exited.then(() => false),
    ]);
    if (ready) return { host: `127.0.0.1:${port}`, url, storage, stop };
    if (tries >= 2)
      throw new Error(`docker-registry did not start: ${readFileSync(logPath, "utf8").slice(-4000)}`);
  }
}

/** The digest the registry serves for `repo:tag` (a HEAD, as a deploy would resolve it). */
export async function manifestDigest(reg: BenchRegistry, repo: string, tag: string): Promise<string> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, {
    method: "HEAD",
    headers: {
      accept: [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
      ].join(", "),
    },
  });
  const digest = res.headers.get("docker-content-digest");
  if (!res.ok || !digest) throw new Error(`HEAD ${repo}:${tag} answered ${res.status}`);
  return digest;
}
