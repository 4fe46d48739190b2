import type { Channel } from "./command-runner.ts";

/**
 * The client end of `/tug/supervisor agent DIR` (protocol: src/dev/supervisor/main.go): one
 * long-lived `exec -i` session carrying every sync and restart of a container, instead of one
 * `exec` (~185 ms under podman) per batch.
 */
export interface SyncAgent {
  /**
   * True once the agent has greeted (`READY 1`); false when the session ended, or sent
   * something else, first (an older supervisor without `agent`, the exec failing) or did not
   * greet within the start timeout.
   */
  readonly ready: Promise<boolean>;
  /** Greeted and not ended: it takes requests. */
  alive(): boolean;
  /**
   * Sends one request (requests are serialised) and resolves with the reply: undefined for
   * `OK`, the message for `ERR message`. Rejects with AgentGone when the session ends before
   * the reply (the request may or may not have been applied); with another error (after killing
   * the session) when no reply comes within timeoutMs.
   */
  request(frame: Buffer | string, timeoutMs: number): Promise<string | undefined>;
  /** Ends the session: closes its stdin, kills it after graceMs. Resolves once it has exited. */
  close(graceMs?: number): Promise<void>;
  /** What ended the session (the end of its stderr), or "" while it runs. */
  why(): string;
}

/** The session ended before answering: the caller may redo the request another way. */
export class AgentGone extends Error {
  constructor(why: string) {
    super(`the sync agent session ended${why ? `: ${why}` : ""}`);
    this.name = "AgentGone";
  }
}

const PROTOCOL = "1";

interface Pending {
  resolve(reply: string | undefined): void;
  reject(e: Error): void;
}

export function openAgent(channel: Channel, startTimeoutMs = 30_000): SyncAgent {
  let greeted = false;
  let ended = false;
  let reason = "";
  let rest = "";
  const pending: Pending[] = [];
  let queue: Promise<unknown> = Promise.resolve();
  let greet: (ok: boolean) => void = () => {};
  const ready = new Promise<boolean>((resolve) => {
    greet = resolve;
  });
  const startTimer = setTimeout(() => {
    if (!greeted) end(`no greeting within ${startTimeoutMs} ms`);
  }, startTimeoutMs);

  function end(why: string): void {
    if (ended) return;
    ended = true;
    clearTimeout(startTimer);
    reason = why || channel.stderr().trim() || "it exited";
    channel.kill();
    greet(false);
    for (const p of pending.splice(0)) p.reject(new AgentGone(reason));
  }

  function onLine(line: string): void {
    if (!greeted) {
      if (line === `READY ${PROTOCOL}`) {
        greeted = true;
        clearTimeout(startTimer);
        greet(true);
      } else {
        end(`unexpected greeting ${JSON.stringify(line.slice(0, 200))}`);
      }
      return;
    }
    const ok = line === "OK";
    const p = ok || line.startsWith("ERR ") ? pending.shift() : undefined;
    // A reply nobody asked for, or no reply at all: the stream cannot be trusted any more.
    if (!p) end(`unexpected reply ${JSON.stringify(line.slice(0, 200))}`);
    else p.resolve(ok ? undefined : line.slice(4));
  }

  channel.stdout.on("data", (chunk: Buffer) => {
    rest += chunk.toString("utf8");
    const lines = rest.split("\n");
    rest = lines.pop() ?? "";
    for (const l of lines) if (!ended) onLine(l);
  });
  channel.stdout.on("error", () => {});
  void channel.done.then((s) => {
    // Give stderr's last chunk a moment: it tells why (an old supervisor's usage line, say).
    setImmediate(() =>
      end(channel.stderr().trim() || `it exited (code ${s.code ?? "none"}, signal ${s.signal ?? "none"})`),
    );
  });

  function send(frame: Buffer | string, timeoutMs: number): Promise<string | undefined> {
    if (ended || !greeted) return Promise.reject(new AgentGone(reason || "not started"));
    return new Promise<string | undefined>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = pending.indexOf(entry);
        if (i >= 0) pending.splice(i, 1);
        end(`no reply within ${timeoutMs} ms`);
        reject(new Error(`the sync agent did not reply within ${timeoutMs} ms`));
      }, timeoutMs);
      const entry: Pending = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      pending.push(entry);
      channel.stdin.write(frame);
    });
  }

  return {
    ready,
    alive: () => greeted && !ended,
    why: () => (ended ? reason : ""),
    request(frame, timeoutMs) {
      const p = queue.then(
        () => send(frame, timeoutMs),
        () => send(frame, timeoutMs),
      );
      queue = p.catch(() => {});
      return p;
    },
    async close(graceMs = 2_000) {
      channel.stdin.end();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        channel.done,
        new Promise<void>((r) => {
          timer = setTimeout(r, graceMs);
        }),
      ]);
      clearTimeout(timer);
      end("closed");
      await channel.done;
    },
  };
}
