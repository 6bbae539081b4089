#!/usr/bin/env bash
# Installs the Debian 12 packages accelpool builds with, if any are missing.
# Runs apt-get as root (directly, or through sudo when not root).
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache pkg-config
  libabsl-dev            # Status/StatusOr, strings, synchronization
  libgtest-dev libgmock-dev
  libbenchmark-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler  # the pool's protocol
  libssl-dev openssl     # SHA-256 digests, lease tokens, TLS; the CA of scripts/make-ca.sh
  prometheus-cpp-dev     # poold's metrics endpoint
  libcivetweb-dev        # poold's web dashboard (--http_listen)
  libsqlite3-dev         # the coordinator's state (--state)
  libseccomp-dev         # the session worker's sandbox for host kernels
  libcli11-dev           # poolctl's command line: per-verb help, completion
  # The highly available control plane (--state etcd://): etcd itself, and
  # its v3 API's .proto files with those they import, for the client gRPC
  # generates at build time.
  etcd-server golang-etcd-server-dev golang-github-gogo-protobuf-dev
  golang-github-grpc-ecosystem-grpc-gateway-dev
  # Vendor backends: headers only; drivers are dlopened when present.
  libamdhip64-dev libze-dev libze1
  # Kernel compilers: hsaco (clang-15 + lld) and SPIR-V (llvm-spirv-15, spirv-tools to validate).
  clang-15 lld llvm-spirv-15 spirv-tools
  # The fuzz targets (scripts/fuzz.sh): clang's libFuzzer and sanitizer runtimes.
  libclang-common-15-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "accelpool: installing missing packages: ${missing[*]}"
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    as_root=(sudo)
  else
    echo "accelpool: missing packages (${missing[*]}) and not root; run as root or install them" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
