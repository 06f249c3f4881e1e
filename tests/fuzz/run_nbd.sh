#!/usr/bin/env bash
# tests/fuzz/run_nbd.sh — build the libFuzzer target tests/fuzz/fuzz_nbd.c (the NBD server:
# handshake, options, requests) with clang -fsanitize=fuzzer,address,undefined, write seed
# connections and a dictionary of the protocol's magic numbers, and fuzz for a bounded time.
# Independent of the Makefile: it compiles src/util/err.c, src/util/sock*.c and src/nbd/*.c (no unit tests) itself.
#
# usage: tests/fuzz/run_nbd.sh [WORKDIR]
#   WORKDIR      where the build, seeds, corpus and any crash files go (default: a new mktemp
#                dir, removed at the end unless something was found or FUZZ_KEEP=1)
# environment:
#   FUZZ_TIME    seconds of fuzzing (default 20)          FUZZ_RSS   -rss_limit_mb (default 1024)
#   FUZZ_ARGS    more libFuzzer options                   CLANG      the compiler (default clang)
# Exit status: 0 nothing found; 1 a crash / sanitizer report / leak / timeout (the reproducer
# is WORKDIR/crash-*, leak-*, timeout-* or oom-*; run `WORKDIR/fuzz_nbd FILE` to repeat it);
# 2 setup failed; 77 clang's libFuzzer is not available (callers may skip).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${FUZZ_TIME:=20}" "${FUZZ_RSS:=1024}" "${FUZZ_ARGS:=}" "${CLANG:=clang}"
if [ $# -ge 1 ]; then
  W=$1; mkdir -p "$W" || exit 2; OWN=0
else
  W=$(mktemp -d /tmp/tarn-fuzz-nbd.XXXXXX) || exit 2; OWN=1
fi
W=$(cd "$W" && pwd)
log() { printf 'fuzz_nbd: %s\n' "$*" >&2; }
fail_setup() { log "$*"; exit 2; }

printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' >"$W/probe.c"
if ! "$CLANG" -fsanitize=fuzzer "$W/probe.c" -o "$W/probe" >/dev/null 2>&1; then
  log "$CLANG -fsanitize=fuzzer does not link (no libFuzzer; Debian: libclang-rt-14-dev)"
  exit 77
fi

# ---- build ------------------------------------------------------------------------------------
SRCS=("$ROOT/src/util/err.c" "$ROOT"/src/util/sock*.c)
for f in "$ROOT"/src/nbd/*.c; do
  case ${f##*/} in test_*) continue ;; esac
  SRCS+=("$f")
done
t0=$(date +%s)
"$CLANG" -std=gnu11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -pthread -I"$ROOT/src" \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -o "$W/fuzz_nbd" "$ROOT/tests/fuzz/fuzz_nbd.c" "${SRCS[@]}" >"$W/build.log" 2>&1 ||
  { cat "$W/build.log" >&2; fail_setup "building fuzz_nbd failed"; }
log "built $W/fuzz_nbd in $(( $(date +%s) - t0 )) s"

# ---- seeds and dictionary ----------------------------------------------------------------------
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || fail_setup "no python3 for the seeds"
mkdir -p "$W/seeds" "$W/corpus"
"$PY" - "$W/seeds" <<'PYEOF' || fail_setup "writing the seeds failed"
import struct, sys, os
out = sys.argv[1]
OPT = 0x49484156454F5054
def opt(o, data=b""): return struct.pack(">QII", OPT, o, len(data)) + data
def s32(b): return struct.pack(">I", len(b)) + b
def info(name, reqs=()): return s32(name) + struct.pack(">H", len(reqs)) + b"".join(struct.pack(">H", r) for r in reqs)
def meta(name, qs): return s32(name) + struct.pack(">I", len(qs)) + b"".join(s32(q) for q in qs)
def req(flags, typ, off, length, handle=1, payload=b""):
    return struct.pack(">IHHQQI", 0x25609513, flags, typ, handle, off, length) + payload
