#!/usr/bin/env bash
# tests/fuzz/run.sh — build the libFuzzer target tests/fuzz/fuzz_recv.c (the send-stream reader
# and zfs receive) with clang -fsanitize=fuzzer,address,undefined, make seed streams with the
# built tarn, and fuzz for a bounded time. Independent of the Makefile: it compiles the library
# sources it needs (src/{util,pool,tree,dsl,vol,stream}/*.c, no unit tests, no cli) itself.
#
# usage: tests/fuzz/run.sh [WORKDIR]
#   WORKDIR      where the build, seeds, corpus and any crash files go (default: a new mktemp
#                dir, removed at the end unless something was found or FUZZ_KEEP=1)
# environment:
#   TARN         the tarn binary that makes the seeds (default: <repo>/build/tarn)
#   FUZZ_TIME    seconds of fuzzing (default 30)          FUZZ_JOBS  compile jobs (default 2)
#   FUZZ_RSS     -rss_limit_mb (default 1024)             FUZZ_ARGS  more libFuzzer options
#   CLANG        the compiler (default clang)
# Exit status: 0 nothing found; 1 a crash / sanitizer report / leak / timeout (the reproducer
# is WORKDIR/crash-*, leak-*, timeout-* or oom-*; run `WORKDIR/fuzz_recv FILE` to repeat it);
# 2 setup failed; 77 clang's libFuzzer is not available (callers may skip).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${TARN:=$ROOT/build/tarn}"
: "${FUZZ_TIME:=30}" "${FUZZ_JOBS:=2}" "${FUZZ_RSS:=1024}" "${FUZZ_ARGS:=}" "${CLANG:=clang}"
if [ $# -ge 1 ]; then
  W=$1; mkdir -p "$W" || exit 2; OWN=0
else
  W=$(mktemp -d /tmp/tarn-fuzz.XXXXXX) || exit 2; OWN=1
fi
W=$(cd "$W" && pwd)
log() { printf 'fuzz: %s\n' "$*" >&2; }
fail_setup() { log "$*"; exit 2; }

# ---- is libFuzzer there? ----------------------------------------------------------------------
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' >"$W/probe.c"
if ! "$CLANG" -fsanitize=fuzzer "$W/probe.c" -o "$W/probe" >/dev/null 2>&1; then
  log "$CLANG -fsanitize=fuzzer does not link (no libFuzzer; Debian: libclang-rt-14-dev)"
  exit 77
fi
[ -x "$TARN" ] || fail_setup "no tarn binary at $TARN (run make)"

# ---- build ------------------------------------------------------------------------------------
# shellcheck disable=SC2207
PKGF=($(pkg-config --cflags libxxhash liblz4 libzstd libcrypto)) || fail_setup "pkg-config"
# shellcheck disable=SC2207
PKGL=($(pkg-config --libs libxxhash liblz4 libzstd libcrypto))
CF=(-std=gnu11 -g -O1 -fno-omit-frame-pointer -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE -pthread
    -I"$ROOT/src" "${PKGF[@]}" -fno-sanitize-recover=undefined)
SRCS=()
for l in util pool tree dsl vol stream; do
  for f in "$ROOT"/src/$l/*.c; do
    case ${f##*/} in test_*) continue ;; esac
    SRCS+=("$f")
  done
done
mkdir -p "$W/obj"
t0=$(date +%s)
printf '%s\n' "${SRCS[@]}" | xargs -P "$FUZZ_JOBS" -I{} sh -c '
  f={}; o="$0/obj/$(basename "$(dirname "$f")")_$(basename "$f" .c).o"; cc=$1; shift
  exec "$cc" "$@" -c "$f" -o "$o"' "$W" "$CLANG" -fsanitize=fuzzer-no-link,address,undefined "${CF[@]}" \
  >"$W/build.log" 2>&1 || { cat "$W/build.log" >&2; fail_setup "compiling the library failed"; }
