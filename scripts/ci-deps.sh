#!/usr/bin/env bash
# Installs the Debian packages tug's tests drive for real (registry, skopeo, umoci, podman, go, ...).
# Idempotent: returns at once when every package is already installed. Needs root (CI runs as
# root, with CI=true and no stdin). Podman itself needs no global config here: the test helpers
# pass every setting as flags and a private CONTAINERS_CONF (see test/support/tools.ts).
set -euo pipefail

packages=(
  # registries and OCI tools the e2e tests check tug's output with
  docker-registry skopeo umoci buildah
  # running the built images: podman with runc, its network helpers and init
  podman runc conmon catatonit slirp4netns netavark aardvark-dns containernetworking-plugins
  iptables uidmap fuse-overlayfs
  # base-image contents and builders
  busybox-static golang-go
  # fixtures: htpasswd for registry auth, TLS certificates, parallel gzip, a plain HTTP server
  apache2-utils openssl pigz nginx-light ca-certificates git unzip
  # Python lambdas: invoke runs handlers with python3; the acceptance test compiles a real C
  # extension with gcc against the Python headers (python3-dev) and reads it back with readelf
  python3 python3-dev gcc binutils
  # setuptools' build (the package-data comparison) and a venv with pip (the .pth comparison)
  python3-setuptools python3-venv
  # arm64 under emulation: qemu-aarch64 registered with binfmt_misc (flag F, so containers see it)
  qemu-user-static binfmt-support
)

# tug apply's test drives a real kubectl (pointed at a closed port). Debian's is kubernetes-client;
# a kubectl already on PATH (e.g. Google Cloud SDK's package) owns /usr/bin/kubectl, and
# installing both would make dpkg refuse the overwrite.
if ! command -v kubectl >/dev/null; then packages+=(kubernetes-client); fi

# An arm64 CPython for running arm64 lambda handlers under qemu: Debian's own build of the same
# version as python3, unpacked into a sysroot (python3.X:arm64 cannot be installed beside the
# amd64 one). Tests find it there (test/support/emulation.ts) and run it with QEMU_LD_PREFIX.
arm64_root=/opt/tug-test/arm64-python
# `ci-deps.sh build`: only what README command 1 (building the bundled example) needs.
if [[ ${1:-} == build ]]; then
  packages=(golang-go ca-certificates)
fi
py=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3.11)
arm64_debs=("python$py-minimal" "libpython$py-minimal" "libpython$py-stdlib" libc6 zlib1g libexpat1)

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
need_arm64_root=false
[[ ${1:-} == build || -x $arm64_root/usr/bin/python$py ]] || need_arm64_root=true

if ((${#missing[@]} == 0)) && ! $need_arm64_root; then
  echo "ci-deps: all ${#packages[@]} packages present$([[ ${1:-} == build ]] || echo ", and the arm64 python$py sysroot")"
  exit 0
fi

if [[ $(id -u) != 0 ]]; then
  # A sudo user (README commands): the same script again as root; a fresh Debian root has no sudo.
  if command -v sudo >/dev/null; then exec sudo -E bash "$0" "$@"; fi
  wanted="${missing[*]}"
  if $need_arm64_root; then wanted+=" (and the arm64 python$py sysroot $arm64_root)"; fi
  echo "ci-deps: missing ${wanted}; run as root (or install sudo) to install them" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# Packages such as nginx-light start their service on install; in a container or CI job that
# would occupy port 80 and outlive the install. policy-rc.d 101 tells invoke-rc.d "do not start".
policy=/usr/sbin/policy-rc.d
own_policy=false
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  own_policy=true
fi
work=""
cleanup() {
  if $own_policy; then rm -f "$policy"; fi
  if [[ -n $work ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT

if ((${#missing[@]} > 0)); then
  echo "ci-deps: installing ${missing[*]}"
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
  # The packages register their binfmt entries on install; an existing install may have them off.
  if [[ ${1:-} != build ]]; then update-binfmts --enable qemu-aarch64 || echo "ci-deps: update-binfmts --enable qemu-aarch64 failed (binfmt_misc not mounted?)" >&2; fi
fi

# python3 may have come with this install: the sysroot must be its version.
py=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo "$py")
arm64_debs=("python$py-minimal" "libpython$py-minimal" "libpython$py-stdlib" libc6 zlib1g libexpat1)
[[ ${1:-} == build || -x $arm64_root/usr/bin/python$py ]] || need_arm64_root=true

if $need_arm64_root; then
  echo "ci-deps: unpacking Debian's arm64 python$py into $arm64_root"
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
  fi
  apt-get update -qq </dev/null
  work=$(mktemp -d)
  chown _apt "$work" 2>/dev/null || true # apt-get download drops to _apt when it can write there
  (cd "$work" && apt-get download -qq "${arm64_debs[@]/%/:arm64}" </dev/null)
  rm -rf "$arm64_root.tmp"
  mkdir -p "$arm64_root.tmp"
  for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$arm64_root.tmp"; done
  rm -rf "$arm64_root"
  mv "$arm64_root.tmp" "$arm64_root"
fi

echo "ci-deps: done"
