#!/usr/bin/env bash
# The systemd units in packaging/systemd/:
#   systemd_units_test.sh POOLD
# installs them (@ACCEL_POOLD@ -> POOLD) into a temporary directory, checks
# them with `systemd-analyze verify` (any warning about them fails), checks
# that their hardening is still there, and that the example flagfiles and
# the sysusers file parse. Exits 77 (skipped) without systemd-analyze.
set -uo pipefail
poold=${1:?usage: systemd_units_test.sh POOLD}
here=$(cd "$(dirname "$0")" && pwd)
src=$here/../../packaging/systemd
units=(accelpool-coordinator.service accelpool-node.service)

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "systemd_units_test: SKIPPED: systemd-analyze is not installed (apt install systemd)"
  exit 77
fi
[ -x "$poold" ] || { echo "systemd_units_test: $poold is not an executable" >&2; exit 1; }
poold=$(cd "$(dirname "$poold")" && pwd)/$(basename "$poold")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "systemd_units_test: FAIL: $*" >&2; failures=$((failures + 1)); }

# --- Install as CMake's configure_file(@ONLY) does ----------------------------
for unit in "${units[@]}"; do
  sed "s|@ACCEL_POOLD@|$poold|g" "$src/$unit" >"$work/$unit"
  if grep -n '@[A-Z_]*@' "$work/$unit"; then fail "$unit: a placeholder is left"; fi
done

# --- systemd-analyze verify ----------------------------------------------------
# It exits 0 on warnings unless asked (--recursive-errors, systemd 250+);
# 'no' leaves out warnings about the host's other units. Either way, any line
# it prints about our units fails.
verify_args=(--man=no)
if systemd-analyze --help 2>&1 | grep -q -- '--recursive-errors'; then
  verify_args+=(--recursive-errors=no)
fi
out=$(cd "$work" && systemd-analyze verify "${verify_args[@]}" "${units[@]/#/$work/}" 2>&1)
rc=$?
ours=$(grep -E "accelpool|$work" <<<"$out")
if [ "$rc" -ne 0 ] || [ -n "$ours" ]; then
  fail "systemd-analyze verify (exit $rc):"
  echo "$out" >&2
elif [ -n "$out" ]; then
  echo "systemd_units_test: systemd-analyze verify said, of other units:"
  echo "$out"
fi

# --- The hardening a later edit must not drop ----------------------------------
require() {  # UNIT LINE...: each LINE is in UNIT, exactly
  local unit=$1
  shift
  for line in "$@"; do
    grep -qxF -- "$line" "$src/$unit" || fail "$unit lacks the line '$line'"
  done
}
forbid() {  # UNIT LINE...: no LINE is in UNIT
  local unit=$1
  shift
  for line in "$@"; do
    if grep -qxF -- "$line" "$src/$unit"; then fail "$unit has '$line'"; fi
  done
}
common=(
  "Type=simple"
  "Restart=on-failure"
  "User=accelpool"
  "Group=accelpool"
  "StateDirectory=accelpool"
  "RuntimeDirectory=accelpool"
  "RuntimeDirectoryMode=0711"
  "NoNewPrivileges=yes"
  "CapabilityBoundingSet="
  "ProtectSystem=strict"
  "ProtectHome=yes"
  "PrivateTmp=yes"
  "ProtectKernelTunables=yes"
  "ProtectKernelModules=yes"
  "ProtectKernelLogs=yes"
  "ProtectControlGroups=yes"
  "RestrictNamespaces=yes"
  "RestrictRealtime=yes"
  "RestrictSUIDSGID=yes"
  "LockPersonality=yes"
  "SystemCallArchitectures=native"
  "SystemCallFilter=@system-service"
)
require accelpool-coordinator.service "${common[@]}" \
  "ExecStart=@ACCEL_POOLD@ --flagfile=/etc/accelpool/coordinator.conf" \
  "LogsDirectory=accelpool" \
  "PrivateDevices=yes" \
  "MemoryDenyWriteExecute=yes"
require accelpool-node.service "${common[@]}" \
  "ExecStart=@ACCEL_POOLD@ --flagfile=/etc/accelpool/node.conf" \
  "KillMode=mixed" \
  "SupplementaryGroups=video render" \
  "DevicePolicy=closed" \
  "DeviceAllow=char-nvidia* rw" \
  "DeviceAllow=char-kfd rw" \
  "DeviceAllow=char-drm rw"
# GPUs need their device nodes, and their drivers generate code.
forbid accelpool-node.service "PrivateDevices=yes" "MemoryDenyWriteExecute=yes"
for unit in "${units[@]}"; do
  forbid "$unit" "DynamicUser=yes" "PrivateUsers=yes" "Type=notify"
  grep -q '^Requires=.*accelpool' "$src/$unit" && fail "$unit requires another accelpool unit"
done

# --- What systemd-analyze security makes of them --------------------------------
# (systemd 250+.) 0-100 here, shown as 0.0-10.0; the units score about 1.7.
if systemd-analyze --help 2>&1 | grep -q -- '--offline'; then
  for unit in "${units[@]}"; do
    out=$(cd "$work" && systemd-analyze security --offline=yes --threshold=25 --no-pager \
      "$work/$unit" 2>&1)
    rc=$?
    echo "systemd_units_test: $(grep 'Overall exposure level' <<<"$out")"
    [ "$rc" -eq 0 ] || fail "$unit: systemd-analyze security exposure above 2.5 (exit $rc)"
  done
fi

# --- The example flagfiles name only poold's flags -------------------------------
for example in coordinator.conf.example node.conf.example; do
  # As shipped, and with every commented-out flag turned on.
  sed 's/^#--/--/' "$src/$example" >"$work/all-$example"
  for file in "$src/$example" "$work/all-$example"; do
    out=$("$poold" --flagfile="$file" --only_check_args 2>&1) || fail "$example: $out"
  done
done

# --- The sysusers file -----------------------------------------------------------
if command -v systemd-sysusers >/dev/null 2>&1; then
  mkdir -p "$work/root/etc"
  out=$(systemd-sysusers --root="$work/root" --dry-run "$src/sysusers.d/accelpool.conf" 2>&1)
  grep -q "Creating user 'accelpool'" <<<"$out" || fail "sysusers.d/accelpool.conf: $out"
fi

if [ "$failures" -ne 0 ]; then
  echo "systemd_units_test: $failures failure(s)" >&2
  exit 1
fi
echo "systemd_units_test: ${units[*]} verify clean, hardening in place"
