// Python service edit → pushed: tug's `builder: python` against `buildah bud --layers` on the
// Dockerfile people write (COPY requirements.txt, RUN pip install, COPY . .), then a push.
// Run: node --import tsx bench/python-service.ts (after `node scripts/build.mjs`). Needs the
// machine's local wheel mirror (`pip config list`), so it is not part of `npm test`.
//
// Same work on both sides: the host's CPython as the base (makePythonBase, pushed to a loopback
// registry), the same requirements resolved from the same mirror, one app layer on top. buildah
// gets its best case: the base in its store, a warm layer cache, pip run from the host's own pip
// (mounted) against the mirror (mounted read-only), no download cache between runs (a RUN layer
// is rebuilt whole when its input changes, as in CI).
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { makePythonBase } from "../test/support/bases.ts";
import { startTugServer } from "../test/support/cli.ts";
import { stopProcess } from "../test/support/process.ts";
import { budArgs, buildahStore, pushArgs } from "./support/buildah.ts";
import { fmtMs, fmtSpread, loadNote, printTable, progress, spread, timed } from "./support/measure.ts";
import { mirrorProblem, pipConfigIndexUrls } from "./support/pip-mirror.ts";
import { manifestDigest, startBenchRegistry } from "./support/registry.ts";
import { benchDir } from "./support/work-dir.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TUG = join(ROOT, "bin", "tug.js");
const RUNS = Number(process.env.RUNS ?? 4);
const WARMUP = 1;
// A small web service's dependencies: a framework, an HTTP client, validation with a compiled core.
const REQUIREMENTS = ["flask==3.*", "requests", "pydantic>=2", "pyyaml"];
// Each requirements change adds a package not seen before, so neither side has that exact set
// cached: tug reuses the wheels it has and fetches one; pip's RUN layer installs everything again.
const EXTRA = [
  "six",
  "attrs",
  "orjson",
  "packaging",
  "toml",
  "colorama",
  "wrapt",
  "cachetools",
  "pytz",
  "tomli",
];

const APP = (n: number) => `import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import flask, pydantic, requests, yaml

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"edit ${n}\\n"
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
`;

