#!/usr/bin/env bash
# The NBD server (src/nbd) against real clients: tests/lib/nbdmem.c (the server over the
# in-memory backend: "mem" writable 64 MiB, "ro" read-only 1 MiB with byte i = i % 251, meta
# context nbdmem:dirty) listens on a Unix socket in $T and on 127.0.0.1 at a free port, and
# nbdinfo, qemu-img, qemu-io, nbdcopy, fio and nbdsh (libnbd in python: the protocol corners of
# tests/lib/nbdcorners.py) talk to it. Under TARN_SANITIZED=1 nbdmem is built with clang's
# ASan+UBSan and its log is checked for reports. The server is killed at exit. Parts whose
# client is missing are skipped (Debian: qemu-utils, libnbd-bin, python3-libnbd, fio).
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

NBDMEM=$T/nbdmem
SRCS=("$TARN_SRC/tests/lib/nbdmem.c" "$TARN_SRC/src/util/err.c" "$TARN_SRC"/src/util/sock*.c)
for f in "$TARN_SRC"/src/nbd/*.c; do
  case ${f##*/} in test_*) continue ;; esac
  SRCS+=("$f")
done
if [ "$TARN_SANITIZED" = 1 ] && command -v clang >/dev/null 2>&1; then
  BUILD=(clang -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -O1)
else
  BUILD=("${CC:-cc}" -O2)
fi
"${BUILD[@]}" -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -I"$TARN_SRC/src" -o "$NBDMEM" \
  "${SRCS[@]}" >"$T/.build.log" 2>&1 || { cat "$T/.build.log" >&2; t_skip_all "cannot build tests/lib/nbdmem.c"; }
command -v nbdinfo >/dev/null 2>&1 || t_skip_all "no nbdinfo (Debian: libnbd-bin)"

have() { command -v "$1" >/dev/null 2>&1; }
skip() { t_ok "# SKIP $1" true; }
MiB=1048576
SOCK=$T/nbd.sock
U="nbd+unix:///mem?socket=$SOCK"
URO="nbd+unix:///ro?socket=$SOCK"
SPID=
stop_server() {
  if [ -n "$SPID" ]; then
    kill "$SPID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
    SPID=
  fi
}
trap 'stop_server; _t_cleanup' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
"$NBDMEM" 64M "$SOCK" 127.0.0.1:0 >"$T/nbdmem.out" 2>"$T/nbdmem.err" &
SPID=$!
for _ in $(seq 100); do grep -q '^ready' "$T/nbdmem.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/^ready/ {print $2}' "$T/nbdmem.out")
t_ok "nbdmem listens on $SOCK and 127.0.0.1:$PORT" test -S "$SOCK" -a -n "$PORT" -a "${PORT:-0}" -gt 0
UT="nbd://127.0.0.1:$PORT/mem"

# ---- protocol corners with libnbd (first: they expect a fresh export) --------------------------
if PATH=/usr/bin:$PATH nbdsh --version >/dev/null 2>&1; then
  t_ok "nbdsh: tests/lib/nbdcorners.py runs" \
    env NBD_SOCK="$SOCK" PATH="/usr/bin:$PATH" timeout 120 nbdsh -c "exec(open('$TARN_SRC/tests/lib/nbdcorners.py').read())"
  corners=$T_OUT
  for c in structured-negotiated meta-contexts flags read-chunks read-data read-df bs-base bs-dirty bs-req-one \
           unaligned fast-zero-hole fast-zero-no-hole-enotsup zero-no-hole-allocated trim-cache-flush \
           read-beyond-einval write-beyond-enospc trim-beyond-einval zero-beyond-enospc bs-without-context-einval \
           read-req-one-einval still-usable simple-no-structured simple-read simple-df-einval ro-flags ro-data \
           ro-write-eperm ro-trim-eperm opt-list opt-list-meta opt-info-unknown opt-info; do
    t_match "nbdsh: $c" "$corners" "^ok $c\$"
  done
else
  skip "nbdsh with python3-libnbd not available"
fi

# ---- nbdinfo ------------------------------------------------------------------------------------
t_ok "nbdinfo --list" timeout 30 nbdinfo --list "nbd+unix:///?socket=$SOCK"
t_match "... lists mem with its description" "$T_OUT" 'description: tarn nbdmem test export'
t_match "... lists ro" "$T_OUT" '^export="ro":'
t_match "... ro is read-only" "$(printf '%s\n' "$T_OUT" | sed -n '/^export="ro"/,$p')" 'is_read_only: true'
t_ok "nbdinfo mem over TCP" timeout 30 nbdinfo "$UT"
t_match "... size 64 MiB" "$T_OUT" 'export-size: 67108864'
t_match "... structured replies" "$T_OUT" 'using structured packets'
t_match "... block sizes 1 / 4096 / 32M" "$(printf '%s\n' "$T_OUT" | grep block_size | tr -d '\t' | tr '\n' ' ')" \
  'block_size_minimum: 1 block_size_preferred: 4096 block_size_maximum: 33554432'
