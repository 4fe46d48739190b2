// esbuild drops emitDecoratorMetadata: such sources are refused, not bundled differently.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type TestContext, test } from "node:test";
import { isTugError } from "../../src/errors.ts";
import { checkDecoratorMetadata } from "../../src/node/decorator-metadata.ts";
import { tempDir } from "../support/tmp.ts";

const SERVICE = `import { Injectable } from "./di";
/** @param x a JSDoc tag is no decorator */
@Injectable()
export class Service {
  constructor(private readonly repo: Repo) {}
}
`;

async function project(t: TestContext, files: Record<string, string>) {
  const dir = await tempDir(t, "tug-deco-");
  for (const [p, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, p)), { recursive: true });
    await writeFile(join(dir, p), text);
  }
  return dir;
}

const check = (dir: string, inputs: string[]) =>
  checkDecoratorMetadata({ inputs, baseDir: dir, where: "images.api", hint: "compile with tsc" });

test("decorators under emitDecoratorMetadata (set through extends) are refused, naming the file and tsconfig", async (t) => {
  const dir = await project(t, {
    "tsconfig.base.json":
      '{ "compilerOptions": { "experimentalDecorators": true, "emitDecoratorMetadata": true } }',
    // Comments and a trailing comma, as tsconfig files have them.
    "tsconfig.json": '{\n  // the app\n  "extends": "./tsconfig.base.json",\n}\n',
    "src/service.ts": SERVICE,
    "src/plain.ts": "export const x = 1;\n",
  });
  await assert.rejects(check(dir, ["src/plain.ts", "src/service.ts"]), (e: unknown) => {
    assert.ok(isTugError(e));
    const text = e.format();
    assert.match(text, /src\/service\.ts uses decorators and tsconfig\.json sets emitDecoratorMetadata/);
    assert.match(text, /design:paramtypes/);
    assert.match(text, /compile with tsc/);
    return true;
  });
});

test("no refusal without the flag, without decorators, or for packages in node_modules", async (t) => {
  const off = await project(t, {
    "tsconfig.json": '{ "compilerOptions": { "experimentalDecorators": true } }',
    "src/service.ts": SERVICE,
  });
  await check(off, ["src/service.ts"]);
  const on = await project(t, {
    "tsconfig.json": '{ "compilerOptions": { "emitDecoratorMetadata": true } }',
    "src/plain.ts": "/**\n * @deprecated\n */\nexport const at = '@x';\n",
    "node_modules/lib/index.ts": SERVICE,
    "dist/service.js": "// tsc output already carries __metadata calls\n",
  });
  await check(on, ["src/plain.ts", "node_modules/lib/index.ts", "dist/service.js"]);
});
