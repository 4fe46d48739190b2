// Polling a service for the new text, and `tug dev --json` as a child process, for the quest rows.
import { type ChildProcess, spawn } from "node:child_process";
import { get } from "node:http";
import { createInterface } from "node:readline";
import type { UpdateReport } from "../../src/dev/report.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One GET of `/`; the body, or undefined when nothing (or an error) answers. */
export function getText(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = get({ host: "127.0.0.1", port, path: "/", agent: false, timeout: 2000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (b: string) => {
        body += b;
      });
      res.on("end", () => resolve(res.statusCode === 200 ? body : undefined));
      res.on("error", () => resolve(undefined));
    });
    req.on("error", () => resolve(undefined));
    req.on("timeout", () => {
      req.destroy();
      resolve(undefined);
    });
  });
}

/** Polls `/` every 5 ms until it answers `text`; throws with the last answer after `timeoutMs`. */
export async function pollFor(port: number, text: string, timeoutMs = 300_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  let last: string | undefined;
  for (;;) {
    last = await getText(port);
    if (last === text) return;
    if (performance.now() > end)
      throw new Error(`port ${port} did not serve ${JSON.stringify(text)} (last: ${JSON.stringify(last)})`);
    await sleep(5);
  }
}

/** `tug dev TARGET --json` in `dir`: its reports as they arrive; stopped with SIGINT like Ctrl-C. */
export class DevProcess {
  readonly reports: UpdateReport[] = [];
  /** When each report reached the bench (performance.now()), same index as `reports`. */
  readonly arrived: number[] = [];
  private readonly log: string[] = [];
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on("line", (l) => {
      try {
        this.reports.push(JSON.parse(l) as UpdateReport);
        this.arrived.push(performance.now());
      } catch {
        this.keep(`(stdout) ${l}`);
      }
    });
    createInterface({ input: child.stderr! }).on("line", (l) => this.keep(l));
    this.exited = new Promise((r) => child.once("exit", () => r()));
  }

  private keep(line: string): void {
    this.log.push(line);
    if (this.log.length > 40) this.log.shift();
  }

  /** Starts it and waits for its first report (the first build and start), which must be ok. */
  static async start(o: { tug: string[]; dir: string; target: string; env: NodeJS.ProcessEnv }) {
    const child = spawn(o.tug[0]!, [...o.tug.slice(1), "dev", o.target, "--json"], {
      cwd: o.dir,
      env: o.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const p = new DevProcess(child);
    try {
      const first = await p.waitReport(0, 900_000);
      if (!first.ok) throw new Error(`tug dev ${o.target} did not start: ${first.error}\n${p.tail()}`);
    } catch (e) {
      await p.stop();
      throw e;
    }
    return p;
  }

  tail(): string {
    return this.log.join("\n");
  }

  async waitReport(i: number, timeoutMs = 120_000): Promise<UpdateReport> {
    const end = performance.now() + timeoutMs;
    for (;;) {
      const r = this.reports[i];
      if (r) return r;
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new Error(`tug dev exited ${this.child.exitCode ?? this.child.signalCode}\n${this.tail()}`);
      if (performance.now() > end) throw new Error(`no report #${i} from tug dev\n${this.tail()}`);
      await sleep(10);
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 30_000);
    this.child.kill("SIGINT");
    await this.exited;
    clearTimeout(timer);
  }
}
