#!/usr/bin/env bash
# The iSCSI target (src/iscsi) against real initiators: tests/lib/iscsimem.c (the target over
# the in-memory backend: LUN 0 writable 64 MiB thin, LUN 1 read-only 1 MiB with byte i = i %
# 251) listens on 127.0.0.1 at a free port, and libiscsi's tools (iscsi-ls, iscsi-inq,
# iscsi-readcapacity16, a bounded subset of the conformance suite iscsi-test-cu) and qemu-img
# (iscsi:// URLs, qemu-block-extra) talk to it; a second server with CHAP secrets checks
# one-way and mutual CHAP. Under TARN_SANITIZED=1 iscsimem is built with clang's ASan+UBSan and
# its log is checked for reports. Servers are killed at exit. Parts whose client is missing are
# skipped (Debian: libiscsi-bin, qemu-utils + qemu-block-extra). The whole conformance run
# against tgt is bench/conformance.sh.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

ISCSIMEM=$T/iscsimem
SRCS=("$TARN_SRC/tests/lib/iscsimem.c" "$TARN_SRC/src/util/err.c" "$TARN_SRC"/src/util/sock*.c)
for f in "$TARN_SRC"/src/iscsi/*.c; do
  case ${f##*/} in test_*) continue ;; esac
  SRCS+=("$f")
done
if [ "$TARN_SANITIZED" = 1 ] && command -v clang >/dev/null 2>&1; then
  BUILD=(clang -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -O1)
else
  BUILD=("${CC:-cc}" -O2)
fi
"${BUILD[@]}" -g -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE -pthread -I"$TARN_SRC/src" \
  -o "$ISCSIMEM" "${SRCS[@]}" -lcrypto >"$T/.build.log" 2>&1 || { cat "$T/.build.log" >&2; t_skip_all "cannot build tests/lib/iscsimem.c"; }
command -v iscsi-ls >/dev/null 2>&1 || t_skip_all "no iscsi-ls (Debian: libiscsi-bin)"

have() { command -v "$1" >/dev/null 2>&1; }
skip() { t_ok "# SKIP $1" true; }
MiB=1048576
IQN=iqn.2024-01.org.tarn:test
PIDS=()
stop_servers() {
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  PIDS=()
}
trap 'stop_servers; _t_cleanup' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# start NAME ARGS...: an iscsimem; sets PORT
start() {
  local name=$1; shift
  "$ISCSIMEM" "$@" >"$T/$name.out" 2>"$T/$name.err" &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q '^ready' "$T/$name.out" 2>/dev/null && break; sleep 0.1; done
  PORT=$(awk '/^ready/ {print $2}' "$T/$name.out")
}
start main -t "$IQN" 64M 127.0.0.1:0
t_ok "iscsimem listens on 127.0.0.1:$PORT" test -n "$PORT" -a "${PORT:-0}" -gt 0
MAINPID=${PIDS[0]}
U="iscsi://127.0.0.1:$PORT/$IQN"

# ---- discovery and inquiry ----------------------------------------------------------------------
t_ok "iscsi-ls -s (discovery, then a normal session per target)" timeout 30 iscsi-ls -s "iscsi://127.0.0.1:$PORT"
t_match "... lists the target with its portal" "$T_OUT" "Target:$IQN Portal:127.0.0.1:$PORT,1"
t_match "... LUN 0 64 MiB" "$T_OUT" 'Lun:0 +Type:DIRECT_ACCESS \(Size:63M\)'
t_match "... LUN 1" "$T_OUT" 'Lun:1 +Type:DIRECT_ACCESS'
t_ok "iscsi-inq (standard)" timeout 30 iscsi-inq "$U/0"
t_match "... vendor TARN" "$T_OUT" '^Vendor:TARN'
t_match "... SPC-4" "$T_OUT" 'Version Descriptor:0460 SPC-4'
t_ok "iscsi-inq -e 1 -c 0 (supported VPD pages)" timeout 30 iscsi-inq -e 1 -c 0 "$U/0"
t_match "... block limits and provisioning pages" "$(printf '%s\n' "$T_OUT" | tr '\n' ' ')" 'BLOCK_LIMITS.*BLOCK_DEVICE_CHARACTERISTICS.*LOGICAL_BLOCK_PROVISIONING'
t_ok "iscsi-inq -e 1 -c 131 (0x83 device identification)" timeout 30 iscsi-inq -e 1 -c 131 "$U/0"
t_match "... an NAA designator of the LU" "$(printf '%s\n' "$T_OUT" | tr '\n' ' ')" 'Association:\(0\) LOGICAL_UNIT Designator Type:\(3\) NAA'
t_match "... the target port's SCSI name" "$T_OUT" "Designator:\\[$IQN,t,0x0001\\]"
t_ok "iscsi-inq -e 1 -c 128 (0x80 unit serial number)" timeout 30 iscsi-inq -e 1 -c 128 "$U/0"
t_match "... serial" "$T_OUT" 'Unit Serial Number:\[tarnmem'
t_ok "iscsi-inq -e 1 -c 176 (0xb0 block limits)" timeout 30 iscsi-inq -e 1 -c 176 "$U/0"
t_match "... unmap limits" "$T_OUT" 'maximum unmap block descriptor count:256'
t_ok "iscsi-inq -e 1 -c 178 (0xb2 logical block provisioning)" timeout 30 iscsi-inq -e 1 -c 178 "$U/0"
t_match "... thin, UNMAP supported" "$(printf '%s\n' "$T_OUT" | tr '\n' ' ')" 'lbpu:1 lbpws:1 lbpws10:1 lbprz:1 .*provisioning type:2'
t_ok "iscsi-readcapacity16" timeout 30 iscsi-readcapacity16 "$U/0"
t_match "... 131072 blocks of 512 bytes, thin" "$(printf '%s\n' "$T_OUT" | tr '\n' ' ')" \
  'RETURNED LOGICAL BLOCK ADDRESS:131071 LOGICAL BLOCK LENGTH IN BYTES:512 .*LBPME:1 LBPRZ:1'