"$CLANG" -fsanitize=fuzzer,address,undefined "${CF[@]}" -o "$W/fuzz_recv" "$ROOT/tests/fuzz/fuzz_recv.c" \
  "$W"/obj/*.o "${PKGL[@]}" -pthread -lm >>"$W/build.log" 2>&1 ||
  { cat "$W/build.log" >&2; fail_setup "linking fuzz_recv failed"; }
log "built $W/fuzz_recv in $(( $(date +%s) - t0 )) s"

# ---- seeds: real streams from the built tarn ----------------------------------------------------
S=$W/seedpool
mkdir -p "$S/home" "$W/seeds" "$W/corpus"
export TARN_HOME=$S/home
unset TARN_DIRTY_MAX
z() { "$TARN" zfs "$@"; }
wr() { head -c "$3" "$4" | "$TARN" volume write "$1" --offset "$2"; }
{
  truncate -s 128M "$S/sp.img" && "$TARN" zpool create sp "$S/sp.img" &&
  z create -s -V 64K -b 4K -o user:tag=x sp/v && wr sp/v 0 12288 /dev/urandom && z snapshot sp/v@a &&
  wr sp/v 4096 4096 /dev/urandom && wr sp/v 8192 4096 /dev/zero && z snapshot sp/v@b &&
  z create sp/pk && z create -s -V 64K -b 4K sp/pk/v && wr sp/pk/v 0 12288 /dev/urandom &&
  z snapshot -r sp/pk@1 && wr sp/pk/v 4096 4096 /dev/urandom && wr sp/pk/v 8192 4096 /dev/zero &&
  z snapshot -r sp/pk@2 &&
  z create -s -V 64K -b 4K -o compression=zstd sp/c && head -c 16384 /dev/zero | tr "\\0" t | "$TARN" volume write sp/c &&
  z snapshot sp/c@a &&
  z send sp/v@a >"$S/F" && z send -i @a sp/v@b >"$S/I" && z send -p sp/v@b >"$S/Fp" &&
  z send -R sp/pk@2 >"$S/P" && z send -R sp/pk@1 >"$S/P1" && z send -R -I @1 sp/pk@2 >"$S/PI" &&
  z send -c sp/c@a >"$S/C" &&
  truncate -s 128M "$S/bp.img" && "$TARN" zpool create bp "$S/bp.img" &&
  { head -c 4200 "$S/F" | z receive -s bp/t; true; } &&
  z get -H -o value receive_resume_token bp/t >"$S/token"
} >"$W/seeds.log" 2>&1 || { cat "$W/seeds.log" >&2; fail_setup "making the seed streams failed"; }
# seed FILE MODE NAME: the corpus entry MODE byte + FILE
seed() { { printf "\\$(printf '%03o' "$2")"; cat "$1"; } >"$W/seeds/$3"; }
R=64 A=16 F=8   # re-seal, apply (really receive), -F
seed "$S/F"  $((R))             F-new-dry;     seed "$S/F"  $((R | A))         F-new
seed "$S/F"  0                  F-new-raw;     seed "$S/F"  $((R | A | 32))    F-new-s
seed "$S/I"  $((R | 1))         I-dry;         seed "$S/I"  $((R | A | 1))     I
seed "$S/I"  $((R | A | F | 1)) I-F;           seed "$S/I"  1                  I-raw
seed "$S/Fp" $((R | A | 128))   Fp-ox;         seed "$S/F"  $((R | A | 2))     F-d
seed "$S/F"  $((R | A | 3))     F-e;           seed "$S/F"  $((R | A | F | 4)) F-replace
seed "$S/P"  $((R))             P-dry;         seed "$S/P"  $((R | A))        P-new
seed "$S/PI" $((R | A | 5))     PI;            seed "$S/PI" $((R | 5))        PI-dry
seed "$S/C"  $((R | A))         C;             seed "$S/token" 6              token
head -c $((48 + $(od -An -tu8 -j8 -N8 "$S/F" | tr -d ' '))) "$S/F" | tail -c +49 >"$S/begin"
seed "$S/begin" 7 begin
log "$(ls "$W/seeds" | wc -l) seeds"

# ---- fuzz ---------------------------------------------------------------------------------------
# the fuzzed pool lives on tmpfs if there is one (pool commits sync their writes: ~5x faster)
SHM=$(mktemp -d /dev/shm/tarn-fuzz.XXXXXX 2>/dev/null) || SHM=
trap '[ -n "$SHM" ] && rm -rf "$SHM"' EXIT
export FUZZ_RECV_DIR=${SHM:-$W} FUZZ_RECV_SETUP="fz/i=$S/F,fz/pk=$S/P1"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
# shellcheck disable=SC2086
"$W/fuzz_recv" -max_total_time="$FUZZ_TIME" -rss_limit_mb="$FUZZ_RSS" -timeout=20 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$W/" $FUZZ_ARGS "$W/corpus" "$W/seeds" >"$W/fuzz.log" 2>&1
rc=$?
tail -n 30 "$W/fuzz.log" | grep -E 'stat::number_of_executed_units|stat::peak_rss|cov:|ERROR|SUMMARY|Done' | tail -n 6 >&2
found=$(ls "$W" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' || true)
if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
  log "FOUND something (exit $rc): ${found:-see the log}; log: $W/fuzz.log"
  grep -E 'ERROR|SUMMARY|#[0-9]+ 0x' "$W/fuzz.log" | head -n 20 >&2
  exit 1
fi
log "no crash in ${FUZZ_TIME}s ($(ls "$W/corpus" | wc -l) corpus entries)"
if [ "$OWN" = 1 ] && [ "${FUZZ_KEEP:-0}" != 1 ]; then rm -rf "$W"; fi
exit 0
