#!/usr/bin/env bash
# bench/iscsi.sh — iSCSI serving: tarnd against Debian's tgt (tgtd), side by side in one run.
#
#   bash bench/iscsi.sh [--dir DIR] [--size SIZE] [--reps N] [--rcount N] [--port PORT]
#                       [--wait-load LOAD] [--keep]
#
# Three targets run at the same time on 127.0.0.1, with their data on the same filesystem (DIR
# [/var/tmp/tarn-iscsibench], the repo's disk by default): tarnd on PORT [13260] serving a sparse
# volume of SIZE [2G] with tarn's default properties as LUN 0 of an itadm target (write-back cache
# on, `stmfadm modify-lu -p wcd=false`), and one tgtd on PORT+1 with two targets, each serving its
# own sparse raw file of SIZE as LUN 1 (tgt's rdwr backing store, its default write cache on):
# "tgt" with tgt's default iSCSI parameters (MaxRecvDataSegmentLength 8K, FirstBurstLength 64K,
# MaxBurstLength 256K, InitialR2T=Yes) and "tgt-tuned" (MaxRecv/MaxXmitDataSegmentLength 1M,
# FirstBurstLength 1M, MaxBurstLength 16776192, ImmediateData=Yes, InitialR2T=No). tarnd keeps
# its defaults. The initiator is libiscsi (qemu-img's iscsi driver, iscsi-perf) for all three:
#   1. sequential write of SIZE: `qemu-img convert -n -W -m 8 -t writeback SRC URL` (SRC: SIZE
#      bytes of /dev/urandom in /dev/shm; 2 MiB requests, 8 in flight, SYNCHRONIZE CACHE at the
#      end), then a sequential read: `qemu-img bench -s 1M -d 8` over SIZE after drop_caches;
#      --reps [2] rounds, servers in rotating order, median; the data is compared with SRC after.
#   2. 4K random read, then 4K random write, queue depth 16, --rcount [150000] requests each,
#      `qemu-img bench -s 4k -d 16 -S STEP` (qemu-img bench has no random mode: STEP is an odd
#      multiple of 4K near 0.618 x SIZE, so request k goes to k x STEP mod SIZE, a permutation
#      of the 4K blocks that jumps across the whole LU), drop_caches before each; and a truly
#      random read cross-check with `iscsi-perf -r -m 16 -b 8` for 10 s per server. The random
#      rows are also run against a second tarnd LU (LUN 1) on a volume with volblocksize=4K,
#      filled once from SRC: at the default 16K a 4K write reads and rewrites a 16K block.
#   3. peak RSS (VmHWM) of tarnd and tgtd, CPU time (user+sys) of the server in each measurement.
# Prints a markdown table with ratios tarn/tgt and tarn/tgt-tuned against the goals of issue 7
# (sequential >= 1.0x tuned tgt, random write >= 0.7x tgt), then the exact commands. Run as
# root (drop_caches, tgtd). With --wait-load, first waits (at most 5 minutes, checking every
# 30 s) for the 1-minute load average to fall below LOAD, then runs anyway. Takes about 3-4
# minutes; stops the servers and removes DIR and the source file at exit unless --keep.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
CMDLINE="bash bench/iscsi.sh"
for a in "$@"; do CMDLINE+=" $(printf '%q' "$a")"; done

DIR=/var/tmp/tarn-iscsibench
SIZE=2G
REPS=2
RCOUNT=150000
PERF_S=10
PORT=13260
WAIT_LOAD=
KEEP=0
usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
	case "$1" in
	--dir) DIR=$2; shift 2 ;;
	--size) SIZE=$2; shift 2 ;;
	--reps) REPS=$2; shift 2 ;;
	--rcount) RCOUNT=$2; shift 2 ;;
	--port) PORT=$2; shift 2 ;;
	--wait-load) WAIT_LOAD=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	-h | --help) usage 0 ;;
	*) echo "iscsi.sh: unknown argument '$1'" >&2; usage >&2 ;;
	esac
done

die() { echo "iscsi.sh: $*" >&2; exit 1; }
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

