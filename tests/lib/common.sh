# tests/lib/common.sh — sourced by the black-box scripts tests/blackbox/*.sh.
#
# Gives each script a scratch dir $T (removed on exit; TARN_KEEP=1 keeps it), its own
# TARN_HOME=$T/home, functions tarn/zfs/zpool that run the binary under test ($TARN), and TAP
# helpers. A script looks like:
#
#   #!/usr/bin/env bash
#   . "$(dirname "$0")/../lib/common.sh"
#   f1=$(mkvdev f1 1G)
#   t_ok   "create pool"          zpool create data "$f1"
#   t_ok   "list pools"           zpool list -H -o name
#   t_eq   "one pool"             "$T_OUT" "data"
#   t_fail_with "no such pool" 1 "does not exist"  zpool destroy nope
#   t_ok   "pipeline"             eval 'tarn volume read data/vm | cmp - "$T/img"'
#   t_done
#
# Commands run in the current shell (so the functions above work) with stdout and stderr
# captured: after t_ok/t_fail/t_fail_with, $T_OUT and $T_ERR hold them (trailing newlines and
# NUL bytes cut; over 1 MiB only a note) and $T_RC the exit status; the raw bytes stay in the
# files $T_OUT_FILE and $T_ERR_FILE until the next such call.
# For pipelines or redirections use `eval '...'` (pipefail is on).
# Stdin is inherited, so `t_ok "write" tarn volume write data/vm <"$img"` works.
# Any command whose stderr holds a sanitizer report (ASan, LSan, UBSan) fails its test, and a
# command killed by a signal or not found (rc >= 126) never counts as an expected failure.
# Diagnostics are "# ..." lines on stdout, after the "not ok" line (tests/run.sh runs prove
# with --comments, so they show up next to the failure).
#
# Environment: TARN (binary; default $TARN_SRC/build/tarn), TARN_SRC (repo root),
# TARN_WRAP (optional command prefix, e.g. TARN_WRAP="valgrind -q --error-exitcode=99"),
# TARN_SANITIZED=1 (under ASan: scripts may shrink loops), TARN_KEEP=1 (keep $T).

set -u
set -o pipefail

: "${TARN_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${TARN:=$TARN_SRC/build/tarn}"
: "${TARN_SANITIZED:=0}"
: "${TARN_WRAP:=}"
export TARN TARN_SRC TARN_SANITIZED

T=$(mktemp -d /tmp/tarn-test.XXXXXX) || { echo "Bail out! mktemp failed"; exit 1; }
export TARN_HOME=$T/home
mkdir -p "$TARN_HOME"

_t_cleanup() {
  if [ "${TARN_KEEP:-0}" = 1 ]; then
    echo "# kept scratch dir $T" >&2
  else
    rm -rf "$T"
  fi
}
trap _t_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

_t_n=0        # tests run
_t_nfail=0    # tests failed
T_OUT='' T_ERR='' T_RC=0
T_OUT_FILE=$T/.t_out T_ERR_FILE=$T/.t_err

# --- the binary under test -------------------------------------------------------------
# shellcheck disable=SC2086  # TARN_WRAP is meant to be split into words
tarn()  { $TARN_WRAP "$TARN" "$@"; }
zfs()   { $TARN_WRAP "$TARN" zfs "$@"; }
zpool() { $TARN_WRAP "$TARN" zpool "$@"; }

# mkvdev NAME SIZE: make a sparse file $T/NAME of SIZE (truncate syntax: 1G, 64M) and print its path
mkvdev() {
  truncate -s "$2" "$T/$1" || return 1
  printf '%s\n' "$T/$1"
}

# --- TAP ------------------------------------------------------------------------------------
plan_begin() { :; }

# t_diag TEXT...: print TAP diagnostic lines ("# TEXT") on stdout
t_diag() {
  local line
  printf '%s\n' "$*" | while IFS= read -r line; do printf '# %s\n' "$line"; done
}

_t_result() {  # _t_result PASS(0/1) DESC
  _t_n=$((_t_n + 1))
  if [ "$1" = 1 ]; then
    printf 'ok %d - %s\n' "$_t_n" "$2"
  else
    _t_nfail=$((_t_nfail + 1))
    printf 'not ok %d - %s\n' "$_t_n" "$2"
  fi
}

