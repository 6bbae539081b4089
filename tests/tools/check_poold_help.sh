#!/usr/bin/env bash
# poold --help lists poold's own flags, grouped by role, and no library's:
# what an operator reads before writing /etc/accelpool/*.conf.
set -uo pipefail
poold=${1:?usage: check_poold_help.sh POOLD}
help=$("$poold" --help 2>&1)  # absl's --help exits 1
fail() { echo "check_poold_help: $*" >&2; echo "$help" | head -20 >&2; exit 1; }
grep -q "No flags matched" <<<"$help" && fail "--help matched no flags"
for group in serving node coordinator security; do
  grep -q "Flags from pool/poold/flags_$group.cc:" <<<"$help" || fail "no $group group"
done
for flag in listen http_listen coordinator state tls_cert join_token_file max_sessions etcd_user; do
  grep -q -- "--$flag " <<<"$help" || fail "--$flag is not listed"
done
# Libraries' flags stay under --helpfull.
grep -q -- "--flagfile (" <<<"$help" && fail "absl's own flags are listed"
full=$("$poold" --helpfull 2>&1)
grep -q -- "--flagfile (" <<<"$full" || fail "--helpfull lacks --flagfile"
echo "check_poold_help: poold --help lists its flags by role"