async function main(): Promise<void> {
  const urls = pipConfigIndexUrls();
  const problem = mirrorProblem(urls, ["flask", "requests", "pydantic", "pyyaml", ...EXTRA]);
  if (WARMUP + RUNS > EXTRA.length / 2) throw new Error(`at most ${EXTRA.length / 2 - WARMUP} runs`);
  if (problem) throw new Error(`this bench needs the local wheel mirror: ${problem}`);
  const work = benchDir("tug-bench-pysvc-");
  const registry = await startBenchRegistry(join(work, "registry"));
  const buildah = buildahStore(join(work, "buildah"));
  const t0 = performance.now();
  try {
    const base = await makePythonBase();
    const baseRef = `${registry.host}/base/python:host`;
    timed("skopeo", ["copy", "--quiet", "--dest-tls-verify=false", base.ref, `docker://${baseRef}`]);

    const repo = join(work, "repo");
    mkdirSync(join(repo, "svc"), { recursive: true });
    let edits = 0;
    const edit = () => writeFileSync(join(repo, "svc", "app.py"), APP(++edits));
    let reqs = REQUIREMENTS;
    const writeReqs = () => writeFileSync(join(repo, "requirements.txt"), `${reqs.join("\n")}\n`);
    edit();
    writeReqs();
    writeFileSync(
      join(repo, "tug.yaml"),
      stringify({
        images: {
          svc: {
            builder: "python",
            context: ".",
            base: baseRef,
            module: "svc.app",
            index_url: urls[0],
            extra_index_urls: urls.slice(1),
            ports: [8080],
          },
        },
      }),
    );
    const env = { ...process.env, TUG_CACHE: join(work, "tug-cache") };
    const tugArgs = [TUG, "build", "svc", "--repo", `${registry.host}/tug`, "-q", "--sbom", "none"];
    let last = "";
    const pushedNew = async (repoPath: string) => {
      const d = await manifestDigest(registry, repoPath, "latest");
      if (d === last) throw new Error(`${repoPath}: the registry still serves ${d} after a change`);
      last = d;
    };
    const tugBuild = () => timed(process.execPath, tugArgs, { cwd: repo, env }).ms;

    progress("tug: cold build (wheels downloaded from the mirror), then edits and requirements changes");
    const tugCold = tugBuild();
    await pushedNew("tug/svc");
    // Edits, then requirements changes each adding the package `extra(i)` tug has not seen.
    const measure = async (extra: (i: number) => string) => {
      const edits: number[] = [];
      const changes: number[] = [];
      for (const [out, change] of [
        [edits, () => edit()],
        [
          changes,
          (i: number) => {
            reqs = [...REQUIREMENTS, extra(i)];
            writeReqs();
          },
        ],
      ] as const) {
        for (let i = 0; i < WARMUP + RUNS; i++) {
          change(i);
          const ms = tugBuild();
          await pushedNew("tug/svc");
          if (i >= WARMUP) out.push(ms);
        }
      }
      return { edits, changes };
    };
    const oneShot = await measure((i) => EXTRA[i]!);

    progress("tug: the same changes through a warm `tug server` (the one-shot command hands its work over)");
    // New packages for tug: the sets buildah gets below, which tug's runs above never saw.
    const server = await startTugServer({ cwd: repo, env });
    const served = await measure((i) => EXTRA[EXTRA.length - 1 - i]!).finally(() =>
      stopProcess(server.child),
    );

    progress("buildah: the same changes with bud --layers + push");
    const pipDir = dirname(
      timed("python3", ["-c", "import pip, os; print(os.path.dirname(pip.__file__))"]).stdout.trim(),
    );
    const hostPip = join(work, "host-pip");
    cpSync(join(pipDir, "pip"), join(hostPip, "pip"), { recursive: true });
    // The index pages link to ../files/…: mount each index's parent directory.
    const mirrorDirs = urls.filter((u) => u.startsWith("file:")).map((u) => dirname(fileURLToPath(u)));
    writeFileSync(
      join(repo, "Dockerfile"),
      [
        `FROM ${baseRef}`,
        "WORKDIR /app",
        "COPY requirements.txt /app/requirements.txt",
        // Exec form: the base has no /bin/sh. pip is the host's, mounted; wheels from the mirror.
        `RUN ["python3", "-m", "pip", "install", "--quiet", "--no-cache-dir", "--disable-pip-version-check", "--target", "/app/site-packages", "--index-url", "${urls[0]}", ${urls
          .slice(1)
          .map((u) => `"--extra-index-url", "${u}"`)
          .join(", ")}${urls.length > 1 ? ", " : ""}"-r", "/app/requirements.txt"]`,
        "COPY svc /app/svc",
        "ENV PYTHONPATH=/app/site-packages:/app PYTHONUNBUFFERED=1",
        'ENTRYPOINT ["python3", "-m", "svc.app"]',
        "",
      ].join("\n"),
    );
    writeFileSync(join(repo, ".dockerignore"), "tug.yaml\n.tug\nDockerfile\n");
    buildah.run(["pull", "--quiet", "--tls-verify=false", `docker://${baseRef}`]);
    const volumes = [`${hostPip}:/pip:ro`, ...mirrorDirs.map((d) => `${d}:${d}:ro`)].flatMap((v) => [
      "-v",
      v,
    ]);
    const bud = () =>
      buildah.run(
        budArgs({
          tag: "localhost/bench/svc:latest",
          context: repo,
          extra: ["--env", "PYTHONPATH=/pip", ...volumes],
        }),
      ).ms;
    const push = () =>
      buildah.run(pushArgs("localhost/bench/svc:latest", `docker://${registry.host}/buildah/svc:latest`)).ms;
    last = "";
    reqs = REQUIREMENTS;
    writeReqs();
    const bhCold = bud() + push();
    await pushedNew("buildah/svc");
    const bhEdit: number[] = [];
    const bhReqs: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      edit();
      const ms = bud() + push();
      await pushedNew("buildah/svc");
      if (i >= WARMUP) bhEdit.push(ms);
    }
    for (let i = 0; i < WARMUP + RUNS; i++) {
      // Other packages than tug's runs: buildah's layer cache has not seen these sets either.
      reqs = [...REQUIREMENTS, EXTRA[EXTRA.length - 1 - i]!];
      writeReqs();
      const ms = bud() + push();
      await pushedNew("buildah/svc");
      if (i >= WARMUP) bhReqs.push(ms);
    }

    const [te, tr, be, br] = [spread(oneShot.edits), spread(oneShot.changes), spread(bhEdit), spread(bhReqs)];
    const [se, sr] = [spread(served.edits), spread(served.changes)];
    console.log(`\npython service → new digest pushed to ${registry.host} (${RUNS} runs each, medians)\n`);
    printTable([
      ["change", "tug build --repo", "buildah bud --layers + push", "buildah / tug"],
      ["cold (empty caches)", fmtMs(tugCold), fmtMs(bhCold), `${(bhCold / tugCold).toFixed(1)}×`],
      ["edit app.py", fmtSpread(te), fmtSpread(be), `${(be.median / te.median).toFixed(1)}×`],
      ["requirements change", fmtSpread(tr), fmtSpread(br), `${(br.median / tr.median).toFixed(1)}×`],
      [
        "edit app.py, warm `tug server`",
        fmtSpread(se),
        fmtSpread(be),
        `${(be.median / se.median).toFixed(1)}×`,
      ],
      [
        "requirements change, warm `tug server`",
        fmtSpread(sr),
        fmtSpread(br),
        `${(br.median / sr.median).toFixed(1)}×`,
      ],
    ]);
    const verdict = (ratio: number, want: number) =>
      `${ratio.toFixed(1)}× ${ratio >= want ? "met" : "MISSED"}`;
    console.log(
      `\ntargets, one-shot: edit ≥ 5× ${verdict(be.median / te.median, 5)}; requirements ≥ 10× ${verdict(br.median / tr.median, 10)}`,
    );
    console.log(
      `targets, warm server: edit ≥ 5× ${verdict(be.median / se.median, 5)}; requirements ≥ 10× ${verdict(br.median / sr.median, 10)}`,
    );
    console.log(`requirements: ${REQUIREMENTS.join(" ")}, + one new package per change (${EXTRA.join(" ")})`);
    console.log(`${loadNote()}; total ${fmtMs(performance.now() - t0)}`);
  } finally {
    buildah.reset();
    await registry.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
