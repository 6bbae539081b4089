#!/usr/bin/env bash
# poolctl's command line: help for the tool and for each verb, errors that
# name the bad word (exit 2), and a bash completion that completes verbs,
# sub-verbs and a verb's options.
set -uo pipefail
poolctl=${1:?usage: check_poolctl_cli.sh POOLCTL}
fail() { echo "check_poolctl_cli: $*" >&2; exit 1; }

out=$("$poolctl" --help 2>&1) || fail "--help exited $?"
for verb in status nodes devices leases lease tenants tenant drain top audit completion; do
  grep -qE "^  $verb " <<<"$out" || fail "--help does not list $verb"
done
out=$("$poolctl" tenant create --help 2>&1) || fail "tenant create --help exited $?"
grep -q -- "--max-kernel-seconds" <<<"$out" || fail "tenant create --help lacks its options"

expect_usage_error() {  # WORD-IT-MUST-NAME ARGS...
  local word=$1 rc
  shift
  out=$("$poolctl" "$@" 2>&1)
  rc=$?
  [ "$rc" -eq 2 ] || fail "'$*' exited $rc, not 2: $out"
  grep -qF -- "$word" <<<"$out" || fail "'$*' does not name '$word': $out"
}
expect_usage_error leasez leasez
expect_usage_error explian lease explian l-1
expect_usage_error --prio tenant create x --prio 3
expect_usage_error 12QB tenant create x --memory 12QB
expect_usage_error yaml -o yaml nodes
expect_usage_error NAME tenant create
expect_usage_error --interval top --interval 0

script=$("$poolctl" completion bash) || fail "completion bash exited $?"
complete_words() {  # the words COMPREPLY offers after "poolctl $*"
  bash -c "$script"'
    COMP_WORDS=(poolctl "$@"); COMP_CWORD=$#; _poolctl; echo "${COMPREPLY[*]}"' _ "$@"
}
offered=" $(complete_words ten) "
[[ "$offered" == *" tenant "* && "$offered" == *" tenants "* ]] || fail "no verbs: $offered"
[[ " $(complete_words lease "") " == *" explain "* ]] || fail "no sub-verbs after lease"
[[ " $(complete_words tenant update x --ro) " == *" --rotate-token "* ]] ||
  fail "no options of tenant update"
[[ " $(complete_words --pool h:1 lease release l-1 --) " == *" --help "* ]] ||
  fail "no options after a global option and an alias"
echo "check_poolctl_cli: help, errors and completion as expected"