t_fail "iscsi-inq on an unknown target fails" timeout 30 iscsi-inq "iscsi://127.0.0.1:$PORT/iqn.2024-01.org.tarn:nope/0"

# ---- qemu-img ------------------------------------------------------------------------------------
if have qemu-img && qemu-img --help 2>/dev/null | grep -qw iscsi; then
  img=$T/src.img
  { head -c $((4 * MiB)) /dev/urandom; head -c $((2 * MiB)) /dev/zero; head -c $((3 * MiB)) /dev/urandom; } >"$img"
  truncate -s 64M "$img"
  t_ok "qemu-img info" timeout 30 qemu-img info "$U/0"
  t_match "... virtual size 64 MiB" "$T_OUT" 'virtual size: 64 MiB \(67108864 bytes\)'
  t_ok "qemu-img convert a 64 MiB image onto LUN 0" timeout 120 qemu-img convert -n -f raw -O raw "$img" "$U/0"
  t_ok "qemu-img compare: identical" timeout 120 qemu-img compare -f raw -F raw "$img" "$U/0"
  t_ok "qemu-img convert LUN 0 back into a file" timeout 120 qemu-img convert -f raw -O raw "$U/0" "$T/back.img"
  t_ok "... the same bytes" cmp "$img" "$T/back.img"
  # one byte changed for sure (writing a fixed byte over random data is a no-op 1 time in 256)
  b=$(od -An -tu1 -j $((7 * MiB)) -N1 "$img" | tr -d ' ')
  printf "\\$(printf '%03o' $((255 - b)))" | dd of="$img" bs=1 seek=$((7 * MiB)) conv=notrunc 2>/dev/null
  t_fail "qemu-img compare notices one changed byte" timeout 120 qemu-img compare -f raw -F raw "$img" "$U/0"
  t_ok "qemu-img convert the read-only LUN 1" timeout 60 qemu-img convert -f raw -O raw "$U/1" "$T/ro.img"
  t_eq "... byte i is i % 251" "$(od -An -tu1 -j 500 -N 4 "$T/ro.img" | tr -s ' ')" " 249 250 0 1"
  t_fail "qemu-img convert onto the read-only LUN fails" timeout 60 qemu-img convert -n -f raw -O raw "$T/ro.img" "$U/1"
  if have qemu-io; then
    t_ok "qemu-io: discard, write, read over iSCSI" timeout 60 qemu-io -f raw -c "discard 0 1M" -c "write -P 0x5a 1M 64k" \
      -c "read -P 0 0 1M" -c "read -P 0x5a 1M 64k" "$U/0"
    t_eq "... every pattern verified" "$(printf '%s\n' "$T_OUT" | grep -c 'Pattern verification failed')" 0
    # many commands in flight on one connection: 256 4K writes with a pattern each at scattered
    # blocks of 16M..32M, all submitted before any completes (aio_*), then read back that way
    aw=(); ar=()
    for i in $(seq 0 255); do
      off=$((16 * MiB + ((i * 97) % 4096) * 4096)); pat=$((i % 250 + 1))
      aw+=(-c "aio_write -P $pat $off 4k"); ar+=(-c "aio_read -P $pat $off 4k")
    done
    t_ok "qemu-io: 256 4K writes in flight at once" timeout 60 qemu-io -f raw "${aw[@]}" -c aio_flush "$U/0"
    t_eq "... all 256 completed" "$(printf '%s\n' "$T_OUT" | grep -c '^wrote 4096/4096 bytes')" 256
    t_ok "... read back 256 at once" timeout 60 qemu-io -f raw "${ar[@]}" -c aio_flush "$U/0"
    t_eq "... all 256 read, each block its own pattern" \
      "$(printf '%s\n' "$T_OUT" | grep -c '^read 4096/4096 bytes') $(printf '%s\n' "$T_OUT" | grep -c 'Pattern verification failed')" "256 0"
  fi
