// Debian's nginx as a WebDAV PUT store (a Bazel HTTP cache) for one bench run, with an access
// log so every request tug makes to the cache can be counted. The config follows
// test/support/nginx-dav.ts; here the process is not tied to a node:test context, its stderr
// goes to a file (the benches block their event loop in spawnSync, so a pipe would fill up) and
// it is stopped by PID.
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { join } from "node:path";
import { freePort, waitForHttp } from "../../test/support/tools.ts";

export interface RequestCounts {
  total: number;
  /** By method: GET, HEAD, PUT, … */
  byMethod: Record<string, number>;
  /** By method and status, e.g. "GET 404". */
  byMethodStatus: Record<string, number>;
  /** By method and top path segment, e.g. "GET /ac", "PUT /cas". */
  byMethodArea: Record<string, number>;
}

export interface BenchNginxDav {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Where PUT bodies land. */
  root: string;
  /** Lines logged so far: a mark to count from. */
  mark(): number;
  /** The requests logged since `mark` (the readiness probe is logged before any mark). */
  countSince(mark: number): RequestCounts;
  stop(): Promise<void>;
}

function config(dir: string, port: number): string {
  // As root, nginx would hand requests to "nobody", who cannot write the bench's root.
  const user = process.getuid?.() === 0 ? `user ${userInfo().username};` : "";
  return `
${user}
daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 1024; }
http {
  log_format counts '$request_method $status $uri';
  access_log ${join(dir, "access.log")} counts;
  client_body_temp_path ${join(dir, "tmp", "body")};
  proxy_temp_path ${join(dir, "tmp", "proxy")};
  fastcgi_temp_path ${join(dir, "tmp", "fastcgi")};
  uwsgi_temp_path ${join(dir, "tmp", "uwsgi")};
  scgi_temp_path ${join(dir, "tmp", "scgi")};
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:${port};
    root ${join(dir, "root")};
    location / {
      dav_methods PUT DELETE;
      create_full_put_path on;
      dav_access user:rw;
      client_max_body_size 0;
    }
  }
}
`;
}

export async function startBenchNginxDav(dir: string): Promise<BenchNginxDav> {
  const root = join(dir, "root");
  await mkdir(root, { recursive: true });
  await mkdir(join(dir, "tmp"), { recursive: true });
  const accessLog = join(dir, "access.log");
  const lines = (): string[] => {
    let text: string;
    try {
      text = readFileSync(accessLog, "utf8");
    } catch {
      return [];
    }
    return text.split("\n").filter((l) => l.length > 0);
  };
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    const confPath = join(dir, "nginx.conf");
    await writeFile(confPath, config(dir, port));
    const stderrPath = join(dir, "stderr.log");
    const stderr = openSync(stderrPath, "w");
    // -e: the error log before the config is read (the default would be /var/log/nginx).
    const child = spawn("/usr/sbin/nginx", ["-p", dir, "-c", confPath, "-e", join(dir, "error.log")], {
      stdio: ["ignore", "ignore", stderr],
    });
    closeSync(stderr);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const stop = async (): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      child.kill("SIGTERM"); // nginx's fast shutdown
      await exited;
      clearTimeout(timer);
    };
    const url = `http://127.0.0.1:${port}`;
    const ready = await Promise.race([
      waitForHttp(`${url}/`, { timeoutMs: 15_000 }).then(() => true),
      exited.then(() => false),
    ]);
    if (ready) {
      return {
        url,
        root,
        mark: () => lines().length,
        countSince: (mark) => {
          const counts: RequestCounts = { total: 0, byMethod: {}, byMethodStatus: {}, byMethodArea: {} };
          const bump = (m: Record<string, number>, k: string) => {
            m[k] = (m[k] ?? 0) + 1;
          };
          for (const line of lines().slice(mark)) {
            const [method = "?", status = "?", uri = ""] = line.split(" ");
            counts.total++;
            bump(counts.byMethod, method);
            bump(counts.byMethodStatus, `${method} ${status}`);
            bump(counts.byMethodArea, `${method} /${uri.split("/")[1] ?? ""}`);
          }
          return counts;
        },
        stop,
      };
    }
    await stop();
    // The port may have been taken between freePort and bind; try another once or twice.
    if (tries >= 2) {
      const read = (p: string) => {
        try {
          return readFileSync(p, "utf8");
        } catch {
          return "";
        }
      };
      throw new Error(`nginx did not start: ${read(stderrPath)}${read(join(dir, "error.log"))}`);
    }
  }
}
