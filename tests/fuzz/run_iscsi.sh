#!/usr/bin/env bash
# tests/fuzz/run_nbd.sh — build the libFuzzer target tests/fuzz/fuzz_iscsi.c (the NBD server:
# handshake, options, requests) with clang -fsanitize=fuzzer,address,undefined, write seed
# connections and a dictionary of the protocol's magic numbers, and fuzz for a bounded time.
# Independent of the Makefile: it compiles src/util/err.c, src/util/sock*.c and src/iscsi/*.c (no unit tests) itself.
#
# usage: tests/fuzz/run_nbd.sh [WORKDIR]
#   WORKDIR      where the build, seeds, corpus and any crash files go (default: a new mktemp
#                dir, removed at the end unless something was found or FUZZ_KEEP=1)
# environment:
#   FUZZ_TIME    seconds of fuzzing (default 20)          FUZZ_RSS   -rss_limit_mb (default 1024)
#   FUZZ_ARGS    more libFuzzer options                   CLANG      the compiler (default clang)
# Exit status: 0 nothing found; 1 a crash / sanitizer report / leak / timeout (the reproducer
# is WORKDIR/crash-*, leak-*, timeout-* or oom-*; run `WORKDIR/fuzz_iscsi FILE` to repeat it);
# 2 setup failed; 77 clang's libFuzzer is not available (callers may skip).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${FUZZ_TIME:=20}" "${FUZZ_RSS:=1024}" "${FUZZ_ARGS:=}" "${CLANG:=clang}"
if [ $# -ge 1 ]; then
  W=$1; mkdir -p "$W" || exit 2; OWN=0
else
  W=$(mktemp -d /tmp/tarn-fuzz-iscsi.XXXXXX) || exit 2; OWN=1
fi
W=$(cd "$W" && pwd)
log() { printf 'fuzz_iscsi: %s\n' "$*" >&2; }
fail_setup() { log "$*"; exit 2; }

printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' >"$W/probe.c"
if ! "$CLANG" -fsanitize=fuzzer "$W/probe.c" -o "$W/probe" >/dev/null 2>&1; then
  log "$CLANG -fsanitize=fuzzer does not link (no libFuzzer; Debian: libclang-rt-14-dev)"
  exit 77
fi

# ---- build ------------------------------------------------------------------------------------
SRCS=("$ROOT/src/util/err.c" "$ROOT"/src/util/sock*.c)
for f in "$ROOT"/src/iscsi/*.c; do
  case ${f##*/} in test_*) continue ;; esac
  SRCS+=("$f")
done
t0=$(date +%s)
"$CLANG" -std=gnu11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -pthread -I"$ROOT/src" \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -o "$W/fuzz_iscsi" "$ROOT/tests/fuzz/fuzz_iscsi.c" "${SRCS[@]}" -lcrypto >"$W/build.log" 2>&1 ||
  { cat "$W/build.log" >&2; fail_setup "building fuzz_iscsi failed"; }
log "built $W/fuzz_iscsi in $(( $(date +%s) - t0 )) s"

