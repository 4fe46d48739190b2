/** An error the user can act on: what went wrong, where, and how to fix it. */
export interface TugErrorFields {
  what: string;
  where?: string;
  hint?: string;
  cause?: unknown;
}

export class TugError extends Error {
  readonly what: string;
  readonly where: string | undefined;
  readonly hint: string | undefined;

  constructor(fields: TugErrorFields) {
    super(fields.what, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = "TugError";
    this.what = fields.what;
    this.where = fields.where;
    this.hint = fields.hint;
  }

  /** The text the CLI prints: what, then where and hint on their own lines. */
  format(): string {
    const lines = [`error: ${this.what}`];
    if (this.where) lines.push(`  where: ${this.where}`);
    if (this.hint) lines.push(`  hint: ${this.hint}`);
    return lines.join("\n");
  }
}

export function isTugError(e: unknown): e is TugError {
  return e instanceof TugError;
}
