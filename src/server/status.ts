import { connect } from "node:net";
import { FRAME, frame, frameReader, PROTOCOL_VERSION } from "./protocol.ts";

export interface ServerStatus {
  pid: number;
  build: string;
  served: number;
}

/** The running server's counters, or undefined when no server answers on `path`. */
export function serverStatus(path: string): Promise<ServerStatus | undefined> {
  return new Promise((resolve) => {
    const s = connect(path);
    let out = "";
    const read = frameReader(1 << 16, (type, body) => {
      if (type === FRAME.stdout) out += body.toString();
    });
    s.on("data", (chunk: Buffer) => read(chunk));
    s.once("error", () => resolve(undefined));
    s.once("close", () => {
      try {
        resolve(JSON.parse(out) as ServerStatus);
      } catch {
        resolve(undefined);
      }
    });
    const req = { v: PROTOCOL_VERSION, build: "", status: true, argv: [], cwd: "/", env: {} };
    s.end(frame(FRAME.request, JSON.stringify({ ...req, stdout: { tty: false }, stderr: { tty: false } })));
  });
}