# ---- seeds and dictionary ----------------------------------------------------------------------
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || fail_setup "no python3 for the seeds"
mkdir -p "$W/seeds" "$W/corpus"
"$PY" - "$W/seeds" <<'PYEOF' || fail_setup "writing the seeds failed"
import struct, sys, os
out = sys.argv[1]
def pad(b): return b + b"\0" * (-len(b) % 4)
def pdu(op, flags, itt=1, lun=0, f20=0, cmdsn=0, f28=0, rest=b"", data=b"", ahs=b""):
    h = bytes([op, flags, 0, 0, len(ahs) // 4]) + len(data).to_bytes(3, "big") + struct.pack(">QIIII", lun, itt, f20, cmdsn, f28)
    h += (rest + b"\0" * 16)[:16]
    return h + ahs + pad(data)
def kv(*p): return b"\0".join(x.encode() for x in p) + b"\0"
def cmd(itt, cmdsn, cdb, edtl=0, rd=False, wr=False, data=b"", final=True, lun=0):
    fl = (0x80 if final else 0) | (0x40 if rd else 0) | (0x20 if wr else 0) | 1
    return pdu(0x01, fl, itt, lun << 48, edtl, cmdsn, 0, cdb, data)
def dout(itt, ttt, datasn, off, data, final=True):
    return pdu(0x05, 0x80 if final else 0, itt, 0, ttt, 0, 0, struct.pack(">III", 0, datasn, off), data)
def cdb(*b): return bytes(b) + b"\0" * (16 - len(b))
w10 = lambda lba, n: cdb(0x2a, 0, *lba.to_bytes(4, "big"), 0, *n.to_bytes(2, "big"), 0)
r10 = lambda lba, n: cdb(0x28, 0, *lba.to_bytes(4, "big"), 0, *n.to_bytes(2, "big"), 0)
ffp = (cmd(1, 0, cdb(0x12, 0, 0, 0, 96), 96, rd=True) + cmd(2, 1, cdb(0x12, 1, 0x83, 0, 255), 255, rd=True)
       + cmd(3, 2, cdb(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32), 32, rd=True)
       + cmd(4, 3, w10(8, 2), 1024, wr=True, data=b"A" * 512, final=False) + dout(4, 0xffffffff, 0, 512, b"B" * 512)
       + cmd(5, 4, r10(8, 2), 1024, rd=True) + cmd(6, 5, cdb(0x89, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 1), 1024, wr=True, data=b"A" * 512 + b"C" * 512)
       + cmd(7, 6, cdb(0x42, 0, 0, 0, 0, 0, 0, 0, 24), 24, wr=True, data=struct.pack(">HHIQII", 22, 16, 0, 8, 4, 0))
       + cmd(8, 7, cdb(0x1a, 0, 0x3f, 0, 255), 255, rd=True) + cmd(9, 8, cdb(0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0), 256, rd=True)
       + cmd(10, 9, cdb(0x5f, 0, 1, 0, 0, 0, 0, 0, 24), 24, wr=True, data=b"\0" * 8 + b"\1" * 8 + b"\0" * 8)
       + pdu(0x40, 0x80, 11, 0, 0xffffffff, 10, 0, b"", b"ping") + pdu(0x42, 0x81, 12, 0, 5, 10, 0, struct.pack(">I", 9))
       + pdu(0x44, 0x80, 13, 0, 0xffffffff, 10, 0, b"", kv("SendTargets=All"))
       + pdu(0x46, 0x80, 14, 0, 0, 10))
r2t = (cmd(1, 0, w10(0, 64), 32768, wr=True) + dout(1, 1, 0, 0, b"x" * 4096, False) + dout(1, 1, 1, 4096, b"y" * 4096, False)
       + dout(1, 1, 2, 8192, b"z" * 8192) + cmd(2, 1, r10(0, 64), 32768, rd=True))
login = kv("InitiatorName=iqn.f:i", "TargetName=iqn.f:t", "SessionType=Normal", "HeaderDigest=CRC32C,None",
           "DataDigest=None", "MaxRecvDataSegmentLength=8192", "ImmediateData=Yes", "InitialR2T=No")
chap = (pdu(0x43, 0x81, 1, 0x80000000000100 << 8, 0, 0, 0, b"", kv("InitiatorName=iqn.f:i", "TargetName=iqn.f:c", "AuthMethod=CHAP,None"))
        + pdu(0x43, 0x81, 2, 0, 0, 0, 0, b"", kv("CHAP_A=5")) + pdu(0x43, 0x81, 3, 0, 0, 0, 0, b"", kv("CHAP_N=u", "CHAP_R=0x00112233445566778899aabbccddeeff", "CHAP_I=3", "CHAP_C=0x0102")))
seeds = {
    "raw-login": b"\0" + pdu(0x43, 0x87, 1, 0, 0, 0, 0, b"", login) + ffp,
    "raw-twostage": b"\0" + pdu(0x43, 0x81, 1, 0, 0, 0, 0, b"", kv("InitiatorName=iqn.f:i", "TargetName=iqn.f:t", "AuthMethod=None"))
                   + pdu(0x43, 0x87, 2, 0, 0, 0, 0, b"", kv("MaxBurstLength=4096", "X-foo=bar")) + ffp,
    "raw-chap": b"\0" + chap,
    "raw-continued": b"\0" + pdu(0x43, 0x47, 1, 0, 0, 0, 0, b"", login[:20]) + pdu(0x43, 0x87, 1, 0, 0, 0, 0, b"", login[20:]),
    "ffp": b"\1" + ffp, "ffp-eio": b"\5" + ffp, "discovery": b"\2" + ffp, "r2t": b"\3" + r2t + ffp,
    "bad-opcode": b"\1" + pdu(0x1c, 0x80) + pdu(0x05, 0x80, 77, 0, 5, 0, 0, b"", b"abcd"),
    "ahs": b"\1" + pdu(0x01, 0xa1, 1, 0, 16, 0, 0, cdb(0x7f), b"", struct.pack(">HBB", 17, 1, 0) + b"\x7f" + b"\0" * 15 + b"\0" * 3),
}
for k, v in seeds.items():
    with open(os.path.join(out, k), "wb") as f:
        f.write(v)
PYEOF
cat >"$W/iscsi.dict" <<'DICTEOF'
"\x43\x87"
"\x01\x81"
"\x01\xa1"
"\x01\xc1"
"\x05\x80"
"\xff\xff\xff\xff"
"InitiatorName=iqn.f:i"
"TargetName=iqn.f:t"
"SessionType=Discovery"
"SessionType=Normal"
"HeaderDigest=CRC32C"
"DataDigest=CRC32C"
"AuthMethod=CHAP"
"CHAP_A=5"
"CHAP_R=0x"
"MaxRecvDataSegmentLength="
"FirstBurstLength="
"MaxBurstLength="
"InitialR2T=Yes"
"ImmediateData=No"
"SendTargets=All"
"\x00\x00\x02\x00"
DICTEOF
log "$(ls "$W/seeds" | wc -l) seeds"

# ---- fuzz ---------------------------------------------------------------------------------------
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
# shellcheck disable=SC2086
"$W/fuzz_iscsi" -max_total_time="$FUZZ_TIME" -rss_limit_mb="$FUZZ_RSS" -timeout=20 -max_len=65536 \
  -dict="$W/iscsi.dict" -print_final_stats=1 -artifact_prefix="$W/" $FUZZ_ARGS "$W/corpus" "$W/seeds" \
  >"$W/fuzz.log" 2>&1
rc=$?
tail -n 30 "$W/fuzz.log" | grep -E 'stat::number_of_executed_units|stat::peak_rss|cov:|ERROR|SUMMARY|Done' | tail -n 6 >&2
found=$(ls "$W" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' || true)
if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
  log "FOUND something (exit $rc): ${found:-see the log}; log: $W/fuzz.log"
  grep -E 'ERROR|SUMMARY|#[0-9]+ 0x|fuzz_iscsi:' "$W/fuzz.log" | head -n 20 >&2
  exit 1
fi
log "no crash in ${FUZZ_TIME}s ($(ls "$W/corpus" | wc -l) corpus entries)"
if [ "$OWN" = 1 ] && [ "${FUZZ_KEEP:-0}" != 1 ]; then rm -rf "$W"; fi
exit 0
