#!/usr/bin/env bash
# What the dashboard's browser test needs, installed when missing: Debian's
# Chromium (as root, directly or through sudo) and, from npm,
# playwright-core at the version tests/dashboard/package-lock.json pins,
# into DIR/node_modules beside a copy of the test's script.
#   install-browser-deps.sh DIR
set -euo pipefail
dir=${1:?usage: install-browser-deps.sh DIR}
source_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/dashboard"

# The test's own files first, so that a failed install never leaves an
# old copy of its script to run.
mkdir -p "$dir"
cp "$source_dir/package.json" "$source_dir/package-lock.json" "$source_dir/dashboard_check.mjs" \
  "$dir/"

# Node.js only where there is none: a Node.js from elsewhere (nodesource's,
# which brings its own npm) conflicts with Debian's npm package.
packages=()
command -v chromium >/dev/null || packages+=(chromium)
command -v npm >/dev/null || packages+=(nodejs npm)
if [ ${#packages[@]} -gt 0 ]; then
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    # -n: a password prompt would hang whoever runs this unattended.
    command -v sudo >/dev/null || { echo "install-browser-deps: not root, no sudo" >&2; exit 1; }
    as_root=(sudo -n)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi

if ! cmp -s "$source_dir/package-lock.json" "$dir/node_modules/.package-lock.json.installed" ||
  [ ! -d "$dir/node_modules/playwright-core" ]; then
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error --fetch-timeout=30000 \
    --fetch-retries=1)
  cp "$source_dir/package-lock.json" "$dir/node_modules/.package-lock.json.installed"
fi
