// Preloaded into every test process (`--import`): test files that import node:test get
// node-test.mjs instead, which gives each test its own default timeout. Node 20's
// --test-timeout bounds a whole file (a hang cancels the file's remaining tests); Node 24 made it
// per test. This gives the same per-test bound on both.
import { register } from "node:module";

register("./hooks.mjs", import.meta.url);