to_bytes() { # N, NK, NM, NG (powers of 1024) -> bytes
	local s=$1 n u
	n=${s%[KkMmGg]}
	u=${s#"$n"}
	[[ $n =~ ^[0-9]+$ ]] || die "bad size '$s'"
	case "$u" in
	"") echo "$n" ;;
	[Kk]) echo $((n << 10)) ;;
	[Mm]) echo $((n << 20)) ;;
	[Gg]) echo $((n << 30)) ;;
	esac
}
MIB=$((1 << 20))
SIZE_B=$(to_bytes "$SIZE")
[ $((SIZE_B % MIB)) -eq 0 ] && [ "$SIZE_B" -ge $((64 * MIB)) ] || die "--size must be a multiple of 1M, >= 64M"
[[ $REPS =~ ^[1-9][0-9]*$ ]] && [ "$REPS" -le 20 ] || die "--reps must be 1..20"
[[ $RCOUNT =~ ^[1-9][0-9]*$ ]] || die "--rcount must be a positive number"
[[ $PORT =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1024 ] && [ "$PORT" -le 65534 ] || die "--port must be 1024..65534"
[ -z "$WAIT_LOAD" ] || [[ $WAIT_LOAD =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--wait-load must be a number"
[ "$(id -u)" -eq 0 ] || die "run as root (drop_caches, tgtd)"
for c in tgtd tgtadm qemu-img iscsi-perf iscsi-ls; do
	command -v $c >/dev/null || die "$c is missing (apt-get install tgt qemu-utils qemu-block-extra libiscsi-bin)"
done
qemu-img --help 2>/dev/null | grep -qw iscsi || die "qemu-img has no iscsi driver (apt-get install qemu-block-extra)"
PORT_T=$PORT
PORT_G=$((PORT + 1))
for p in $PORT_T $PORT_G; do
	if ss -Hltn "sport = :$p" | grep -q .; then die "port $p is in use; pass --port"; fi
done
if ! make -s >/dev/null 2>&1; then
	make -s >/dev/null || die "make failed"
fi

# ---- quiet machine? (bounded wait) ----
load1() { cut -d' ' -f1 /proc/loadavg; }
if [ -n "$WAIT_LOAD" ]; then
	for ((i = 0; i < 10; i++)); do
		awk -v l="$(load1)" -v m="$WAIT_LOAD" 'BEGIN { exit !(l < m) }' && break
		log "load average $(cut -d' ' -f1-3 /proc/loadavg) >= $WAIT_LOAD; waiting 30 s ($((i + 1))/10)"
		sleep 30
	done
fi

# ---- scratch dir, source file, cleanup ----
MARK=.tarn-iscsibench-scratch
if [ -e "$DIR" ]; then
	[ -d "$DIR" ] && { [ -e "$DIR/$MARK" ] || [ -z "$(ls -A "$DIR")" ]; } ||
		die "$DIR exists and is not a scratch dir of this script; remove it or pass --dir"
	rm -rf -- "$DIR"
fi
mkdir -p "$DIR"
touch "$DIR/$MARK"
DIR=$(cd "$DIR" && pwd)
SRC=/dev/shm/tarn-iscsibench-src.$$ # tmpfs: the writes' source costs no disk I/O, survives drop_caches
TARND_PID='' TGTD_PID='' TGTCP=''
stop_pid() { # stop_pid PID: SIGTERM, wait at most 30 s, then SIGKILL
	local pid=$1 i
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	log "pid $pid did not exit after SIGTERM; killing it"
	kill -KILL "$pid" 2>/dev/null || true
}
stop_tgtd() { # tgtd ignores SIGTERM while it has targets: take them offline, delete them, then the system
	local tid i
	[ -n "$TGTD_PID" ] && kill -0 "$TGTD_PID" 2>/dev/null || return 0
	for tid in 1 2; do
		tgtadm -C "$TGTCP" --lld iscsi --mode target --op update --tid $tid --name state --value offline >/dev/null 2>&1 || true
		tgtadm -C "$TGTCP" --lld iscsi --mode target --op delete --force --tid $tid >/dev/null 2>&1 || true
	done
	tgtadm -C "$TGTCP" --op delete --mode system >/dev/null 2>&1 || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$TGTD_PID" 2>/dev/null || break
		sleep 0.1
	done
	stop_pid "$TGTD_PID"
	rm -f "/var/run/tgtd/socket.$TGTCP" "/var/run/tgtd/socket.$TGTCP.lock"
}
cleanup() {
	local rc=$?
	stop_tgtd
	stop_pid "$TARND_PID"
	rm -f -- "$SRC"
	if [ "$KEEP" = 1 ]; then
		log "kept $DIR"
	else
		rm -rf -- "$DIR"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

same_disk=yes
[ "$(stat -c %d "$DIR")" = "$(stat -c %d "$REPO")" ] || same_disk="NO (repo and scratch dir are on different filesystems)"
need_kib=$(((5 * SIZE_B + (1 << 30)) / 1024))
avail_kib=$(df -Pk "$DIR" | awk 'NR == 2 { print $4 }')
[ "$avail_kib" -ge "$need_kib" ] || die "$DIR: need $((need_kib >> 20)) GiB free, have $((avail_kib >> 20)) GiB"
shm_kib=$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')
[ "$shm_kib" -ge $((SIZE_B / 1024 + 65536)) ] || die "/dev/shm: need $((SIZE_B >> 20)) MiB free for the source file"

# freeze the binary (the tree may be rebuilt while we run); argv[0] personalities for COMSTAR
cp build/tarn "$DIR/tarn"
T=$DIR/tarn
for p in itadm sbdadm stmfadm; do ln -s "$T" "$DIR/$p"; done
export TARN_HOME=$DIR/home # private state dir: pools.cache, control socket, COMSTAR config
mkdir -p "$TARN_HOME"
unset TARN_DIRTY_MAX TARN_TORN_AFTER TARN_TORN_SEED TARN_CONDENSE_SLACK
POOL_FILE=$DIR/pool

# ---- helpers ----
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.0f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mbps() { awk -v b="$1" -v us="$2" 'BEGIN { printf "%.0f", b / us }'; } # bytes/us = MB/s
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; } # a/b
yn() { awk "BEGIN { exit !($1) }" && echo yes || echo "**no**"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # utime+stime of a process, in ticks
TCK=$(getconf CLK_TCK)
cpu_s() { awk -v t="$1" -v h="$TCK" 'BEGIN { printf "%.1f", t / h }'; }
hwm_mib() { awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
io_read_mib() { awk '/^read_bytes:/ { printf "%.0f", $2 / 1048576 }' "/proc/$1/io"; }
SAMPLES=$DIR/samples.txt
: >"$SAMPLES"
sample() { echo "$*" | tee -a "$SAMPLES" >&2; }
declare -a COMMANDS
cmd() { COMMANDS+=("$*"); } # remember a command line for the report

VERSION=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "tarn $VERSION, scratch $DIR, size $SIZE, load average $LOAD0"

log "generating $SIZE of /dev/urandom data in $SRC"
head -c "$SIZE_B" /dev/urandom >"$SRC"
[ "$(stat -c %s "$SRC")" -eq "$SIZE_B" ] || die "could not generate $SRC"

# ---- tarnd: a sparse pool file (3 x SIZE: room for copy-on-write), a sparse volume with the
# default properties, an itadm target, an LU on the volume in a view for everyone, write-back cache
truncate -s $((3 * SIZE_B)) "$POOL_FILE"
"$T" zpool create data "$POOL_FILE"
"$T" zfs create -s -V "$SIZE" data/vm
"$T" zfs create -s -V "$SIZE" -o volblocksize=4K data/vm4k # the random rows again, at 4K
VOLPROPS=$("$T" zfs get -H -o property,value volblocksize,compression,checksum data/vm | awk '{ printf "%s%s=%s", (NR > 1 ? ", " : ""), $1, $2 }')
cmd "truncate -s $((3 * SIZE_B)) $POOL_FILE; tarn zpool create data $POOL_FILE; tarn zfs create -s -V $SIZE data/vm   # TARN_HOME=$TARN_HOME"
"$T" daemon --no-nbd --iscsi-portal "127.0.0.1:$PORT_T" --pidfile "$DIR/tarnd.pid" >"$DIR/tarnd.log" 2>&1 &
TARND_PID=$!
cmd "tarn daemon --no-nbd --iscsi-portal 127.0.0.1:$PORT_T --pidfile $DIR/tarnd.pid"
for ((i = 0; i < 100; i++)); do
	[ -S "$TARN_HOME/tarnd.sock" ] && break
	kill -0 $TARND_PID 2>/dev/null || die "tarnd exited: $(tail -5 "$DIR/tarnd.log")"
	sleep 0.1
done
IQN_T=$("$DIR/itadm" create-target | awk '/^Target /{ print $2 }')
[ -n "$IQN_T" ] || die "itadm create-target printed no IQN"
GUID=$("$DIR/sbdadm" create-lu /dev/zvol/rdsk/data/vm | awk '/^600144f0/{ print $1 }')
[ -n "$GUID" ] || die "sbdadm create-lu printed no GUID"
"$DIR/stmfadm" add-view "$GUID"
"$DIR/stmfadm" modify-lu -p wcd=false "$GUID"
cmd "itadm create-target; sbdadm create-lu /dev/zvol/rdsk/data/vm; stmfadm add-view GUID; stmfadm modify-lu -p wcd=false GUID"
GUID4=$("$DIR/sbdadm" create-lu /dev/zvol/rdsk/data/vm4k | awk '/^600144f0/{ print $1 }')
[ -n "$GUID4" ] || die "sbdadm create-lu printed no GUID"
"$DIR/stmfadm" add-view -n 1 "$GUID4"
"$DIR/stmfadm" modify-lu -p wcd=false "$GUID4"
cmd "tarn zfs create -s -V $SIZE -o volblocksize=4K data/vm4k; sbdadm create-lu /dev/zvol/rdsk/data/vm4k; stmfadm add-view -n 1 GUID4; stmfadm modify-lu -p wcd=false GUID4   # 'tarnd 4K' rows, LUN 1"

# ---- tgtd: two targets, each with its own sparse raw file as LUN 1; tid 2 tuned ----
IQN_G=iqn.2024-01.org.tarn:iscsibench
while :; do # a control port (unix socket /var/run/tgtd/socket.N) that no other tgtd uses
	TGTCP=$((20000 + RANDOM % 10000))
	[ -e "/var/run/tgtd/socket.$TGTCP" ] || break
done
truncate -s "$SIZE_B" "$DIR/tgt.img" "$DIR/tgt-tuned.img"
tgtd -f -C "$TGTCP" --iscsi portal="127.0.0.1:$PORT_G" >"$DIR/tgtd.log" 2>&1 &
TGTD_PID=$!
cmd "tgtd -f -C $TGTCP --iscsi portal=127.0.0.1:$PORT_G"
for ((i = 0; i < 50; i++)); do
	tgtadm -C "$TGTCP" --op show --mode system >/dev/null 2>&1 && break
	kill -0 $TGTD_PID 2>/dev/null || die "tgtd exited: $(tail -5 "$DIR/tgtd.log")"
	sleep 0.1
done
tga() { tgtadm -C "$TGTCP" --lld iscsi "$@"; }
TUNED="MaxRecvDataSegmentLength=1048576 MaxXmitDataSegmentLength=1048576 FirstBurstLength=1048576 MaxBurstLength=16776192 ImmediateData=Yes InitialR2T=No"
for tid in 1 2; do
	img=$DIR/tgt.img iqn=$IQN_G
	[ $tid = 2 ] && img=$DIR/tgt-tuned.img iqn=$IQN_G-tuned
	tga --mode target --op new --tid $tid -T "$iqn"
	tga --mode logicalunit --op new --tid $tid --lun 1 -b "$img"
	tga --mode target --op bind --tid $tid -I ALL
	cmd "truncate -s $SIZE_B $img; tgtadm -C $TGTCP --lld iscsi --mode target --op new --tid $tid -T $iqn; tgtadm -C $TGTCP --lld iscsi --mode logicalunit --op new --tid $tid --lun 1 -b $img; tgtadm -C $TGTCP --lld iscsi --mode target --op bind --tid $tid -I ALL"
done
for kv in $TUNED; do
	tga --mode target --op update --tid 2 --name "${kv%%=*}" --value "${kv#*=}"
	cmd "tgtadm -C $TGTCP --lld iscsi --mode target --op update --tid 2 --name ${kv%%=*} --value ${kv#*=}"
done

declare -A PID=([tarn]=$TARND_PID [tarn4k]=$TARND_PID [tgt]=$TGTD_PID [tgt-tuned]=$TGTD_PID)
declare -A URL=([tarn]=iscsi://127.0.0.1:$PORT_T/$IQN_T/0 [tarn4k]=iscsi://127.0.0.1:$PORT_T/$IQN_T/1 [tgt]=iscsi://127.0.0.1:$PORT_G/$IQN_G/1
	[tgt-tuned]=iscsi://127.0.0.1:$PORT_G/$IQN_G-tuned/1)
SERVERS="tgt tgt-tuned tarn"
for s in $SERVERS; do
	out=$(timeout 30 qemu-img info --output=json "${URL[$s]}") || die "$s: qemu-img info ${URL[$s]} failed"
	[ "$(echo "$out" | awk -F'[:,]' '/"virtual-size"/ { gsub(/ /, "", $2); print $2 }')" = "$SIZE_B" ] || die "$s: size is not $SIZE_B"
done
QEMU_VERSION=$(qemu-img --version | sed -n 1p)
TGT_VERSION="tgt $(dpkg-query -W -f='${Version}' tgt 2>/dev/null || echo '?')"
LIBISCSI_VERSION="libiscsi $(dpkg-query -W -f='${Version}' libiscsi7 2>/dev/null || echo '?')"

# run one measurement against server $1; the rest is the command, with @URL@ for its LUN.
# Sets us (wall time), cpu (server CPU ticks), rd (server read_bytes, MiB); output in $DIR/out.
measure() {
	local s=$1 pid=${PID[$1]} t0 t1 c0 r0 a
	shift
	local args=()
	for a in "$@"; do args+=("${a//@URL@/${URL[$s]}}"); done
	c0=$(cpu_ticks "$pid") r0=$(io_read_mib "$pid")
	t0=$(now_us)
	"${args[@]}" >"$DIR/out" 2>&1 || { cat "$DIR/out" >&2; die "$s: ${args[*]} failed"; }
	t1=$(now_us)
	us=$((t1 - t0))
	cpu=$(($(cpu_ticks "$pid") - c0))
	rd=$(($(io_read_mib "$pid") - r0))
	kill -0 "$pid" 2>/dev/null || die "$s server died"
}
bench_s() { awk '/Run completed in/ { print $4 }' "$DIR/out"; } # qemu-img bench's own run time

# ---- 1. sequential write (qemu-img convert from SRC) and read (qemu-img bench, 1M, QD8) ----
declare -A SEQW SEQR SEQW_CPU SEQR_CPU
NSEQ=$((SIZE_B / MIB))
CONVERT=(qemu-img convert -n -W -m 8 -t writeback -f raw -O raw "$SRC" @URL@)
SEQREAD=(qemu-img bench -f raw -t none -s 1M -d 8 -c "$NSEQ" @URL@)
cmd "${CONVERT[*]//@URL@/URL}   # sequential write; before it: sync"
cmd "${SEQREAD[*]//@URL@/URL}   # sequential read; before it: sync; echo 3 > /proc/sys/vm/drop_caches"
read -ra order <<<"$SERVERS"
for ((i = 1; i <= REPS; i++)); do
	for s in "${order[@]}"; do
		log "seq write rep $i/$REPS: $s"
		sync
		measure "$s" "${CONVERT[@]}"
		SEQW[$s]+="$us " SEQW_CPU[$s]+="$cpu "
		sample "seq write $s rep $i: $(mbps "$SIZE_B" "$us") MB/s ($((us / 1000)) ms), server CPU $(cpu_s $cpu) s"
	done
	for s in "${order[@]}"; do
		log "seq read rep $i/$REPS: $s (cold cache)"
		drop_caches
		measure "$s" "${SEQREAD[@]}"
		SEQR[$s]+="$us " SEQR_CPU[$s]+="$cpu "
		sample "seq read  $s rep $i: $(mbps "$SIZE_B" "$us") MB/s ($((us / 1000)) ms wall, qemu-img bench $(bench_s) s), server CPU $(cpu_s $cpu) s, server read from disk $rd MiB"
	done
	order=("${order[@]:1}" "${order[0]}") # rotate who goes first
done
log "checking that every LUN holds the source data"
for s in $SERVERS; do
	timeout 300 qemu-img compare -q -f raw -F raw "$SRC" "${URL[$s]}" || die "$s: the LUN does not hold the data written"
done
sample "all LUNs hold the $SIZE written (qemu-img compare -f raw -F raw SRC URL)"
log "filling the volblocksize=4K LU (not measured)"
measure tarn4k "${CONVERT[@]}"
RSERVERS="$SERVERS tarn4k"

# ---- 2. 4K "random" read and write, QD16 (qemu-img bench with a large odd step), then iscsi-perf -r ----
NBLK=$((SIZE_B / 4096))
P=$(awk -v n="$NBLK" 'BEGIN { p = int(n * 0.6180339887); if (p % 2 == 0) p++; print p }') # odd: coprime with 2^k
STEP=$((P * 4096))
declare -A IOPS RCPU PERF PCPU
RAND=(qemu-img bench -f raw -t none -s 4k -d 16 -S "$STEP" -c "$RCOUNT")
for rw in read write; do
	extra=()
	[ $rw = write ] && extra=(-w --pattern=165)
	cmd "${RAND[*]} ${extra[*]} URL   # 4K random $rw, QD16; before it: sync; echo 3 > /proc/sys/vm/drop_caches"
	for s in $RSERVERS; do
		log "4K random $rw: $s"
		drop_caches
		measure "$s" "${RAND[@]}" "${extra[@]}" @URL@
		b=$(bench_s)
		IOPS[$rw.$s]=$(awk -v n="$RCOUNT" -v t="$b" 'BEGIN { printf "%.0f", n / t }')
		RCPU[$rw.$s]=$cpu
		sample "4K random $rw $s: ${IOPS[$rw.$s]} IOPS ($RCOUNT requests in $b s; wall $((us / 1000)) ms incl. login and, for writes, the final flush), server CPU $(cpu_s $cpu) s, server read from disk $rd MiB"
	done
done
cmd "timeout -s INT $PERF_S iscsi-perf -r -m 16 -b 8 URL   # 4K random read (libiscsi's random LBAs), QD16; before it: sync; echo 3 > /proc/sys/vm/drop_caches"
for s in $RSERVERS; do
	log "iscsi-perf -r ${PERF_S}s: $s"
	drop_caches
	measure "$s" bash -c "timeout -s INT $PERF_S iscsi-perf -r -m 16 -b 8 @URL@; true"
	PERF[$s]=$(tr '\r' '\n' <"$DIR/out" | awk '/iops average/ { for (i = 1; i <= NF; i++) if ($i == "average") v = $(i + 1) } END { print v + 0 }')
	PCPU[$s]=$cpu
	sample "iscsi-perf -r $s: ${PERF[$s]} IOPS (average over ${PERF_S} s), server CPU $(cpu_s $cpu) s, server read from disk $rd MiB"
done

# ---- 3. memory ----
HWM_T=$(hwm_mib $TARND_PID) HWM_G=$(hwm_mib $TGTD_PID)
sample "peak RSS (VmHWM): tarnd $HWM_T MiB, tgtd $HWM_G MiB"
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- results ----
# shellcheck disable=SC2086 # word splitting of the sample lists is intended
{
	declare -A W R CW CR
	for s in $SERVERS; do
		W[$s]=$(mbps "$SIZE_B" "$(median ${SEQW[$s]})") R[$s]=$(mbps "$SIZE_B" "$(median ${SEQR[$s]})")
		CW[$s]=$(cpu_s "$(median ${SEQW_CPU[$s]})") CR[$s]=$(cpu_s "$(median ${SEQR_CPU[$s]})")
	done
	row() { # row LABEL V_TGT V_TUNED V_TARN GOALTEXT GOALRATIO_OF(tgt|tuned|-) MIN CPU
		local r1 r2 g=$6 met=
		r1=$(ratio "$4" "$2") r2=$(ratio "$4" "$3")
		case "$g" in
		tgt) met=$(yn "$r1 >= $7") ;;
		tuned) met=$(yn "$r2 >= $7") ;;
		esac
		echo "| $1 | $2 | $3 | $4 | ${r1}x | ${r2}x | $5 | $met | $8 |"
	}
	echo
	echo "tarn $VERSION; $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); kernel $(uname -r); scratch $DIR on $(df -P "$DIR" | awk 'NR == 2 { print $1 }') (same disk as repo: $same_disk); $(date -u '+%Y-%m-%d %H:%M UTC'); load average at start $LOAD0, at end $LOAD1; $TGT_VERSION; $QEMU_VERSION; $LIBISCSI_VERSION; tarn volume: sparse, $VOLPROPS, write-back cache on; tgt: sparse raw files, rdwr backing store"
	echo
	echo "| measurement | tgt | tgt tuned | tarnd | tarn/tgt | tarn/tgt tuned | goal | met | server CPU s, tgt / tuned / tarnd |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |"
	row "seq write $SIZE, qemu-img convert, MB/s" "${W[tgt]}" "${W[tgt-tuned]}" "${W[tarn]}" ">= 1.0x tuned" tuned 1.0 "${CW[tgt]} / ${CW[tgt-tuned]} / ${CW[tarn]}"
	row "seq read $SIZE, cold, qemu-img bench 1M QD8, MB/s" "${R[tgt]}" "${R[tgt-tuned]}" "${R[tarn]}" ">= 1.0x tuned" tuned 1.0 "${CR[tgt]} / ${CR[tgt-tuned]} / ${CR[tarn]}"
	row "4K strided-random read, QD16, IOPS" "${IOPS[read.tgt]}" "${IOPS[read.tgt-tuned]}" "${IOPS[read.tarn]}" "" - 0 "$(cpu_s ${RCPU[read.tgt]}) / $(cpu_s ${RCPU[read.tgt-tuned]}) / $(cpu_s ${RCPU[read.tarn]})"
	row "4K random read, QD16, iscsi-perf -r ${PERF_S} s, IOPS" "${PERF[tgt]}" "${PERF[tgt-tuned]}" "${PERF[tarn]}" "" - 0 "$(cpu_s ${PCPU[tgt]}) / $(cpu_s ${PCPU[tgt-tuned]}) / $(cpu_s ${PCPU[tarn]})"
	row "4K strided-random write, QD16, IOPS" "${IOPS[write.tgt]}" "${IOPS[write.tgt-tuned]}" "${IOPS[write.tarn]}" ">= 0.7x tgt" tgt 0.7 "$(cpu_s ${RCPU[write.tgt]}) / $(cpu_s ${RCPU[write.tgt-tuned]}) / $(cpu_s ${RCPU[write.tarn]})"
	row "4K strided-random read, QD16, tarnd volume at volblocksize 4K, IOPS" "${IOPS[read.tgt]}" "${IOPS[read.tgt-tuned]}" "${IOPS[read.tarn4k]}" "" - 0 "$(cpu_s ${RCPU[read.tgt]}) / $(cpu_s ${RCPU[read.tgt-tuned]}) / $(cpu_s ${RCPU[read.tarn4k]})"
	row "4K random read, QD16, iscsi-perf -r ${PERF_S} s, tarnd volume at volblocksize 4K, IOPS" "${PERF[tgt]}" "${PERF[tgt-tuned]}" "${PERF[tarn4k]}" "" - 0 "$(cpu_s ${PCPU[tgt]}) / $(cpu_s ${PCPU[tgt-tuned]}) / $(cpu_s ${PCPU[tarn4k]})"
	row "4K strided-random write, QD16, tarnd volume at volblocksize 4K, IOPS" "${IOPS[write.tgt]}" "${IOPS[write.tgt-tuned]}" "${IOPS[write.tarn4k]}" ">= 0.7x tgt" tgt 0.7 "$(cpu_s ${RCPU[write.tgt]}) / $(cpu_s ${RCPU[write.tgt-tuned]}) / $(cpu_s ${RCPU[write.tarn4k]})"
	echo "| peak RSS over the run (VmHWM), MiB | $HWM_G (one tgtd) | | $HWM_T | | | | | |"
	echo
	echo "Sequential: median of $REPS rounds (server order rotates), MB/s = 10^6 bytes/s over the command's wall time (login, and for writes the final SYNCHRONIZE CACHE: an fdatasync for tgt, a transaction group commit for tarnd). Random: one run per server, $RCOUNT requests, IOPS over qemu-img bench's own run time (no login, no final flush), page cache dropped before each; strided = request k at k x $STEP mod $SIZE_B. Server CPU: user+sys of the server process (tgt and tgt tuned are the same tgtd) during the measurement (median for sequential)."
	echo
	echo "Produced by: \`$CMDLINE\`; commands (URL = ${URL[tgt]}, ${URL[tgt-tuned]}, iscsi://127.0.0.1:$PORT_T/IQN/0 for tarnd):"
	echo
	echo '```'
	printf '%s\n' "${COMMANDS[@]}"
	echo '```'
} | tee "$DIR/table.md"