# mapN: the first N lines of `nbdinfo --map` output ($T_OUT) as "offset length type;..."
mapN() { printf '%s\n' "$T_OUT" | head -n "$1" | awk '{printf "%s %s %s;", $1, $2, $3}'; }
t_ok "nbdinfo --map" timeout 30 nbdinfo --map "$U"
t_eq "... a hole up to the 48 MiB nbdsh wrote at" "$(mapN 1)" "0 50331648 3;"

# ---- qemu-io: patterns, unaligned, discard, zero ------------------------------------------------
if have qemu-io; then
  qio() { timeout 60 qemu-io -f raw "$@"; }
  t_ok "qemu-io: write patterns (Unix socket)" qio -c "write -P 0xaa 0 1M" -c "write -P 0xbb 2M 64k" \
    -c "write -P 0xcc 1000 3000" -c "write -P 0xdd 3M 1M" "$U"
  t_ok "qemu-io: read them back over TCP" qio -c "read -P 0xaa 0 1000" -c "read -P 0xcc 1000 3000" \
    -c "read -P 0xaa 4000 1044576" -c "read -P 0 1M 1M" -c "read -P 0xbb 2M 64k" -c "read -P 0xdd 3M 1M" "$UT"
  t_eq "... every pattern verified" "$(printf '%s\n' "$T_OUT" | grep -c 'Pattern verification failed')" 0
  t_fail "qemu-io: a wrong pattern fails (the check works)" qio -c "read -P 0xab 0 512" "$U"
  t_match "... Pattern verification failed" "$T_OUT$T_ERR" 'Pattern verification failed at offset 0'

  t_ok "qemu-io: discard 64k, write -z -u (may unmap), write -z (no hole), FUA write, flush" \
    qio -c "discard 2M 64k" -c "write -z -u 3M 512k" -c "write -z 3584k 256k" -c "write -f -P 0xee 5M 4k" \
    -c "flush" "$U"
  t_ok "qemu-io: zeroes read back, FUA data there" qio -c "read -P 0 2M 64k" -c "read -P 0 3M 768k" \
    -c "read -P 0xdd 3840k 256k" -c "read -P 0xee 5M 4k" "$U"
  t_eq "... every pattern verified" "$(printf '%s\n' "$T_OUT" | grep -c 'Pattern verification failed')" 0
  t_ok "nbdinfo --map after the writes" timeout 30 nbdinfo --map "$U"
  t_eq "... holes after discard and write -z -u, data for write -z (NO_HOLE)" "$(mapN 6)" \
    "0 1048576 0;1048576 2621440 3;3670016 524288 0;4194304 1048576 3;5242880 4096 0;5246976 45084672 3;"
  t_ok "nbdinfo --map=nbdmem:dirty" timeout 30 nbdinfo --map=nbdmem:dirty "$U"
  t_eq "... the changed ranges are dirty" "$(mapN 7)" \
    "0 1048576 1;1048576 1048576 0;2097152 65536 1;2162688 983040 0;3145728 1048576 1;4194304 1048576 0;5242880 4096 1;"
  t_fail "qemu-io: writing to the read-only export fails" qio -c "write -P 1 0 512" "$URO"
  t_ok "qemu-io -r: reading the read-only export works" qio -r -c "read 0 64k" "$URO"
  # several clients at once (one thread per connection, multi-conn)
  pids=()
  for i in 0 1 2 3; do
    qio -c "write -P $((0x10 + i)) $((8 + 2 * i))M 2M" "$U" >"$T/par$i.log" 2>&1 &
    pids+=($!)
  done
  rcs=
  for p in "${pids[@]}"; do wait "$p"; rcs="$rcs$?"; done
  t_eq "qemu-io: 4 clients writing at once all succeed" "$rcs" "0000"
  t_ok "... and each region reads back" qio -c "read -P 0x10 8M 2M" -c "read -P 0x11 10M 2M" \
    -c "read -P 0x12 12M 2M" -c "read -P 0x13 14M 2M" "$UT"
  t_eq "... every pattern verified" "$(printf '%s\n' "$T_OUT" | grep -c 'Pattern verification failed')" 0
