// Small HTTP and polling helpers for tests of running services.
import { get } from "node:http";

/** GET http://127.0.0.1:PORT/ and return the body (rejects on connection errors). */
export function httpText(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
      let body = "";
      res.on("data", (b: Buffer) => {
        body += b;
      });
      res.on("end", () => resolve(body));
    }).on("error", reject);
  });
}

/** GET http://127.0.0.1:PORT/PATH: the status and body, whatever the status. */
export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let body = "";
      res.on("data", (b: Buffer) => {
        body += b;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    }).on("error", reject);
  });
}

/** Polls `f` every 20 ms until it returns something other than undefined/false. */
export async function until<T>(what: string, f: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Polls `port` until it answers `text`; the last answer (or error) is in the timeout's message. */
export async function untilReply(port: number, text: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    last = await httpText(port).catch((e: Error) => `(${e.message})`);
    if (last === text) return;
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${JSON.stringify(text)} on :${port}; last: ${last}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