FLAGS = struct.pack(">I", 3)
requests = (req(1, 1, 4096, 8192, 2, bytes(range(256)) * 32) + req(0, 0, 0, 16384, 3) + req(4, 0, 0, 16384, 4)
            + req(0, 7, 0, 65536, 5) + req(8, 7, 4096, 8192, 6) + req(0, 4, 8192, 4096, 7)
            + req(2, 6, 0, 4096, 8) + req(16, 6, 0, 8192, 9) + req(0, 5, 0, 4096, 10) + req(0, 3, 0, 0, 11)
            + req(0, 0, 262143, 2, 12) + req(0, 9, 0, 0, 13) + req(0, 1, 0, 0, 14) + req(0, 2, 0, 0, 15))
full = (FLAGS + opt(3) + opt(6, info(b"rw", (0, 1, 2, 3))) + opt(8) + opt(9, meta(b"rw", []))
        + opt(9, meta(b"rw", [b"fz:", b"base:"])) + opt(10, meta(b"rw", [b"base:allocation", b"fz:ctx"]))
        + opt(5) + opt(99, b"xyz") + opt(7, info(b"rw", (3,))) + requests)
seeds = {
    "full": b"\0" + full,
    "export-name": b"\0" + FLAGS + opt(1, b"rw") + requests,
    "abort": b"\0" + FLAGS + opt(3) + opt(2),
    "bad-info": b"\0" + FLAGS + opt(6, struct.pack(">I", 100) + b"rw") + opt(9, meta(b"rw", [])) + opt(7, info(b"nope")),
    "req-structured": b"\1" + requests,
    "req-simple": b"\2" + requests,
    "req-ro": b"\3" + requests,
    "req-eio": b"\5" + requests,
    "req-slowzero": b"\x09" + requests,
    "bad-magic": b"\1" + req(0, 0, 0, 512) + b"\0" * 28,
}
for k, v in seeds.items():
    with open(os.path.join(out, k), "wb") as f:
        f.write(v)
PYEOF
cat >"$W/nbd.dict" <<'DICTEOF'
"IHAVEOPT"
"NBDMAGIC"
"\x25\x60\x95\x13"
"\x00\x00\x00\x03"
"base:allocation"
"base:"
"fz:ctx"
"fz:"
"rw"
"ro"
"\x00\x00\x00\x07"
"\x00\x00\x00\x0a"
"\x00\x00\x00\x09"
"\x00\x00\x00\x08"
"\x00\x07"
"\x00\x06"
"\x02\x00\x00\x00"
"\x00\x00\x10\x00"
DICTEOF
log "$(ls "$W/seeds" | wc -l) seeds"

# ---- fuzz ---------------------------------------------------------------------------------------
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
# shellcheck disable=SC2086
"$W/fuzz_nbd" -max_total_time="$FUZZ_TIME" -rss_limit_mb="$FUZZ_RSS" -timeout=20 -max_len=65536 \
  -dict="$W/nbd.dict" -print_final_stats=1 -artifact_prefix="$W/" $FUZZ_ARGS "$W/corpus" "$W/seeds" \
  >"$W/fuzz.log" 2>&1
rc=$?
tail -n 30 "$W/fuzz.log" | grep -E 'stat::number_of_executed_units|stat::peak_rss|cov:|ERROR|SUMMARY|Done' | tail -n 6 >&2
found=$(ls "$W" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' || true)
if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
  log "FOUND something (exit $rc): ${found:-see the log}; log: $W/fuzz.log"
  grep -E 'ERROR|SUMMARY|#[0-9]+ 0x|fuzz_nbd:' "$W/fuzz.log" | head -n 20 >&2
  exit 1
fi
log "no crash in ${FUZZ_TIME}s ($(ls "$W/corpus" | wc -l) corpus entries)"
if [ "$OWN" = 1 ] && [ "${FUZZ_KEEP:-0}" != 1 ]; then rm -rf "$W"; fi
exit 0