else
  skip "no qemu-io (Debian: qemu-utils)"
fi

# ---- qemu-img: info, convert, compare -----------------------------------------------------------
img=$T/src.img
{ head -c $((4 * MiB)) /dev/urandom; head -c $((2 * MiB)) /dev/zero; head -c $((3 * MiB)) /dev/urandom; } >"$img"
truncate -s 64M "$img"
if have qemu-img; then
  t_ok "qemu-img info" timeout 30 qemu-img info "$U"
  t_match "... virtual size 64 MiB" "$T_OUT" 'virtual size: 64 MiB \(67108864 bytes\)'
  t_ok "qemu-img convert a 64 MiB image into the export (TCP)" timeout 120 qemu-img convert -n -f raw -O raw "$img" "$UT"
  t_ok "qemu-img compare: identical" timeout 120 qemu-img compare -f raw -F raw "$img" "$U"
  t_ok "nbdinfo --map after convert" timeout 30 nbdinfo --map "$U"
  t_match "... the zero part of the image is a hole" "$(printf '%s\n' "$T_OUT" | awk '{print $1, $2, $3}')" \
    '^4194304 2097152 3$'
  # one byte changed for sure (writing a fixed byte over random data is a no-op 1 time in 256)
  b=$(od -An -tu1 -j $((7 * MiB)) -N1 "$img" | tr -d ' ')
  printf "\\$(printf '%03o' $((255 - b)))" | dd of="$img" bs=1 seek=$((7 * MiB)) conv=notrunc 2>/dev/null
  t_fail "qemu-img compare notices one changed byte" timeout 120 qemu-img compare -f raw -F raw "$img" "$U"
else
  skip "no qemu-img (Debian: qemu-utils)"
fi

# ---- nbdcopy both ways --------------------------------------------------------------------------
if have nbdcopy; then
  { head -c $((5 * MiB)) /dev/urandom; head -c $((1 * MiB)) /dev/zero; head -c $((7 * MiB)) /dev/urandom; } >"$T/in.img"
  truncate -s 64M "$T/in.img"
  t_ok "nbdcopy file -> export" timeout 120 nbdcopy "$T/in.img" "$U"
  t_ok "nbdcopy export -> file (TCP)" timeout 120 nbdcopy "$UT" "$T/out.img"
  t_ok "... the same bytes" cmp "$T/in.img" "$T/out.img"
  t_ok "nbdcopy the read-only export" timeout 60 nbdcopy "$URO" "$T/ro.img"
  t_eq "... byte i is i % 251" "$(od -An -tu1 -j 500 -N 4 "$T/ro.img" | tr -s ' ')" " 249 250 0 1"
  t_eq "... 1 MiB" "$(stat -c %s "$T/ro.img")" $MiB
else
  skip "no nbdcopy (Debian: libnbd-bin)"
fi

# ---- fio with verification ----------------------------------------------------------------------
if have fio && fio --enghelp 2>/dev/null | grep -qw nbd; then
  t_ok "fio: random writes with verify over nbd (iodepth 8)" eval '(cd "$T" && timeout 120 fio --name=nbdv --ioengine=nbd \
    --uri="$U" --rw=randwrite --bs=4k --size=8M --iodepth=8 --verify=crc32c --do_verify=1 --offset=16M)' # (its verify state file goes to $T)
  t_match "... no verification error" "$T_OUT" 'err= 0'
else
  skip "no fio with the nbd engine"
fi

# ---- shutting down with a client connected ------------------------------------------------------
if PATH=/usr/bin:$PATH nbdsh --version >/dev/null 2>&1; then
  PATH=/usr/bin:$PATH timeout 60 nbdsh -u "$U" -c 'import time; time.sleep(30)' >/dev/null 2>&1 &
  idle=$!
  sleep 1
fi
kill "$SPID"
for _ in $(seq 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
t_eq "SIGTERM with a client connected: nbdmem stops" "$(kill -0 "$SPID" 2>/dev/null && echo running || echo stopped)" stopped
wait "$SPID"
t_eq "... exit status 0 (server freed cleanly)" "$?" 0
SPID=
[ -n "${idle:-}" ] && { kill "$idle" 2>/dev/null; wait "$idle" 2>/dev/null; }
t_ok "... and removed its socket" test ! -e "$SOCK"
t_eq "no sanitizer report in the server's log" \
  "$(grep -cE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/nbdmem.err")" 0
t_done