else
  skip "no qemu-img with the iscsi driver (Debian: qemu-utils, qemu-block-extra)"
fi

# ---- iscsi-test-cu: a bounded subset that passes ---------------------------------------------
if have iscsi-test-cu; then
  cu_run() { # FAMILY.SUITE...
    local s rc=0
    for s in "$@"; do
      timeout 60 iscsi-test-cu -d -s --test="$s" "$U/0" >"$T/cu.$s.log" 2>&1 || rc=1
      grep -E '^ +tests' "$T/cu.$s.log" | awk -v s="$s" '{print s, "ran", $3, "passed", $4, "failed", $5}'
    done
    return $rc
  }
  t0=$(date +%s)
  t_ok "iscsi-test-cu --dataloss: SBC/SPC and iSCSI suites" cu_run ALL.TestUnitReady ALL.Inquiry ALL.ReadCapacity10 \
    ALL.ReadCapacity16 ALL.Read10 ALL.Read16 ALL.Write10 ALL.Write16 ALL.Verify16 ALL.WriteSame16 ALL.Unmap \
    ALL.GetLBAStatus.Simple ALL.GetLBAStatus.BeyondEol ALL.CompareAndWrite ALL.ModeSense6 ALL.ReportSupportedOpcodes ALL.Reserve6 ALL.ProutReserve \
    ALL.iSCSIcmdsn ALL.iSCSIdatasn ALL.iSCSIResiduals ALL.iSCSITMF
  t_eq "... no test failed" "$(printf '%s\n' "$T_OUT" | awk '$7 != 0')" ""
  t_eq "... all of the $(printf '%s\n' "$T_OUT" | awk '{n += $3} END {print n}') tests passed" "$(printf '%s\n' "$T_OUT" | awk '{n += $5} END {print n}')" \
    "$(printf '%s\n' "$T_OUT" | awk '{n += $3} END {print n}')"
  t_diag "iscsi-test-cu subset: $(( $(date +%s) - t0 )) s"
else
  skip "no iscsi-test-cu (Debian: libiscsi-bin)"
fi

# ---- CHAP ---------------------------------------------------------------------------------------
start chap -c alice:alicesecret12:targetsecret9 "$IQN" 4M 127.0.0.1:0
CU="iscsi://127.0.0.1:$PORT/$IQN/0"
t_ok "CHAP: the right secret logs in" timeout 30 iscsi-inq "iscsi://alice%alicesecret12@127.0.0.1:$PORT/$IQN/0"
t_fail "CHAP: a wrong secret is refused" timeout 30 iscsi-inq "iscsi://alice%wrongsecret12@127.0.0.1:$PORT/$IQN/0"
t_fail "CHAP: no secret is refused" timeout 30 iscsi-inq "$CU"
t_ok "mutual CHAP (target secret given to the initiator)" \
  env LIBISCSI_CHAP_TARGET_USERNAME="$IQN" LIBISCSI_CHAP_TARGET_PASSWORD=targetsecret9 \
  timeout 30 iscsi-inq "iscsi://alice%alicesecret12@127.0.0.1:$PORT/$IQN/0"
t_fail "... a wrong target secret is noticed by the initiator" \
  env LIBISCSI_CHAP_TARGET_USERNAME="$IQN" LIBISCSI_CHAP_TARGET_PASSWORD=notthesecret \
  timeout 30 iscsi-inq "iscsi://alice%alicesecret12@127.0.0.1:$PORT/$IQN/0"

# ---- shutdown with an initiator connected -------------------------------------------------------
kill "$MAINPID"
for _ in $(seq 100); do kill -0 "$MAINPID" 2>/dev/null || break; sleep 0.1; done
t_eq "SIGTERM: iscsimem stops" "$(kill -0 "$MAINPID" 2>/dev/null && echo running || echo stopped)" stopped
wait "$MAINPID"
t_eq "... exit status 0 (target freed cleanly)" "$?" 0
stop_servers
t_eq "no sanitizer report in the servers' logs" \
  "$(cat "$T"/main.err "$T"/chap.err | grep -cE 'ERROR: (Address|Leak)Sanitizer|runtime error:')" 0
t_done
