#!/usr/bin/env bash
# Runs a command beside a local etcd cluster of its own: MEMBERS members on
# free loopback ports, data in a temporary directory, all gone afterwards.
# The command sees the cluster as ACCEL_ETCD=etcd://HOST:PORT,... (for
# coordinator-bench, or poold --state "$ACCEL_ETCD/prefix"). Without etcd
# installed (scripts/install-deps.sh installs etcd-server) the command runs
# without ACCEL_ETCD, and this says so.
#
#   scripts/local-etcd.sh 3 build/bin/coordinator-bench
set -euo pipefail

members=${1:?usage: local-etcd.sh MEMBERS COMMAND [ARGS...]}
shift
if ! command -v etcd >/dev/null; then
  echo "local-etcd: etcd is not installed; running without it" >&2
  exec "$@"
fi

dir=$(mktemp -d /tmp/local-etcd-XXXXXX)
pids=()
cleanup() {
  {
    for pid in "${pids[@]}"; do kill -9 "$pid" || true; done
    wait || true
  } 2>/dev/null  # bash's "Killed" notices
  rm -rf "$dir"
}
trap cleanup EXIT

# Free ports below the ephemeral range: listening sockets there are not
# taken from under us by outgoing connections.
used=$(ss -Htan | awk '{print $4}' | sed 's/.*://' | sort -u)
ports=()
for ((p = 20000 + RANDOM % 8000; ${#ports[@]} < 2 * members; p++)); do
  grep -qx "$p" <<<"$used" || ports+=("$p")
done

cluster=()
for ((m = 0; m < members; m++)); do
  cluster+=("m$m=http://127.0.0.1:${ports[$((2 * m + 1))]}")
done
initial=$(IFS=,; echo "${cluster[*]}")
endpoints=()
for ((m = 0; m < members; m++)); do
  client="http://127.0.0.1:${ports[$((2 * m))]}"
  peer="http://127.0.0.1:${ports[$((2 * m + 1))]}"
  etcd --name "m$m" --data-dir "$dir/m$m" --listen-client-urls "$client" \
    --advertise-client-urls "$client" --listen-peer-urls "$peer" \
    --initial-advertise-peer-urls "$peer" --initial-cluster "$initial" \
    --initial-cluster-state new --initial-cluster-token local-etcd \
    >"$dir/m$m.log" 2>&1 &
  pids+=($!)
  endpoints+=("127.0.0.1:${ports[$((2 * m))]}")
done

# GET /health with bash alone (no curl on a minimal machine).
healthy() {
  local host=${1%:*} port=${1##*:} answer
  { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || return 1
  printf 'GET /health HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" >&3
  answer=$(timeout 2 cat <&3 || true)
  exec 3<&-
  grep -q '"health":"true"' <<<"$answer"
}

# Ready when every member says it is healthy (at most 30 s).
for ((m = 0; m < members; m++)); do
  for ((i = 0; ; i++)); do
    if healthy "${endpoints[$m]}"; then break; fi
    if ((i >= 300)); then
      echo "local-etcd: member m$m did not become healthy:" >&2
      tail -20 "$dir/m$m.log" >&2
      exit 1
    fi
    sleep 0.1
  done
done

ACCEL_ETCD="etcd://$(IFS=,; echo "${endpoints[*]}")" "$@"
