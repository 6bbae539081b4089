#!/usr/bin/env bash
# The main job: install what is missing, build everything, start a pool on
# this host, lease a device from it, run saxpy and sgemm remotely, show the
# lease with poolctl while it is live, and stop everything cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
bin=build/bin

echo
echo "== accel-info: backends and devices on this host =="
$bin/accel-info

port=${ACCEL_DEMO_PORT:-7070}
log=$(mktemp)
demo_out=$(mktemp)
poold_pid=""
cleanup() {
  [ -n "$poold_pid" ] && kill "$poold_pid" 2>/dev/null && wait "$poold_pid" 2>/dev/null
  rm -f "$log" "$demo_out"
}
trap cleanup EXIT

echo
echo "== poold: a pool on 127.0.0.1:$port with this host's devices =="
# Host kernels are native code run inside poold: allowed here because the
# only client is this demo.
$bin/poold --listen "127.0.0.1:$port" --allow_host_kernels >"$log" 2>&1 &
poold_pid=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$log" && break
  kill -0 "$poold_pid" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
cat "$log"

echo
echo "== a client leases a device and runs saxpy and sgemm on it =="
$bin/accel-pool-demo --pool "127.0.0.1:$port" --hold 2 | tee "$demo_out" &
demo_pid=$!
for _ in $(seq 1 300); do
  grep -q "holding the lease" "$demo_out" && break
  kill -0 "$demo_pid" 2>/dev/null || break
  sleep 0.1
done
echo
echo "== poolctl leases (while the lease is live) =="
$bin/poolctl --pool "127.0.0.1:$port" leases
wait "$demo_pid"

echo
echo "== poolctl devices (after release) =="
$bin/poolctl --pool "127.0.0.1:$port" devices
kill -TERM "$poold_pid"
wait "$poold_pid"
poold_pid=""
echo
echo "pool demo finished: poold stopped cleanly"
