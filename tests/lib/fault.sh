# shellcheck shell=bash
# tests/lib/fault.sh — helpers shared by the fault-injection black-box tests
# (tests/blackbox/50-crash-kill.sh .. 54-enospc.sh). Source it after common.sh:
#
#   . "$(dirname "$0")/../lib/common.sh"
#   . "$(dirname "$0")/../lib/fault.sh"
#
# What it gives:
#   x CMD...           run `tarn CMD...` (through $TARN_WRAP, with a time limit of $X_TIMEOUT s,
#                      default 120) without making a TAP line: X_RC, and the files $X_OUT/$X_ERR.
#                      A time-out shows as X_RC=254 (never as a clean failure).
#   x_sanitizer        true if $X_ERR holds a sanitizer report
#   x_clean_fail       true if the last x failed cleanly (exit 1..125, no sanitizer report)
#   x_errline          the first line of $X_ERR (for messages)
#   prob TEXT          record a problem for the current check; t_check DESC makes one TAP line of
#                      all problems recorded since the last t_check (ok if none), then clears them
#   rnd N              a random integer in [0, N) (30 bits of $RANDOM; seed with RANDOM=...)
#   gen_random F N     N random bytes into F;  gen_compressible F N: N bytes that lz4 shrinks ~3x
#   range_of F OFF LEN print LEN bytes of F at OFF (to stdout)
#   status_summary P   run `zpool status P`, set ST_RC, ST_TEXT, ST_SUM (sum of READ/WRITE/CKSUM
#                      columns of the config block; -1 if unparsable), ST_SCAN_ERRS (N of "with N
#                      errors" on the scan: line; -1 if none), ST_DATA_ERRS (0 for "No known data
#                      errors", N for "N data errors", -1 if no errors: line)
#   status_is_clean    after status_summary: every counter is zero
#   status_has_errors  after status_summary: some counter (or the errors: line) reports an error
#   build_pooltool     compile tests/lib/pooltool.c into $T/pooltool (sets POOLTOOL; returns
#                      non-zero if there is no compiler or libxxhash)
#
# Environment honoured: TEST_SEED (seed for $RANDOM; printed as a TAP comment so a failing run
# can be repeated), TARN_SANITIZED (scripts shrink their loops), X_TIMEOUT.

unset TARN_DIRTY_MAX TARN_TORN_AFTER TARN_TORN_SEED   # the tests rely on the defaults

TEST_SEED=${TEST_SEED:-$(( $(date +%s%N) % 1000000 ))}
RANDOM=$TEST_SEED

X_OUT=$T/.x_out X_ERR=$T/.x_err X_RC=0
: "${X_TIMEOUT:=120}"

# shellcheck disable=SC2086  # TARN_WRAP is meant to be split into words
x() {
  timeout -k 5 "$X_TIMEOUT" $TARN_WRAP "$TARN" "$@" >"$X_OUT" 2>"$X_ERR"
  X_RC=$?
  if [ "$X_RC" -eq 124 ]; then
    printf '(test harness: tarn %s timed out after %ss)\n' "$*" "$X_TIMEOUT" >>"$X_ERR"
    X_RC=254
  fi
  return 0
}

x_sanitizer() {
  grep -qE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error: |SUMMARY: [A-Za-z]+Sanitizer' \
    "$X_ERR" 2>/dev/null
}

x_ok() { [ "$X_RC" -eq 0 ] && ! x_sanitizer; }
x_clean_fail() { [ "$X_RC" -ge 1 ] && [ "$X_RC" -le 125 ] && ! x_sanitizer; }
x_errline() { head -n 1 "$X_ERR" | cut -c1-300; }
# x_desc: "exit N: first stderr line" of the last x, for problem messages
x_desc() { printf 'exit %s: %s' "$X_RC" "$(x_errline)"; }

