import { TugError } from "../errors.ts";

const ENV_REF = /\{\{-?\s*\.Env\.([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}/g;

/**
 * `ldflags:` with ko's `{{.Env.NAME}}` expanded from `env` (the shell plus `build_env`). `go build`
 * expands nothing, so any other template and any shell reference (`$VERSION`, `${VERSION}`) would
 * reach the binary literally, where a Dockerfile's `RUN` shell would have expanded it: refused.
 * The expanded text is what is keyed, so a new VERSION builds a new binary.
 */
export function expandLdflags(ldflags: string[], env: NodeJS.ProcessEnv, where?: string): string[] {
  return ldflags.map((flag) => {
    const expanded = flag.replace(ENV_REF, (_, name: string) => {
      const v = env[name];
      if (v === undefined) {
        throw new TugError({
          what: `ldflags: ${name} is not set (from {{.Env.${name}}})`,
          where,
          hint: `set ${name} in the environment of tug build, or in build_env:`,
        });
      }
      return v;
    });
    // Checked on what the user wrote, never on expanded values (a value may hold "$" or "{{").
    const rest = flag.replace(ENV_REF, "");
    if (rest.includes("{{")) {
      throw new TugError({
        what: `ldflags: unsupported template in ${JSON.stringify(flag)}`,
        where,
        hint: "tug expands only {{.Env.NAME}} (from the environment or build_env:)",
      });
    }
    const shell = /\$(\{|[A-Za-z_])/.exec(rest);
    if (shell) {
      throw new TugError({
        what: `ldflags: ${JSON.stringify(flag)} holds a shell variable, which go build would pass literally`,
        where,
        hint: "write it as {{.Env.NAME}}: tug expands it from the environment (or build_env:) and keys the value",
      });
    }
    return expanded;
  });
}
