// A registry with the OCI 1.1 referrers API, for tests: no registry that has one (zot, distribution
// 3, Harbor) is installed here, and Debian's docker-registry 2.8 has none. This server forwards
// every request to a real docker-registry and implements only the referrers part of
// distribution-spec 1.1 itself: a manifest PUT whose body has a `subject` is answered with an
// `OCI-Subject` header and indexed, and `GET /v2/<name>/referrers/<digest>` lists what was
// indexed for that digest (an empty index when none), with `?artifactType=` filtering.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, request } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";
import type { RecordedRequest } from "./counting-proxy.ts";

interface Referrer {
  mediaType: string;
  digest: string;
  size: number;
  artifactType: string;
  annotations?: Record<string, string>;
}

export interface ReferrersRegistry {
  /** `127.0.0.1:PORT/<path>` */
  repo(path: string): string;
  url: string;
  requests(): RecordedRequest[];
  reset(): void;
}

const readBody = async (req: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

/** Starts the server on a free port in front of `upstream` (`http://127.0.0.1:PORT`); stopped when `t` ends. */
export async function startReferrersRegistry(t: TestContext, upstream: string): Promise<ReferrersRegistry> {
  const target = new URL(upstream);
  const indexed = new Map<string, Referrer[]>();
  let log: RecordedRequest[] = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const entry: RecordedRequest = { method: req.method ?? "GET", path: req.url ?? "/", status: 0 };
    log.push(entry);
    const referrers = /^\/v2\/(.+)\/referrers\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    if (referrers && req.method === "GET") {
      const type = url.searchParams.get("artifactType");
      const all = indexed.get(`${referrers[1]}@${referrers[2]}`) ?? [];
      const manifests = type ? all.filter((r) => r.artifactType === type) : all;
      const body = JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests,
      });
      entry.status = 200;
      res.writeHead(200, {
        "content-type": "application/vnd.oci.image.index.v1+json",
        ...(type ? { "oci-filters-applied": "artifactType" } : {}),
      });
      res.end(body);
      return;
    }
    const manifestPut = req.method === "PUT" ? /^\/v2\/(.+)\/manifests\/[^/]+$/.exec(url.pathname) : null;
    const body = manifestPut ? await readBody(req) : undefined;
    const up = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (upRes) => {
        entry.status = upRes.statusCode ?? 0;
        const headers = { ...upRes.headers };
        if (manifestPut && body && entry.status === 201) {
          const m = JSON.parse(body.toString("utf8")) as {
            mediaType: string;
            artifactType?: string;
            config?: { mediaType: string };
            subject?: { digest: string };
            annotations?: Record<string, string>;
          };
          if (m.subject?.digest) {
            const key = `${manifestPut[1]}@${m.subject.digest}`;
            const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
            const list = (indexed.get(key) ?? []).filter((r) => r.digest !== digest);
            list.push({
              mediaType: m.mediaType,
              digest,
              size: body.length,
              artifactType: m.artifactType ?? m.config?.mediaType ?? "",
              ...(m.annotations ? { annotations: m.annotations } : {}),
            });
            indexed.set(key, list);
            headers["oci-subject"] = m.subject.digest;
          }
        }
        res.writeHead(upRes.statusCode ?? 502, headers);
        upRes.pipe(res);
      },
    );
    up.on("error", (e) => {
      entry.status = 502;
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(String(e));
    });
    if (body) up.end(body);
    else req.pipe(up);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    repo: (p) => `${host}/${p}`,
    url: `http://${host}`,
    requests: () => log.map((r) => ({ ...r })),
    reset: () => {
      log = [];
    },
  };
}
