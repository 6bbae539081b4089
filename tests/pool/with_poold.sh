#!/usr/bin/env bash
# Runs a command against a fresh poold on loopback:
#   with_poold.sh POOLD [POOLD_ARGS...] -- COMMAND [ARGS...]
# poold listens on a free port of 127.0.0.1; the command sees it as
# ACCEL_POOL. poold is stopped with SIGTERM afterwards and must exit cleanly.
set -uo pipefail
poold=$1
shift
poold_args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do poold_args+=("$1"); shift; done
shift  # --

log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$poold" --listen 127.0.0.1:0 "${poold_args[@]}" >"$log" 2>&1 &
pid=$!
address=""
for _ in $(seq 1 100); do  # at most 10 s
  address=$(sed -n 's/^poold listening on \([^,]*\),.*/\1/p' "$log")
  [ -n "$address" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$address" ]; then
  echo "with_poold: poold did not start:" >&2
  cat "$log" >&2
  kill -9 "$pid" 2>/dev/null
  exit 1
fi

ACCEL_POOL=$address "$@"
rc=$?

kill -TERM "$pid"
poold_rc=0
wait "$pid" || poold_rc=$?
if [ "$poold_rc" -ne 0 ]; then
  echo "with_poold: poold exited with $poold_rc:" >&2
  cat "$log" >&2
  [ "$rc" -eq 0 ] && rc=$poold_rc
fi
exit "$rc"
