#!/usr/bin/env bash
# Self-test of tests/lib/common.sh: exercises the TAP helpers only (no tarn binary needed).
# shellcheck source=tests/lib/common.sh disable=SC2016,SC2153
. "$(dirname "$0")/../lib/common.sh"

LIB=$TARN_SRC/tests/lib/common.sh

# nested SCRIPT: run SCRIPT in a fresh bash that sources common.sh; sets N_OUT, N_ERR, N_RC
nested() {
  N_RC=0
  bash -c ". '$LIB'; $1" >"$T/n.out" 2>"$T/n.err" || N_RC=$?
  N_OUT=$(cat "$T/n.out")
  N_ERR=$(cat "$T/n.err")
}

# --- scratch dir and environment
t_match "T is a scratch dir under /tmp"        "$T" '^/tmp/tarn-test\.[A-Za-z0-9]{6}$'
t_ok    "T exists"                              test -d "$T"
t_eq    "TARN_HOME is \$T/home"                 "$TARN_HOME" "$T/home"
t_ok    "TARN_HOME exists"                      test -d "$TARN_HOME"
t_ok    "TARN_SRC is the repo root"             test -f "$TARN_SRC/tests/lib/common.sh"
t_match "TARN is an absolute path"              "$TARN" '^/.+/tarn$'

# --- t_ok / t_fail / t_fail_with, and output capture
t_ok    "t_ok passes on true"                   true
t_ok    "t_ok runs its arguments"               printf '%s-%s\n' a b
t_eq    "T_OUT holds stdout"                    "$T_OUT" "a-b"
t_ok    "t_ok captures stderr"                  sh -c 'echo oops >&2'
t_eq    "T_ERR holds stderr"                    "$T_ERR" "oops"
t_eq    "T_OUT is empty then"                   "$T_OUT" ""
t_fail  "t_fail passes on false"                false
t_eq    "T_RC holds the status"                 "$T_RC" 1
t_fail  "t_fail passes on exit 3"               sh -c 'exit 3'
t_fail_with "t_fail_with: status and stderr"    3 "boom" sh -c 'echo "it went boom" >&2; exit 3'
t_fail_with "t_fail_with: empty substring"      2 "" sh -c 'exit 2'
t_ok    "stdin reaches the command"             grep -q needle <<<"hay needle hay"
t_ok    "eval runs a pipeline"                  eval 'printf "x\ny\n" | grep -q y'
t_fail  "pipefail: a failing pipeline fails"    eval 'false | cat'
t_ok    "NUL bytes in output are tolerated"     printf 'a\000b'
t_eq    "  ...and dropped from T_OUT"           "$T_OUT" "ab"
t_ok    "large output"                          head -c 2M /dev/zero
t_match "  ...is only noted in T_OUT"           "$T_OUT" '^<2097152 bytes of output'
t_eq    "  ...and kept in T_OUT_FILE"           "$(stat -c %s "$T_OUT_FILE")" 2097152

# --- t_eq / t_match
t_eq    "t_eq on equal strings"                 "pool data" "pool data"
t_eq    "t_eq on empty strings"                 "" ""
t_match "t_match matches some line"             $'NAME SIZE\ndata 1G\nother 2G' '^data +1G$'
t_match "t_match with ERE alternation"          "ONLINE" '^(ONLINE|DEGRADED)$'

# --- mkvdev
v=$(mkvdev disk0 64M)
t_eq    "mkvdev prints the path"                "$v" "$T/disk0"
t_eq    "mkvdev size"                           "$(stat -c %s "$v")" 67108864
t_eq    "mkvdev file is sparse"                 "$(stat -c %b "$v")" 0

# --- tarn / zfs / zpool run $TARN
printf '#!/bin/sh\necho "argv: $*"\n' >"$T/fake-tarn"
chmod +x "$T/fake-tarn"
t_eq    "tarn runs \$TARN"                      "$(TARN=$T/fake-tarn; tarn volume read x)" "argv: volume read x"
t_eq    "zfs runs \$TARN zfs"                   "$(TARN=$T/fake-tarn; zfs list -H)" "argv: zfs list -H"
t_eq    "zpool runs \$TARN zpool"               "$(TARN=$T/fake-tarn; zpool create p /f)" "argv: zpool create p /f"
t_eq    "TARN_WRAP prefixes the command"        "$(TARN=$T/fake-tarn TARN_WRAP=echo; zpool list)" "$T/fake-tarn zpool list"

