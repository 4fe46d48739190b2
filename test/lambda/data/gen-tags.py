"""Reference PEP 425 tag lists for the AWS Lambda Python runtimes.

Run from the repo root:  python3 test/lambda/data/gen-tags.py
Writes tags-<runtime>-<arch>.txt next to this file, one tag per line, in priority order.

Uses pip's vendored `packaging` (cpython_tags + compatible_tags, as pip's own
get_supported() does, which also yields cp3Y-none-any). The platform list is
computed the way packaging's _manylinux.platform_tags does for the runtime's
glibc ceiling (instead of reading the host's glibc), then linux_ARCH; musllinux
is left out because Lambda is glibc-only.
"""

from pathlib import Path

from pip._vendor.packaging import tags

# PEP 513/571/599 legacy names, as in packaging._manylinux._LEGACY_MANYLINUX_MAP.
LEGACY = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}

RUNTIMES = {
    "python3.9": (9, (2, 26)),
    "python3.10": (10, (2, 26)),
    "python3.11": (11, (2, 26)),
    "python3.12": (12, (2, 34)),
    "python3.13": (13, (2, 34)),
    "python3.14": (14, (2, 34)),
}
ARCHES = {"x86_64": "x86_64", "arm64": "aarch64"}


def manylinux_platforms(glibc, machine):
    # packaging._manylinux.platform_tags: the oldest glibc is 2.17 everywhere,
    # except x86_64/i686 which go down to 2.5. Glibc major stays 2 here.
    too_old_minor = 4 if machine in ("x86_64", "i686") else 16
    out = []
    for minor in range(glibc[1], too_old_minor, -1):
        out.append(f"manylinux_2_{minor}_{machine}")
        if (2, minor) in LEGACY:
            out.append(f"{LEGACY[(2, minor)]}_{machine}")
    return out


def main():
    here = Path(__file__).parent
    for runtime, (minor, glibc) in RUNTIMES.items():
        for arch, machine in ARCHES.items():
            plats = manylinux_platforms(glibc, machine) + [f"linux_{machine}"]
            version = (3, minor)
            interp = f"cp3{minor}"
            result = list(tags.cpython_tags(python_version=version, abis=[interp], platforms=plats))
            result += list(tags.compatible_tags(python_version=version, interpreter=interp, platforms=plats))
            (here / f"tags-{runtime}-{arch}.txt").write_text("".join(f"{t}\n" for t in result))


if __name__ == "__main__":
    main()
