// A real Debian docker-registry (distribution 2.8) per test, with its own config and storage.
import { execFile, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { stopProcess } from "./process.ts";
import type { TlsFiles } from "./tls.ts";
import { tempDir } from "./tmp.ts";
import type { TokenServer } from "./token-server.ts";
import { freePort, waitForHttp } from "./tools.ts";

export interface RegistryOptions {
  /** Basic auth through an htpasswd file (needs `htpasswd` from apache2-utils). */
  htpasswd?: { username: string; password: string };
  /** Bearer-token auth against a token server from `startTokenServer`. */
  token?: TokenServer;
  /** Address to listen on; 127.0.0.1 unless set (127.0.0.2 is loopback yet not plain HTTP to tug). */
  host?: string;
  /** Serve HTTPS with this certificate (from `selfSignedCert` in tls.ts, with an IP SAN for `host`). */
  tls?: TlsFiles;
}

export interface RunningRegistry {
  host: string;
  port: number;
  /** `http://127.0.0.1:PORT`, or `https://HOST:PORT` with `tls` */
  url: string;
  /** Storage root, e.g. for asserting what blobs exist on disk. */
  storage: string;
  /** `127.0.0.1:PORT/<path>` */
  repo(path: string): string;
  stop(): Promise<void>;
}

async function htpasswdLine(username: string, password: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)("htpasswd", ["-Bbn", username, password]);
    return stdout.trim();
  } catch (e) {
    throw new Error(`htpasswd failed (apt-get install -y apache2-utils): ${(e as Error).message}`);
  }
}

/** Starts docker-registry on a free port (127.0.0.1 by default); it is stopped by PID when `t` ends. */
export async function startRegistry(t: TestContext, opts: RegistryOptions = {}): Promise<RunningRegistry> {
  const dir = await tempDir(t, "tug-registry-");
  const storage = join(dir, "storage");
  const host = opts.host ?? "127.0.0.1";
  let auth: Record<string, unknown> | undefined;
  if (opts.htpasswd) {
    const path = join(dir, "htpasswd");
    await writeFile(path, `${await htpasswdLine(opts.htpasswd.username, opts.htpasswd.password)}\n`);
    auth = { htpasswd: { realm: "tug-test", path } };
  } else if (opts.token) {
    const tk = opts.token;
    auth = {
      token: { realm: tk.realm, service: tk.service, issuer: tk.issuer, rootcertbundle: tk.certPath },
    };
  }
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
      http: {
        addr: `${host}:${port}`,
        secret: "tug-test-secret",
        ...(opts.tls ? { tls: { certificate: opts.tls.certPath, key: opts.tls.keyPath } } : {}),
      },
      ...(auth ? { auth } : {}),
    };
    const configPath = join(dir, "config.yml");
    await writeFile(configPath, stringify(config));
    const child = spawn("docker-registry", ["serve", configPath], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (c: string) => {
      stderr = (stderr + c).slice(-4000);
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const stop = () => stopProcess(child);
    t.after(stop);
    const url = `${opts.tls ? "https" : "http"}://${host}:${port}`;
    const ready = await Promise.race([
      waitForHttp(`${url}/v2/`, { timeoutMs: 15_000, caPath: opts.tls?.certPath }).then(() => true),
      exited.then(() => false),
    ]);
    if (ready) return { host, port, url, storage, repo: (p) => `${host}:${port}/${p}`, stop };
    // The port may have been taken between freePort and bind; try another once or twice.
    if (tries >= 2) throw new Error(`docker-registry did not start: ${stderr}`);
  }
}