# --- failures are reported (in a nested script)
nested 't_ok "good" true; t_ok "bad" false; t_done'
t_eq    "nested: TAP of a failing t_ok"         "$(grep -v '^#' <<<"$N_OUT")" $'ok 1 - good\nnot ok 2 - bad\n1..2'
t_eq    "nested: t_done exits 1 on failure"     "$N_RC" 1
t_match "nested: diagnostics as TAP comments"   "$N_OUT" '^# command: false$'
t_match "nested: diagnostics show the status"   "$N_OUT" '^# exit status: 1$'
t_match "nested: t_done counts failures"        "$N_OUT" '^# failed 1 of 2 tests$'
t_eq    "nested: nothing on stderr"             "$N_ERR" ""

nested 't_ok "fails loudly" sh -c "echo to-out; echo to-err >&2; exit 4"; t_done'
t_match "diagnostics include stdout"            "$N_OUT" '^# to-out$'
t_match "diagnostics include stderr"            "$N_OUT" '^# to-err$'

nested 't_ok "a" true; t_eq "b" x x; t_done'
t_eq    "nested: all pass -> exit 0"            "$N_RC" 0
t_eq    "nested: plan at the end"               "$N_OUT" $'ok 1 - a\nok 2 - b\n1..2'

nested 't_done'
t_eq    "nested: no tests -> 1..0"              "$N_OUT" "1..0"

nested 't_fail "x" true; t_done'
t_match "t_fail fails on success"               "$N_OUT" '^not ok 1 - x$'
nested 't_fail "x" sh -c "kill -SEGV \$\$"; t_done'
t_match "t_fail fails on a crash (signal)"      "$N_OUT" '^not ok 1 - x$'
nested 't_fail "x" /nonexistent/tarn zpool list; t_done'
t_match "t_fail fails on command not found"     "$N_OUT" '^not ok 1 - x$'
nested 't_fail_with "x" 3 "boom" sh -c "echo boom >&2; exit 2"; t_done'
t_match "t_fail_with fails on the wrong status" "$N_OUT" '^not ok 1 - x$'
nested 't_fail_with "x" 3 "boom" sh -c "echo bang >&2; exit 3"; t_done'
t_match "t_fail_with fails on the wrong stderr" "$N_OUT" '^not ok 1 - x$'
nested 't_eq "x" a b; t_done'
t_match "t_eq fails on different strings"      "$N_OUT" '^not ok 1 - x$'
t_match "t_eq shows got/want"                   "$N_OUT" '^# want:$'
nested 't_match "x" "abc" "^b"; t_done'
t_match "t_match fails on no match"             "$N_OUT" '^not ok 1 - x$'
nested 't_ok "x" sh -c "echo \"==1==ERROR: AddressSanitizer: heap-use-after-free\" >&2"; t_done'
t_match "t_ok fails on an ASan report"          "$N_OUT" '^not ok 1 - x$'
nested 't_fail "x" sh -c "echo \"a.c:3:5: runtime error: signed integer overflow\" >&2; exit 1"; t_done'
t_match "t_fail fails on a UBSan report"        "$N_OUT" '^not ok 1 - x$'
nested 't_skip_all "no reason"'
t_eq    "t_skip_all prints a skip plan"         "$N_OUT" "1..0 # SKIP no reason"
t_eq    "t_skip_all exits 0"                    "$N_RC" 0

# --- each script's scratch dir is removed on exit, also when killed
nested 'echo "$T"'
t_ok    "scratch dir removed on exit"           test ! -e "$N_OUT"
nested 'echo "$T"; t_fail "x" true; t_done'
t_ok    "scratch dir removed after failures"    test ! -e "$N_OUT"
nested 'echo "$T"; kill -TERM $$; echo survived'
t_eq    "SIGTERM ends the script (status 143)"  "$N_RC" 143
t_ok    "scratch dir removed on SIGTERM"        test ! -e "$N_OUT"
nested 'TARN_KEEP=1; echo "$T"'
t_ok    "TARN_KEEP=1 keeps it"                  test -d "$N_OUT"
rm -rf "$N_OUT"

t_done
