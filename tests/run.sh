#!/usr/bin/env bash
# tests/run.sh BUILDDIR — run every test under prove and print "N passed, M failed" last.
#
# Tests: the unit test programs BUILDDIR/*/test_* (executable files) and the black-box scripts
# tests/blackbox/*.sh. Each prints TAP. Black-box scripts get TARN=<abs BUILDDIR/tarn> and
# TARN_SRC=<repo root>. Environment:
#   TESTS=regex     run only tests whose path (e.g. build/pool/test_vdev, tests/blackbox/10-x.sh)
#                   matches this extended regex, e.g. TESTS=harness or TESTS='pool|snapshot'
#   JOBS=n          test files run in parallel (default 2; tests must not share fixed paths)
#   TEST_TIMEOUT=s  per test file time limit in seconds (default 600)
#   VERBOSE=1       show every TAP line (prove -v)
#   TARN_SANITIZED=1  exported to tests (set by `make check-asan`); scripts may shrink loops
# Exit status is non-zero if any test file failed (failed test, bad plan, crash, non-zero exit).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILDDIR" >&2
  exit 2
fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILDDIR=$(realpath -m -- "$1")
cd "$ROOT"

export TARN_SRC=$ROOT
export TARN=$BUILDDIR/tarn
export TARN_SANITIZED=${TARN_SANITIZED:-0}
unset TARN_HOME   # each black-box script makes its own (tests/lib/common.sh)

# Collect the test files, in a stable order: unit tests by layer, then black-box scripts.
tests=()
for f in "$BUILDDIR"/*/test_*; do
  if [ ! -f "$f" ] || [ ! -x "$f" ]; then continue; fi
  case $f in *.o|*.d|*.c|*.h) continue ;; esac
  case $f in "$ROOT"/*) f=${f#"$ROOT"/} ;; esac   # show build/x/test_y, not /abs/path
  tests+=("$f")
done
for f in tests/blackbox/*.sh; do
  [ -f "$f" ] && tests+=("$f")
done
if [ -n "${TESTS:-}" ]; then
  selected=()
  for f in "${tests[@]}"; do
    if [[ $f =~ $TESTS ]]; then selected+=("$f"); fi
  done
  tests=("${selected[@]+"${selected[@]}"}")
fi
total=${#tests[@]}
if [ "$total" -eq 0 ]; then
  echo "run.sh: no tests found${TESTS:+ matching TESTS=$TESTS}" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

[ -x "$TARN" ] || echo "run.sh: note: $TARN does not exist (black-box tests will fail)" >&2

state=$(mktemp /tmp/tarn-prove.XXXXXX)
trap 'rm -f "$state"' EXIT

args=(--exec "bash tests/lib/tap-exec" --jobs "${JOBS:-2}" --failures --comments --timer
      --statefile="$state" --state=save)
[ "${VERBOSE:-0}" = 1 ] && args+=(--verbose)

rc=0
prove "${args[@]}" "${tests[@]}" || rc=$?

# Count test files from prove's saved state: a file failed if it had a failed test or any
# problem (bad/missing plan, non-zero exit, signal). If prove was killed before saving, every
# file counts as failed.
counts=$(perl -MApp::Prove::State -e '
  my $s = App::Prove::State->new({ store => $ARGV[0] });
  my ($p, $f) = (0, 0);
  for my $t ($s->results->tests) { $t->result ? $f++ : $p++ }
  print "$p $f\n";
' "$state" 2>/dev/null) || counts=""
read -r passed failed <<<"${counts:-0 0}"
if [ $((passed + failed)) -ne "$total" ]; then
  echo "run.sh: prove reported $((passed + failed)) of $total test files; counting the rest as failed" >&2
  failed=$((total - passed))
fi
if [ "$rc" -eq 0 ] && [ "$failed" -ne 0 ]; then rc=1; fi
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "run.sh: prove exited $rc" >&2
  failed=1; passed=$((total - 1))
fi
echo "$passed passed, $failed failed"
exit "$rc"
