import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { runTug } from "../support/cli.ts";
import { tempDir } from "../support/tmp.ts";

const exec = promisify(execFile);

/** What bash's completion offers for `words` (the last one is being typed). */
async function complete(script: string, words: string[]): Promise<string[]> {
  const array = words.map((w) => `'${w}'`).join(" ");
  const { stdout } = await exec("bash", [
    "-c",
    `source "$1"; COMP_WORDS=(${array}); COMP_CWORD=${words.length - 1}; _tug_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
    "bash",
    script,
  ]);
  return stdout.split("\n").filter(Boolean).sort();
}

test("tug completion bash: bash completes subcommands, nested ones, flags and argument choices", async (t) => {
  const r = await runTug(["completion", "bash"]);
  assert.equal(r.code, 0, r.stderr);
  const script = join(await tempDir(t, "tug-completion-"), "tug.bash");
  await writeFile(script, r.stdout);
  assert.deepEqual(await complete(script, ["tug", "bu"]), ["build"]);
  assert.deepEqual(await complete(script, ["tug", "c"]), ["cache", "completion"]);
  assert.deepEqual(await complete(script, ["tug", "cache", "st"]), ["stats"]);
  assert.deepEqual(await complete(script, ["tug", "build", "--pla"]), ["--platform"]);
  // A flag's value is skipped: `-c tug.yaml` does not make tug.yaml a subcommand.
  assert.deepEqual(await complete(script, ["tug", "apply", "-c", "x.yaml", "--dry"]), ["--dry-run"]);
  assert.deepEqual(await complete(script, ["tug", "completion", "z"]), ["zsh"]);
  // Only what the command declares: resolve has no --out, build has no --kubeconfig.
  assert.deepEqual(await complete(script, ["tug", "resolve", "--ou"]), []);
  assert.deepEqual(await complete(script, ["tug", "build", "--kubec"]), []);
});

test("tug completion zsh and fish: scripts the shells' syntax checkers accept, naming every command", async () => {
  const zsh = await runTug(["completion", "zsh"]);
  assert.equal(zsh.code, 0, zsh.stderr);
  assert.match(zsh.stdout, /^#compdef tug$/m);
  // zsh is not installed here; the bash part it sources must parse.
  await exec("bash", ["-n", "-c", zsh.stdout.replace(/^autoload.*$/m, "")]);
  const fish = await runTug(["completion", "fish"]);
  assert.equal(fish.code, 0, fish.stderr);
  for (const c of ["build", "apply", "resolve", "completion", "init"])
    assert.match(fish.stdout, new RegExp(`-a '${c}'`), c);
  assert.match(fish.stdout, /__fish_seen_subcommand_from apply.* -l dry-run .*-x -a 'client server'/);
  const bad = await runTug(["completion", "tcsh"]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /value 'tcsh' is invalid .*Allowed choices are bash, zsh, fish/);
});
