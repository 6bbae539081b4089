#!/usr/bin/env bash
# The web dashboard in a real browser: a pool of two nodes (a coordinator
# serving two host devices, and a node-mode poold serving one), three
# leases of a tenant, one of them held by a client whose holder text is
# HTML; then dashboard_check.mjs drives Debian's Chromium through
# playwright-core: sign-in, the rows, escaping, a release seen live, and a
# screenshot.
#   dashboard_browser_test.sh POOLD POOLCTL LEASE_HOLDER BROWSER_DIR ARTIFACT_DIR
# BROWSER_DIR holds dashboard_check.mjs and node_modules/playwright-core
# (scripts/install-browser-deps.sh). Exits 77 (skipped) only when Chromium
# or playwright-core is not installed and cannot be.
set -uo pipefail
poold=$1 poolctl=$2 lease_holder=$3 browser_dir=$4 artifacts=$5

chromium=${CHROMIUM:-/usr/bin/chromium}
# Installs what is missing (scripts/test.sh did already, unless ctest runs
# alone), and copies this test's script there afresh; bounded, so that an
# unreachable registry is a skip, not a hang.
timeout 180 "$(dirname "$0")/../../scripts/install-browser-deps.sh" "$browser_dir" ||
  echo "dashboard_browser_test: installing Chromium and playwright-core failed"
if [ ! -x "$chromium" ]; then
  echo "SKIPPED: no Chromium at $chromium, and Debian's chromium package could not be installed"
  exit 77
fi
if [ ! -d "$browser_dir/node_modules/playwright-core" ]; then
  echo "SKIPPED: playwright-core is not installed in $browser_dir and npm could not install it"
  exit 77
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "dashboard_browser_test: $*" >&2
  for log in "$work"/*.log; do echo "--- $log" >&2; tail -n 20 "$log" >&2; done
  exit 1
}

# Secrets, each a line of 32 hex digits.
secret() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
secret >"$work/operator_token"
secret >"$work/join_token"
tenant_token=$(secret)
printf 'tenant risk priority=1 devices=3 memory=1GiB leases=8 token_sha256=%s\n' \
  "$(printf %s "$tenant_token" | sha256sum | cut -d' ' -f1)" >"$work/tenants"

# The first line of LOG matching SED's pattern, within 10 s.
wait_line() {
  local log=$1 pattern=$2 pid=$3 found
  for _ in $(seq 1 100); do
    found=$(sed -n "$pattern" "$log" | head -n 1)
    [ -n "$found" ] && { echo "$found"; return 0; }
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

"$poold" --listen 127.0.0.1:0 --admin_socket none --node_name alpha --host_devices 2 \
  --host_device_memory 256MiB --http_listen 127.0.0.1:0 --dashboard_sample_seconds 1 \
  --operator_token_file "$work/operator_token" --join_token_file "$work/join_token" \
  --tenants "$work/tenants" >"$work/alpha.log" 2>&1 &
pids+=($!)
pool=$(wait_line "$work/alpha.log" 's/^poold listening on \([^,]*\),.*/\1/p' $!) ||
  fail "the coordinator did not start"
dashboard=$(sed -n 's/^poold dashboard on //p' "$work/alpha.log")
[ -n "$dashboard" ] || fail "the coordinator printed no dashboard address"

"$poold" --listen 127.0.0.1:0 --admin_socket none --node_name beta --host_devices 1 \
  --host_device_memory 256MiB --coordinator "$pool" --join_token_file "$work/join_token" \
  >"$work/beta.log" 2>&1 &
pids+=($!)
wait_line "$work/beta.log" 's/^\(poold listening on .*\)/\1/p' $! >/dev/null ||
  fail "the node did not start"
export ACCEL_POOL_TOKEN
ACCEL_POOL_TOKEN=$(cat "$work/operator_token")
for _ in $(seq 1 50); do  # at most 5 s for beta to register
  "$poolctl" --pool "$pool" --admin_socket none nodes 2>/dev/null | grep -q '^beta ' && break
  sleep 0.1
done
"$poolctl" --pool "$pool" --admin_socket none nodes | grep -q '^beta ' ||
  fail "node beta did not join"

# Three whole devices: binpack fills alpha's two, then beta's.
hostile='<img src=x onerror="window.__pwned=1">&amp; "quoted"'
leases=()
holder_pids=()
for holder in "risk batch 1" "$hostile" "risk batch 3"; do
  ACCEL_POOL_TOKEN=$tenant_token "$lease_holder" "$pool" 30 1048576 "$holder" \
    >"$work/holder${#leases[@]}.log" 2>&1 &
  pids+=($!)
  holder_pids+=($!)
  lease=$(wait_line "$work/holder${#leases[@]}.log" 's/^ready \(.*\)/\1/p' $!) ||
    fail "client ${#leases[@]} got no lease"
  leases+=("$lease")
done

mkdir -p "$artifacts"
DASHBOARD_URL=$dashboard \
  OPERATOR_TOKEN=$(cat "$work/operator_token") \
  EXPECT_NODES=alpha,beta \
  EXPECT_LEASES=$(IFS=,; echo "${leases[*]}") \
  RELEASE_LEASE=${leases[0]} \
  RELEASE_COMMAND="kill ${holder_pids[0]}" \
  HOSTILE_HOLDER=$hostile \
  SCREENSHOT=$artifacts/dashboard.png \
  CHROMIUM=$chromium \
  timeout 90 node "$browser_dir/dashboard_check.mjs" || fail "the browser check failed"
echo "dashboard_browser_test: screenshot in $artifacts/dashboard.png"
