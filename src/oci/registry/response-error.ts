import { MAX_ERROR_BODY_BYTES } from "../size-limits.ts";
import type { Operation } from "./client.ts";
import { RegistryError } from "./errors.ts";
import type { HttpResponse } from "./transport.ts";

interface ErrorBody {
  errors?: Array<{ code?: string; message?: string }>;
}

async function readErrorBody(res: HttpResponse): Promise<{ code?: string; message?: string }> {
  try {
    // Bounded: a hostile registry's endless error body must not be read to its end.
    const text = await res.body.text({ maxBytes: MAX_ERROR_BODY_BYTES, what: "error body", where: "" });
    const first = (JSON.parse(text) as ErrorBody).errors?.[0];
    return {
      code: typeof first?.code === "string" ? first.code.slice(0, 100) : undefined,
      message: typeof first?.message === "string" ? first.message.slice(0, 300) : undefined,
    };
  } catch {
    return {};
  }
}

function retryAfterSeconds(res: HttpResponse): number | undefined {
  const v = Number(res.headers["retry-after"]);
  return Number.isFinite(v) && v >= 0 ? v : undefined;
}

/** Maps an unexpected status to an error that says what failed and what to do about it. */
export async function responseError(
  res: HttpResponse,
  ctx: { op: Operation; hasCredentials: boolean },
): Promise<RegistryError> {
  const { op } = ctx;
  const status = res.statusCode;
  const { code, message } = await readErrorBody(res);
  const where = `${op.repo.registry}/${op.repo.repository}`;
  const detail = [code, message].filter(Boolean).join(": ");
  const base = { where, status, code };
  if (status === 401) {
    return new RegistryError({
      ...base,
      what: ctx.hasCredentials
        ? `registry ${op.repo.registry} rejected the stored credentials (${op.operation})`
        : `registry ${op.repo.registry} requires authentication (${op.operation})`,
      hint: `run \`podman login ${op.repo.registry}\` or \`docker login ${op.repo.registry}\` (tug reads $REGISTRY_AUTH_FILE, containers/auth.json, then ~/.docker/config.json)`,
    });
  }
  if (status === 403) {
    return new RegistryError({
      ...base,
      what: `access denied by registry ${op.repo.registry} (${op.operation})`,
      hint: op.push
        ? `check that your account may push to ${op.repo.repository}`
        : `check that your account may pull ${op.repo.repository}`,
    });
  }
  if (status === 404 && /manifest/.test(op.operation) && !op.push) {
    return new RegistryError({
      ...base,
      what: `image ${op.repo.registry}/${op.repo.repository} not found (${op.operation})`,
      hint: "check the repository name and the tag or digest; private images also need `podman login` or `docker login`",
    });
  }
  if (status === 400 && code === "DIGEST_INVALID") {
    return new RegistryError({
      ...base,
      what: `registry ${op.repo.registry} computed a different digest for the uploaded bytes (${op.operation})`,
      hint: "the layer's bytes changed after its digest was recorded; clear the tug cache and rebuild",
    });
  }
  const retryable = status >= 500 || status === 429 || status === 408;
  return new RegistryError({
    ...base,
    what: `registry ${op.repo.registry} answered ${status}${detail ? ` (${detail})` : ""} to ${op.operation}`,
    hint: retryable ? "the registry is overloaded or failing; try again later" : undefined,
    retryable,
    retryAfter: retryAfterSeconds(res),
  });
}