# _t_load FILE: print FILE for a variable: NUL bytes dropped, at most 1 MiB
_t_load() {
  local size
  size=$(stat -c %s "$1" 2>/dev/null) || size=0
  if [ "$size" -gt 1048576 ]; then
    printf '<%s bytes of output: see %s>' "$size" "$1"
  else
    tr -d '\000' <"$1"
  fi
}

# _t_run CMD...: run in the current shell, capture into T_OUT/T_ERR/T_RC
_t_run() {
  "$@" >"$T_OUT_FILE" 2>"$T_ERR_FILE"
  T_RC=$?
  T_OUT=$(_t_load "$T_OUT_FILE")
  T_ERR=$(_t_load "$T_ERR_FILE")
}

_t_sanitizer_hit() {
  grep -qE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error: |SUMMARY: [A-Za-z]+Sanitizer' \
    "$T_ERR_FILE" 2>/dev/null
}

_t_show_cmd() {  # diagnostics for the last command: CMD... (uses T_RC/T_OUT/T_ERR)
  t_diag "command: $*"
  t_diag "exit status: $T_RC"
  [ -n "$T_OUT" ] && t_diag "stdout:" && t_diag "$(printf '%s\n' "$T_OUT" | head -n 60 | cut -c1-300)"
  [ -n "$T_ERR" ] && t_diag "stderr:" && t_diag "$(printf '%s\n' "$T_ERR" | head -n 60 | cut -c1-300)"
  return 0
}

# t_ok DESC CMD...: passes if CMD exits 0 (and prints no sanitizer report)
t_ok() {
  local desc=$1; shift
  _t_run "$@"
  if [ "$T_RC" -eq 0 ] && ! _t_sanitizer_hit; then
    _t_result 1 "$desc"
  else
    _t_result 0 "$desc"
    _t_show_cmd "$@"
  fi
  return 0
}

# t_fail DESC CMD...: passes if CMD fails cleanly: exit status 1..125 (not a crash or signal,
# not "command not found") and no sanitizer report
t_fail() {
  local desc=$1; shift
  _t_run "$@"
  if [ "$T_RC" -ge 1 ] && [ "$T_RC" -le 125 ] && ! _t_sanitizer_hit; then
    _t_result 1 "$desc"
  else
    _t_result 0 "$desc"
    t_diag "expected a clean failure (exit status 1..125)"
    _t_show_cmd "$@"
  fi
  return 0
}

# t_fail_with DESC RC SUBSTRING CMD...: passes if CMD exits with status RC and its stderr
# contains SUBSTRING (a fixed string, case-sensitive; "" accepts any stderr)
t_fail_with() {
  local desc=$1 want_rc=$2 want_err=$3; shift 3
  _t_run "$@"
  if [ "$T_RC" -eq "$want_rc" ] && [[ $T_ERR == *"$want_err"* ]] && ! _t_sanitizer_hit; then
    _t_result 1 "$desc"
  else
    _t_result 0 "$desc"
    t_diag "expected exit status $want_rc and stderr containing: $want_err"
    _t_show_cmd "$@"
  fi
  return 0
}

# t_eq DESC GOT WANT: string equality
t_eq() {
  if [ "$2" == "$3" ]; then
    _t_result 1 "$1"
  else
    _t_result 0 "$1"
    t_diag "got:"
    t_diag "$2"
    t_diag "want:"
    t_diag "$3"
  fi
  return 0
}

# t_match DESC TEXT REGEX: passes if some line of TEXT matches the extended regex (grep -E)
t_match() {
  if printf '%s\n' "$2" | grep -qE -- "$3"; then
    _t_result 1 "$1"
  else
    _t_result 0 "$1"
    t_diag "text:"
    t_diag "$2"
    t_diag "does not match: $3"
  fi
  return 0
}

# t_skip_all REASON: skip the whole script (call before any test)
t_skip_all() {
  printf '1..0 # SKIP %s\n' "$1"
  exit 0
}

# t_done: print the plan and exit 0 iff every test passed
t_done() {
  printf '1..%d\n' "$_t_n"
  if [ "$_t_nfail" -ne 0 ]; then
    t_diag "failed $_t_nfail of $_t_n tests"
    exit 1
  fi
  exit 0
}
