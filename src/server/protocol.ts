// Frames on the server socket: [type: u8][length: u32 BE][payload]. Mirrored by
// bin/server-client.js. The client sends one REQUEST; the server answers with STDOUT/STDERR
// chunks and one EXIT, or one REFUSE (the client then runs the command itself).

export const FRAME = { request: 0x52, stdout: 1, stderr: 2, exit: 3, refuse: 4 } as const;
export const PROTOCOL_VERSION = 1;
/** A request carries argv and the environment: bounded so a client cannot make the server hoard. */
export const MAX_REQUEST_BYTES = 4 << 20;

export interface StreamInfo {
  tty: boolean;
  columns?: number;
}

export interface ServerRequest {
  v: number;
  /** The client's build of tug: a server runs only its own build's commands. */
  build: string;
  /** `status` asks for counters instead of running a command. */
  status?: boolean;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  stdout: StreamInfo;
  stderr: StreamInfo;
}

export function frame(type: number, payload: string | Uint8Array): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : Buffer.from(payload);
  const head = Buffer.alloc(5);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Splits a byte stream into frames; `onFrame` is called for each whole one. */
export function frameReader(
  max: number,
  onFrame: (type: number, body: Buffer) => void,
): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 5) {
      const len = buf.readUInt32BE(1);
      if (len > max) throw new Error(`frame of ${len} bytes exceeds ${max}`);
      if (buf.length < 5 + len) return;
      const type = buf.readUInt8(0);
      const body = buf.subarray(5, 5 + len);
      buf = buf.subarray(5 + len);
      onFrame(type, body);
    }
  };
}

const isStreamInfo = (x: unknown): x is StreamInfo =>
  typeof x === "object" &&
  x !== null &&
  typeof (x as StreamInfo).tty === "boolean" &&
  ((x as StreamInfo).columns === undefined || Number.isInteger((x as StreamInfo).columns));

/** The request in `body`, or why it is not one. */
export function parseRequest(body: Buffer): ServerRequest | string {
  let x: unknown;
  try {
    x = JSON.parse(body.toString("utf8"));
  } catch {
    return "malformed request";
  }
  if (typeof x !== "object" || x === null) return "malformed request";
  const r = x as Partial<ServerRequest>;
  if (r.v !== PROTOCOL_VERSION) return "incompatible protocol";
  if (typeof r.build !== "string") return "malformed request";
  if (!Array.isArray(r.argv) || !r.argv.every((a) => typeof a === "string")) return "malformed argv";
  if (typeof r.cwd !== "string" || !r.cwd.startsWith("/")) return "malformed cwd";
  if (typeof r.env !== "object" || r.env === null || Array.isArray(r.env)) return "malformed env";
  if (!Object.values(r.env).every((v) => typeof v === "string")) return "malformed env";
  if (!isStreamInfo(r.stdout) || !isStreamInfo(r.stderr)) return "malformed streams";
  return r as ServerRequest;
}
