// Debian's nginx as a WebDAV PUT store: the plainest real server for the Bazel HTTP cache
// protocol (GET/HEAD/PUT on /cas/HEX and /ac/HEX). Each test gets its own config, root and
// temp paths in a temp dir, on a free 127.0.0.1 port, stopped by PID when the test ends.
import { execFile, spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { promisify } from "node:util";
import { stopProcess } from "./process.ts";
import { tempDir } from "./tmp.ts";
import { freePort, waitForHttp } from "./tools.ts";

export interface NginxDavOptions {
  /** Basic auth over the whole store, through an htpasswd file made by `htpasswd -bc`. */
  basicAuth?: { username: string; password: string };
}

export interface RunningNginxDav {
  port: number;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Where PUT bodies land: `${root}/PATH` for a request to `/PATH`. */
  root: string;
  /** nginx's error log, for assertions and for failure messages. */
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

function config(dir: string, port: number, htpasswd: string | undefined): string {
  // As root, nginx would hand requests to "nobody", who cannot write the test's root.
  const user = process.getuid?.() === 0 ? `user ${userInfo().username};` : "";
  const auth = htpasswd ? `auth_basic "tug-test"; auth_basic_user_file ${htpasswd};` : "";
  return `
${user}
daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${join(dir, "tmp", "body")};
  proxy_temp_path ${join(dir, "tmp", "proxy")};
  fastcgi_temp_path ${join(dir, "tmp", "fastcgi")};
  uwsgi_temp_path ${join(dir, "tmp", "uwsgi")};
  scgi_temp_path ${join(dir, "tmp", "scgi")};
  server {
    listen 127.0.0.1:${port};
    root ${join(dir, "root")};
    location / {
      dav_methods PUT DELETE;
      create_full_put_path on;
      dav_access user:rw;
      client_max_body_size 0;
      ${auth}
    }
  }
}
`;
}

/** Starts nginx on a free 127.0.0.1 port; it is stopped by PID when `t` ends. */
export async function startNginxDav(t: TestContext, opts: NginxDavOptions = {}): Promise<RunningNginxDav> {
  const dir = await tempDir(t, "tug-nginx-");
  const root = join(dir, "root");
  await mkdir(root);
  await mkdir(join(dir, "tmp"));
  let htpasswd: string | undefined;
  if (opts.basicAuth) {
    htpasswd = join(dir, "htpasswd");
    try {
      await promisify(execFile)("htpasswd", [
        "-bc",
        htpasswd,
        opts.basicAuth.username,
        opts.basicAuth.password,
      ]);
    } catch (e) {
      throw new Error(`htpasswd failed (apt-get install -y apache2-utils): ${(e as Error).message}`);
    }
  }
  const errorLog = () => readFile(join(dir, "error.log"), "utf8").catch(() => "");
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    const confPath = join(dir, "nginx.conf");
    await writeFile(confPath, config(dir, port, htpasswd));
    // -e: the error log before the config is read (the default would be /var/log/nginx).
    const child = spawn("/usr/sbin/nginx", ["-p", dir, "-c", confPath, "-e", join(dir, "error.log")], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (c: string) => {
      stderr = (stderr + c).slice(-4000);
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const stop = () => stopProcess(child);
    t.after(stop);
    const url = `http://127.0.0.1:${port}`;
    const ready = await Promise.race([
      waitForHttp(`${url}/`, { timeoutMs: 15_000 }).then(() => true),
      exited.then(() => false),
    ]);
    if (ready) return { port, url, root, errorLog, stop };
    // The port may have been taken between freePort and bind; try another once or twice.
    if (tries >= 2) throw new Error(`nginx did not start: ${stderr}\n${await errorLog()}`);
  }
}