_PROBS=()
prob() { _PROBS+=("$*"); }
# t_check DESC: one TAP line for the problems recorded since the last t_check (they show up
# as the failing "command"'s stderr)
report_problems() { printf '%s\n' "${_PROBS[@]}" >&2; [ ${#_PROBS[@]} -eq 0 ]; }
t_check() {
  t_ok "$1" report_problems
  _PROBS=()
}

rnd() { echo $(( ((RANDOM << 15) | RANDOM) % $1 )); }

gen_random() { head -c "$2" /dev/urandom >"$1"; }

# short random records, each repeated 1..6 times: lz4 compresses this roughly 3x
gen_compressible() {
  perl -e '
    open(my $r, "<", "/dev/urandom") or die "urandom: $!";
    binmode STDOUT; my $n = $ARGV[0];
    while ($n > 0) {
      read($r, my $b, 16 + int(rand(200)));
      my $s = $b x (1 + int(rand(6)));
      $s = substr($s, 0, $n) if length($s) > $n;
      print $s; $n -= length($s);
    }' "$2" >"$1"
}

range_of() { dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" bs=1M status=none; }
# put_range DST OFF SRC: write all of SRC into DST at byte offset OFF (DST keeps its size unless
# SRC reaches past its end)
put_range() { dd if="$3" of="$1" oflag=seek_bytes seek="$2" bs=1M conv=notrunc status=none; }

md5() { md5sum <"$1" | cut -d' ' -f1; }

status_summary() {
  x zpool status "$1"
  ST_RC=$X_RC
  ST_TEXT=$(cat "$X_OUT")
  # vdev rows of the config block: NAME STATE READ WRITE CKSUM (counts may be 0, 12, 1.2K)
  ST_SUM=$(awk '
    /^[ \t]*NAME[ \t]+STATE[ \t]+READ[ \t]+WRITE[ \t]+CKSUM/ { inconf = 1; seen = 1; next }
    inconf && NF == 0 { inconf = 0; next }
    inconf && NF >= 5 {
      for (i = 3; i <= 5; i++) {
        v = $i; mult = 1
        if (v ~ /[Kk]$/) mult = 1000; else if (v ~ /M$/) mult = 1000000
        sub(/[KkM]$/, "", v)
        if (v !~ /^[0-9]+(\.[0-9]+)?$/) { bad = 1; continue }
        s += v * mult
      }
    }
    END { if (!seen || bad) print -1; else printf "%d\n", s }' <<<"$ST_TEXT")
  ST_SCAN_ERRS=$(sed -nE 's/.*scan:.* with ([0-9]+) errors?.*/\1/p' <<<"$ST_TEXT" | head -n 1)
  [ -n "$ST_SCAN_ERRS" ] || ST_SCAN_ERRS=-1
  if grep -qE '^[[:space:]]*errors:[[:space:]]+No known data errors' <<<"$ST_TEXT"; then
    ST_DATA_ERRS=0
  else
    ST_DATA_ERRS=$(sed -nE 's/^[[:space:]]*errors:[[:space:]]+([0-9]+) data errors?.*/\1/p' <<<"$ST_TEXT" | head -n 1)
    [ -n "$ST_DATA_ERRS" ] || ST_DATA_ERRS=-1
  fi
}
status_is_clean() { [ "$ST_RC" -eq 0 ] && [ "$ST_SUM" -eq 0 ] && [ "$ST_SCAN_ERRS" -eq 0 ] && [ "$ST_DATA_ERRS" -eq 0 ]; }
status_has_errors() { [ "$ST_SUM" -gt 0 ] || [ "$ST_SCAN_ERRS" -gt 0 ] || [ "$ST_DATA_ERRS" -gt 0 ]; }
status_brief() { printf 'status: exit %s, R+W+CKSUM=%s, scan errors=%s, data errors=%s' \
  "$ST_RC" "$ST_SUM" "$ST_SCAN_ERRS" "$ST_DATA_ERRS"; }

# scrub_check POOL WHAT: scrub, then expect a clean status; records problems
scrub_check() {
  x zpool scrub "$1"
  x_ok || prob "$2: zpool scrub: $(x_desc)"
  status_summary "$1"
  if ! status_is_clean; then
    prob "$2: zpool status after scrub is not clean ($(status_brief))"
    prob "$(printf '%s\n' "$ST_TEXT" | head -n 30)"
  fi
}

POOLTOOL=
build_pooltool() {
  [ -n "$POOLTOOL" ] && return 0
  local cc=${CC:-cc}
  command -v "$cc" >/dev/null 2>&1 || return 1
  # shellcheck disable=SC2046
  "$cc" -O2 -o "$T/pooltool" "$TARN_SRC/tests/lib/pooltool.c" \
    $(pkg-config --cflags --libs libxxhash 2>/dev/null || echo -lxxhash) >"$T/.pooltool.log" 2>&1 ||
    { cat "$T/.pooltool.log" >&2; return 1; }
  POOLTOOL=$T/pooltool
}

# killafter USEC STATFILE CMD...: run CMD (stdin/stdout/stderr inherited) and SIGKILL it USEC
# microseconds after it started, unless it ended first. Writes "STATUS ELAPSED_US" to STATFILE
# (STATUS: the exit status, or 128+signal) and returns 0. Time::HiRes gives sub-millisecond
# delays: tarn commands often take only a few milliseconds, too short for sleep(1) to aim at.
killafter() {
  perl -MTime::HiRes=time,usleep -MPOSIX=WNOHANG -e '
    my ($us, $stat, @cmd) = @ARGV;
    my $t0 = time;
    my $pid = fork() // die "fork: $!";
    if (!$pid) { exec { $cmd[0] } @cmd; die "exec $cmd[0]: $!" }
    my $deadline = $t0 + $us / 1e6;
    my $r = 0;
    while (($r = waitpid($pid, WNOHANG)) == 0) {
      my $left = $deadline - time;
      last if $left <= 0;
      usleep($left > 0.002 ? 1000 : $left * 1e6);
    }
    if ($r == 0) { kill 9, $pid; waitpid($pid, 0); }
    my $el = int((time - $t0) * 1e6);
    my $st = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    open(my $f, ">", $stat) or die "$stat: $!"; print $f "$st $el\n"; close $f;
  ' "$@"
}
