// A C extension laid out as auditwheel repair leaves it (a vendored, hash-renamed library found
// through $ORIGIN), compiled here with gcc against the local Python's headers; readelf reads it back.
import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { LocalPython } from "./fixture-index.ts";

const exec = promisify(execFile);

const HELPER_C = "int helper_answer(int x) { return x * 2 + 2; }\n";

const NATIVE_C = `#define PY_SSIZE_T_CLEAN
#include <Python.h>

int helper_answer(int x);

static PyObject *answer(PyObject *self, PyObject *args) {
  int x;
  if (!PyArg_ParseTuple(args, "i", &x)) return NULL;
  return PyLong_FromLong(helper_answer(x));
}

static PyMethodDef methods[] = {{"answer", answer, METH_VARARGS, "from libhelper"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
`;

export const HELPER_LIB = "libhelper-1a2b3c4d.so";

/**
 * What auditwheel repair writes: the library renamed with a hash and its SONAME to match, and the
 * extension NEEDing it by that name with `search` (RUNPATH or RPATH) `$ORIGIN/../mypkg.libs`.
 */
export async function auditwheelBuild(
  dir: string,
  py: LocalPython,
  search: "RUNPATH" | "RPATH",
): Promise<{ ext: string; lib: Buffer; so: Buffer }> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "helper.c"), HELPER_C);
  await writeFile(join(dir, "_native.c"), NATIVE_C);
  const lib = join(dir, HELPER_LIB);
  await exec("gcc", [
    "-shared",
    "-fPIC",
    "-O2",
    `-Wl,-soname,${HELPER_LIB}`,
    join(dir, "helper.c"),
    "-o",
    lib,
  ]);
  const ext = `_native${py.extSuffix}`;
  await exec("gcc", [
    "-shared",
    "-fPIC",
    "-O2",
    `-I${py.include}`,
    join(dir, "_native.c"),
    "-o",
    join(dir, ext),
    `-L${dir}`,
    `-l:${HELPER_LIB}`,
    // patchelf --set-rpath (auditwheel) writes DT_RUNPATH; older repaired wheels carry DT_RPATH
    `-Wl,${search === "RUNPATH" ? "--enable-new-dtags" : "--disable-new-dtags"},-rpath,$ORIGIN/../mypkg.libs`,
  ]);
  return { ext, lib: await readFile(lib), so: await readFile(join(dir, ext)) };
}

export async function readelfDynamic(
  file: string,
): Promise<{ needed: string[]; RUNPATH: string[]; RPATH: string[] }> {
  const { stdout } = await exec("readelf", ["-d", file]);
  const values = (tag: string) =>
    [...stdout.matchAll(new RegExp(`\\(${tag}\\)\\s+.*\\[(.*)\\]`, "g"))].map((m) => m[1] as string);
  return { needed: values("NEEDED"), RUNPATH: values("RUNPATH"), RPATH: values("RPATH") };
}
