#!/usr/bin/env node
// Node ≥ 22.1 can keep V8's compiled code between runs; start-up is most of a no-op build.
import module from "node:module";

module.enableCompileCache?.();
await import("../dist/cli.js");
