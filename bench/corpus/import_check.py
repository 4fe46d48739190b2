"""Imports every top-level module of every distribution unpacked in DIR, with only DIR (and the
standard library) on sys.path. Run as `python3.X -I -S import_check.py DIR`; prints JSON
{dist: {module: null | "error"}}.

A distribution's modules come from its RECORD, not top_level.txt (hatchling, flit and maturin do
not write one): for each file, the shortest dotted prefix that is a regular package (has an
__init__.py) or the module file itself. A PEP 420 namespace directory (google/, zope/) is walked
through, so google-api-core yields google.api_core, not google.
"""

import csv
import importlib
import json
import os
import sys
import traceback

root = sys.argv[1]
sys.path.insert(0, root)
SUFFIXES = (".py", ".so", ".pyd")


def module_of(path, files):
    parts = path.split("/")
    if parts[0].endswith((".dist-info", ".data", ".libs")) or parts[0] in ("..", "bin", "__pycache__"):
        return None
    for depth in range(1, len(parts)):
        if "/".join(parts[:depth] + ["__init__.py"]) in files:
            return ".".join(parts[:depth])
    leaf = parts[-1]
    if not leaf.endswith(SUFFIXES) or "__pycache__" in parts:
        return None
    stem = leaf.split(".")[0]
    return ".".join(parts[:-1] + [stem])


def present(top):
    """Whether anything in the zip could be the top-level module `top`."""
    return any(e == top or e.startswith(top + ".") for e in os.listdir(root))


result = {}
for entry in sorted(os.listdir(root)):
    if not entry.endswith(".dist-info"):
        continue
    record = os.path.join(root, entry, "RECORD")
    if not os.path.exists(record):
        result[entry] = {"<RECORD>": "missing"}
        continue
    with open(record, newline="") as f:
        files = {row[0] for row in csv.reader(f) if row}
    modules = sorted({m for m in (module_of(p, files) for p in files) if m and all(s.isidentifier() for s in m.split("."))})
    outcome = {}
    for m in modules:
        try:
            importlib.import_module(m)
            outcome[m] = None
        except BaseException as e:  # noqa: BLE001 - SystemExit from a module is a failure too
            outcome[m] = f"{type(e).__name__}: {e}"[:300]
            missing = (getattr(e, "name", None) or "").split(".")[0]
            if isinstance(e, ModuleNotFoundError) and missing and not present(missing):
                # A module of an optional dependency (an extra nobody asked for): the same
                # wheels installed by pip fail the same way, so it says nothing about the zip.
                outcome[m] = "optional: " + outcome[m]
            if os.environ.get("CORPUS_TRACE"):
                traceback.print_exc()
    result[entry] = outcome
print(json.dumps(result))
