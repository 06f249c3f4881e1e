#!/usr/bin/env bash
# bench/nbd.sh — NBD serving: tarnd against qemu-nbd (cache=writeback), side by side in one run.
#
#   bash bench/nbd.sh [--dir DIR] [--size SIZE] [--runtime SECONDS] [--reps N] [--port PORT]
#                     [--wait-load LOAD] [--keep]
#
# Both servers run at the same time on 127.0.0.1 (tarnd on PORT [10870], qemu-nbd on PORT+1),
# serving a volume / a raw file of SIZE [2G] on the same filesystem (DIR [/var/tmp/tarn-nbdbench],
# the repo's disk by default), to the same clients with the same options:
#   1. sequential write of SIZE with `nbdcopy --flush SRC URI` (SRC: SIZE bytes of /dev/urandom
#      in tmpfs, /dev/shm), then a sequential read with `nbdcopy URI null:` after drop_caches;
#      --reps [3] rounds, alternating servers, median; the data read back is compared with SRC
#      afterwards, and the server's /proc/PID/io read_bytes shows that cold reads hit the disk.
#   2. 4K random read, then 4K random write, queue depth 16, --runtime [20] s each, fio's nbd
#      engine over the whole SIZE region (written in full by step 1); drop_caches before each run.
#      tarnd also serves a second volume with volblocksize=4K (filled once with SRC), measured the
#      same way: the setting ZFS users pick for 4K-random workloads (at the default 16K every 4K
#      write reads and rewrites a whole 16K block).
#   3. tarnd's and qemu-nbd's peak RSS (VmHWM) over the whole run, and the CPU time (user+sys,
#      /proc/PID/stat) each server used in each measurement.
# Prints a markdown table with ratios tarn/qemu-nbd against the goals (sequential >= 0.9x,
# random read >= 0.8x, random write >= 0.6x, tarnd peak RSS <= 64 MiB + cache + TARN_DIRTY_MAX), then
# the exact commands. Run from anywhere as root (drop_caches). With --wait-load, first waits (at
# most 10 minutes, checking every 30 s) for the 1-minute load average to fall below LOAD.
# Takes about 3-4 minutes with the defaults (plus any --wait-load wait); removes DIR and the
# source file at the end unless --keep, and stops both servers at exit.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
CMDLINE="bash bench/nbd.sh"
for a in "$@"; do CMDLINE+=" $(printf '%q' "$a")"; done

DIR=/var/tmp/tarn-nbdbench
SIZE=2G
RUNTIME=20
REPS=3
PORT=10870
WAIT_LOAD=
KEEP=0
usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
	case "$1" in
	--dir) DIR=$2; shift 2 ;;
	--size) SIZE=$2; shift 2 ;;
	--runtime) RUNTIME=$2; shift 2 ;;
	--reps) REPS=$2; shift 2 ;;
	--port) PORT=$2; shift 2 ;;
	--wait-load) WAIT_LOAD=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	-h | --help) usage 0 ;;
	*) echo "nbd.sh: unknown argument '$1'" >&2; usage >&2 ;;
	esac
done

die() { echo "nbd.sh: $*" >&2; exit 1; }
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
[[ $RUNTIME =~ ^[1-9][0-9]*$ ]] && [ "$RUNTIME" -le 600 ] || die "--runtime must be 1..600"
[[ $REPS =~ ^[1-9][0-9]*$ ]] && [ "$REPS" -le 20 ] || die "--reps must be 1..20"
[[ $PORT =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1024 ] && [ "$PORT" -le 65534 ] || die "--port must be 1024..65534"
[ -z "$WAIT_LOAD" ] || [[ $WAIT_LOAD =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--wait-load must be a number"
[ "$(id -u)" -eq 0 ] || die "run as root (drop_caches)"
for c in qemu-nbd nbdcopy nbdinfo fio jq; do
	command -v $c >/dev/null || die "$c is missing (apt-get install qemu-utils libnbd-bin fio jq)"
done
PORT_T=$PORT
PORT_Q=$((PORT + 1))
for p in $PORT_T $PORT_Q; do
	if ss -Hltn "sport = :$p" | grep -q .; then die "port $p is in use; pass --port"; fi
done
if ! make -s >/dev/null 2>&1; then
	make -s >/dev/null || die "make failed"
fi

# ---- quiet machine? (bounded wait) ----
load1() { cut -d' ' -f1 /proc/loadavg; }
if [ -n "$WAIT_LOAD" ]; then
	for ((i = 0; i < 20; i++)); do
		awk -v l="$(load1)" -v m="$WAIT_LOAD" 'BEGIN { exit !(l < m) }' && break
		log "load average $(cut -d' ' -f1-3 /proc/loadavg) >= $WAIT_LOAD; waiting 30 s ($((i + 1))/20)"
		sleep 30
	done
fi

# ---- scratch dir, source file, cleanup ----
MARK=.tarn-nbdbench-scratch
if [ -e "$DIR" ]; then
	[ -d "$DIR" ] && { [ -e "$DIR/$MARK" ] || [ -z "$(ls -A "$DIR")" ]; } ||
		die "$DIR exists and is not a scratch dir of this script; remove it or pass --dir"
	rm -rf -- "$DIR"
fi
mkdir -p "$DIR"
touch "$DIR/$MARK"
DIR=$(cd "$DIR" && pwd)
SRC=/dev/shm/tarn-nbdbench-src.$$ # tmpfs: the writes' source costs no disk I/O, survives drop_caches
TARND_PID='' QEMU_PID=''
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
cleanup() {
	local rc=$?
	stop_pid "$QEMU_PID"
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
need_kib=$(((3 * SIZE_B + (1 << 30)) / 1024))
avail_kib=$(df -Pk "$DIR" | awk 'NR == 2 { print $4 }')
[ "$avail_kib" -ge "$need_kib" ] || die "$DIR: need $((need_kib >> 20)) GiB free, have $((avail_kib >> 20)) GiB"
shm_kib=$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')
[ "$shm_kib" -ge $((SIZE_B / 1024 + 65536)) ] || die "/dev/shm: need $((SIZE_B >> 20)) MiB free for the source file"

# freeze the binary: the tree may be rebuilt while we run
cp build/tarn "$DIR/tarn"
T=$DIR/tarn
export TARN_HOME=$DIR/home # private state dir: pools.cache, control socket
mkdir -p "$TARN_HOME"
unset TARN_DIRTY_MAX TARN_TORN_AFTER TARN_TORN_SEED TARN_CONDENSE_SLACK
DIRTY_MAX_MIB=64 # tarn's default TARN_DIRTY_MAX (src/dsl/dataset.c)
CACHE_MIB=64     # tarn's default indirect-block cache (--cache-size, src/tree/tree.c)
unset TARN_CACHE_SIZE
POOL_FILE=$DIR/pool
RAW=$DIR/raw.img
URI_T=nbd://127.0.0.1:$PORT_T/data/vm
URI_T4=nbd://127.0.0.1:$PORT_T/data/vm4k
URI_Q=nbd://127.0.0.1:$PORT_Q/

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
log "tarn $VERSION, scratch $DIR, size $SIZE, runtime ${RUNTIME}s, load average $LOAD0"

log "generating $SIZE of /dev/urandom data in $SRC"
head -c "$SIZE_B" /dev/urandom >"$SRC"
[ "$(stat -c %s "$SRC")" -eq "$SIZE_B" ] || die "could not generate $SRC"

# ---- the two servers ----
# tarn: a sparse pool file (3 x SIZE: room for the overwrites of copy-on-write), a sparse volume
# with the default properties (volblocksize 16K, compression on, checksum on), shared over NBD
truncate -s $((3 * SIZE_B)) "$POOL_FILE"
"$T" zpool create data "$POOL_FILE"
"$T" zfs create -s -V "$SIZE" data/vm
"$T" zfs set sharenbd=on data/vm
"$T" zfs create -s -V "$SIZE" -o volblocksize=4K data/vm4k
"$T" zfs set sharenbd=on data/vm4k
VOLPROPS=$("$T" zfs get -H -o property,value volblocksize,compression,checksum data/vm | awk '{ printf "%s%s=%s", (NR > 1 ? ", " : ""), $1, $2 }')
cmd "truncate -s $((3 * SIZE_B)) $POOL_FILE; tarn zpool create data $POOL_FILE; tarn zfs create -s -V $SIZE data/vm; tarn zfs set sharenbd=on data/vm   # TARN_HOME=$TARN_HOME"
cmd "tarn zfs create -s -V $SIZE -o volblocksize=4K data/vm4k; tarn zfs set sharenbd=on data/vm4k   # random rows 'tarnd, volblocksize 4K' (URI $URI_T4)"
"$T" daemon --listen "127.0.0.1:$PORT_T" --pidfile "$DIR/tarnd.pid" >"$DIR/tarnd.log" 2>&1 &
TARND_PID=$!
cmd "tarn daemon --listen 127.0.0.1:$PORT_T --pidfile $DIR/tarnd.pid"
# qemu-nbd: a sparse raw file (what `qemu-img create -f raw` makes); -e 4: up to 4 connections,
# so that it advertises multi-conn and nbdcopy opens 4 connections to it, as it does to tarnd
truncate -s "$SIZE_B" "$RAW"
qemu-nbd -f raw --cache=writeback -t -e 4 -b 127.0.0.1 -p "$PORT_Q" "$RAW" >"$DIR/qemu-nbd.log" 2>&1 &
QEMU_PID=$!
cmd "truncate -s $SIZE_B $RAW; qemu-nbd -f raw --cache=writeback -t -e 4 -b 127.0.0.1 -p $PORT_Q $RAW"
ready=0
for ((i = 0; i < 100; i++)); do # at most ~10 s
	if nbdinfo --size "$URI_T" >/dev/null 2>&1 && nbdinfo --size "$URI_Q" >/dev/null 2>&1; then
		ready=1
		break
	fi
	kill -0 $TARND_PID 2>/dev/null || die "tarnd exited: $(tail -5 "$DIR/tarnd.log")"
	kill -0 $QEMU_PID 2>/dev/null || die "qemu-nbd exited: $(tail -5 "$DIR/qemu-nbd.log")"
	sleep 0.1
done
[ $ready = 1 ] || die "the servers did not answer within 10 s"
for u in "$URI_T" "$URI_Q"; do
	[ "$(nbdinfo --size "$u")" -eq "$SIZE_B" ] || die "$u: size is not $SIZE_B"
	nbdinfo --can multi-conn "$u" || die "$u does not advertise multi-conn"
done
QEMU_VERSION=$(qemu-nbd --version | sed -n 1p)
NBDCOPY_VERSION=$(nbdcopy --version | sed -n 1p)
FIO_VERSION=$(fio --version)
declare -A PID=([tarn]=$TARND_PID [tarn4k]=$TARND_PID [qemu]=$QEMU_PID) URI=([tarn]=$URI_T [tarn4k]=$URI_T4 [qemu]=$URI_Q)

# run one measurement against server $1; the rest is the command, with @URI@ for the export.
# Sets us (wall time), cpu (server CPU ticks), rd (server read_bytes, MiB) for it.
measure() {
	local s=$1 pid=${PID[$1]} t0 t1 c0 r0 a
	shift
	local args=()
	for a in "$@"; do args+=("${a//@URI@/${URI[$s]}}"); done
	c0=$(cpu_ticks "$pid") r0=$(io_read_mib "$pid")
	t0=$(now_us)
	"${args[@]}"
	t1=$(now_us)
	us=$((t1 - t0))
	cpu=$(($(cpu_ticks "$pid") - c0))
	rd=$(($(io_read_mib "$pid") - r0))
	kill -0 "$pid" 2>/dev/null || die "$s server died"
}

# ---- 1. sequential write and read with nbdcopy ----
declare -A SEQW SEQR SEQW_CPU SEQR_CPU
cmd "nbdcopy --flush $SRC URI     # sequential write (4 connections, multi-conn); before it: sync"
cmd "nbdcopy URI null:     # sequential read; before it: sync; echo 3 > /proc/sys/vm/drop_caches"
for ((i = 1; i <= REPS; i++)); do
	order="qemu tarn"
	[ $((i % 2)) -eq 0 ] && order="tarn qemu"
	for s in $order; do
		log "seq write rep $i/$REPS: $s"
		sync
		measure $s nbdcopy --flush "$SRC" @URI@
		SEQW[$s]+="$us " SEQW_CPU[$s]+="$cpu "
		sample "seq write $s rep $i: $(mbps "$SIZE_B" "$us") MB/s ($((us / 1000)) ms), server CPU $(cpu_s $cpu) s"
	done
	for s in $order; do
		log "seq read rep $i/$REPS: $s (cold cache)"
		drop_caches
		measure $s nbdcopy @URI@ null:
		SEQR[$s]+="$us " SEQR_CPU[$s]+="$cpu "
		sample "seq read  $s rep $i: $(mbps "$SIZE_B" "$us") MB/s ($((us / 1000)) ms), server CPU $(cpu_s $cpu) s, server read from disk $rd MiB"
	done
done
log "checking that both exports hold the source data"
for s in tarn qemu; do
	nbdcopy "${URI[$s]}" - | cmp - "$SRC" || die "$s: the export does not hold the data written"
done
sample "both exports hold the $SIZE written (nbdcopy URI - | cmp - SRC)"
log "filling the volblocksize=4K volume (not measured)"
nbdcopy --flush "$SRC" "$URI_T4"
nbdcopy "$URI_T4" - | cmp - "$SRC" || die "the volblocksize=4K export does not hold the data written"

# ---- 2. 4K random read and write with fio (nbd engine), over the SIZE region written above ----
declare -A IOPS RCPU LAT
FIO=(fio --name=nbd4k --ioengine=nbd --uri=@URI@ --bs=4k --iodepth=16 --runtime="$RUNTIME" --time_based
	--size="$SIZE_B" --randrepeat=1 --output-format=json)
for rw in randread randwrite; do
	cmd "${FIO[*]//@URI@/URI} --rw=$rw   # before it: sync; echo 3 > /proc/sys/vm/drop_caches"
	for s in qemu tarn tarn4k; do
		log "fio $rw ${RUNTIME}s: $s"
		drop_caches
		measure $s "${FIO[@]}" --rw=$rw --output="$DIR/fio.$rw.$s.json"
		dir=${rw#rand}
		IOPS[$rw.$s]=$(jq -r ".jobs[0].$dir.iops" "$DIR/fio.$rw.$s.json")
		LAT[$rw.$s]=$(jq -r ".jobs[0].$dir.clat_ns.percentile.\"99.000000\" / 1000" "$DIR/fio.$rw.$s.json")
		RCPU[$rw.$s]=$cpu
		[ "$(jq -r '.jobs[0].error' "$DIR/fio.$rw.$s.json")" = 0 ] || die "fio $rw on $s failed"
		sample "$rw $s: $(printf '%.0f' "${IOPS[$rw.$s]}") IOPS, p99 completion latency $(printf '%.0f' "${LAT[$rw.$s]}") us, server CPU $(cpu_s $cpu) s, server read from disk $rd MiB"
	done
done

# ---- 3. memory ----
HWM_T=$(hwm_mib $TARND_PID) HWM_Q=$(hwm_mib $QEMU_PID)
sample "peak RSS (VmHWM): tarnd $HWM_T MiB, qemu-nbd $HWM_Q MiB"
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- results ----
# shellcheck disable=SC2086 # word splitting of the sample lists is intended
{
	mw_q=$(median ${SEQW[qemu]}) mw_t=$(median ${SEQW[tarn]})
	mr_q=$(median ${SEQR[qemu]}) mr_t=$(median ${SEQR[tarn]})
	wq=$(mbps "$SIZE_B" "$mw_q") wt=$(mbps "$SIZE_B" "$mw_t") rq=$(mbps "$SIZE_B" "$mr_q") rt=$(mbps "$SIZE_B" "$mr_t")
	sw=$(ratio "$wt" "$wq") sr=$(ratio "$rt" "$rq")
	cw_q=$(cpu_s "$(median ${SEQW_CPU[qemu]})") cw_t=$(cpu_s "$(median ${SEQW_CPU[tarn]})")
	cr_q=$(cpu_s "$(median ${SEQR_CPU[qemu]})") cr_t=$(cpu_s "$(median ${SEQR_CPU[tarn]})")
	iq_r=$(printf '%.0f' "${IOPS[randread.qemu]}") it_r=$(printf '%.0f' "${IOPS[randread.tarn]}")
	iq_w=$(printf '%.0f' "${IOPS[randwrite.qemu]}") it_w=$(printf '%.0f' "${IOPS[randwrite.tarn]}")
	rr=$(ratio "$it_r" "$iq_r") rw=$(ratio "$it_w" "$iq_w")
	i4_r=$(printf '%.0f' "${IOPS[randread.tarn4k]}") i4_w=$(printf '%.0f' "${IOPS[randwrite.tarn4k]}")
	rr4=$(ratio "$i4_r" "$iq_r") rw4=$(ratio "$i4_w" "$iq_w")
	bound=$((64 + CACHE_MIB + DIRTY_MAX_MIB))
	echo
	echo "tarn $VERSION; $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); kernel $(uname -r); scratch $DIR on $(df -P "$DIR" | awk 'NR == 2 { print $1 }') (same disk as repo: $same_disk); $(date -u '+%Y-%m-%d %H:%M UTC'); load average at start $LOAD0, at end $LOAD1; $QEMU_VERSION; $NBDCOPY_VERSION; $FIO_VERSION; tarn volume: sparse, $VOLPROPS; raw file: sparse"
	echo
	echo "| measurement | qemu-nbd | tarnd | tarn/qemu | goal | met | server CPU s, qemu-nbd / tarnd |"
	echo "| --- | ---: | ---: | ---: | --- | --- | --- |"
	echo "| seq write $SIZE, nbdcopy --flush, MB/s | $wq | $wt | ${sw}x | >= 0.9x | $(yn "$sw >= 0.9") | $cw_q / $cw_t |"
	echo "| seq read $SIZE, cold cache, nbdcopy to null:, MB/s | $rq | $rt | ${sr}x | >= 0.9x | $(yn "$sr >= 0.9") | $cr_q / $cr_t |"
	echo "| 4K random read, QD16, ${RUNTIME} s, IOPS (p99 latency us) | $iq_r ($(printf '%.0f' "${LAT[randread.qemu]}")) | $it_r ($(printf '%.0f' "${LAT[randread.tarn]}")) | ${rr}x | >= 0.8x | $(yn "$rr >= 0.8") | $(cpu_s "${RCPU[randread.qemu]}") / $(cpu_s "${RCPU[randread.tarn]}") |"
	echo "| 4K random write, QD16, ${RUNTIME} s, IOPS (p99 latency us) | $iq_w ($(printf '%.0f' "${LAT[randwrite.qemu]}")) | $it_w ($(printf '%.0f' "${LAT[randwrite.tarn]}")) | ${rw}x | >= 0.6x | $(yn "$rw >= 0.6") | $(cpu_s "${RCPU[randwrite.qemu]}") / $(cpu_s "${RCPU[randwrite.tarn]}") |"
	echo "| 4K random read, tarnd volume at volblocksize 4K, IOPS (p99 latency us) | $iq_r ($(printf '%.0f' "${LAT[randread.qemu]}")) | $i4_r ($(printf '%.0f' "${LAT[randread.tarn4k]}")) | ${rr4}x | >= 0.8x | $(yn "$rr4 >= 0.8") | $(cpu_s "${RCPU[randread.qemu]}") / $(cpu_s "${RCPU[randread.tarn4k]}") |"
	echo "| 4K random write, tarnd volume at volblocksize 4K, IOPS (p99 latency us) | $iq_w ($(printf '%.0f' "${LAT[randwrite.qemu]}")) | $i4_w ($(printf '%.0f' "${LAT[randwrite.tarn4k]}")) | ${rw4}x | >= 0.6x | $(yn "$rw4 >= 0.6") | $(cpu_s "${RCPU[randwrite.qemu]}") / $(cpu_s "${RCPU[randwrite.tarn4k]}") |"
	echo "| peak RSS over the run (VmHWM), MiB | $HWM_Q | $HWM_T | | tarnd <= $bound (64 + --cache-size $CACHE_MIB + TARN_DIRTY_MAX $DIRTY_MAX_MIB) | $(yn "$HWM_T <= $bound") | |"
	echo
	echo "Sequential: median of $REPS rounds (servers alternate first/second), MB/s = 10^6 bytes/s over nbdcopy's wall time (writes include the final FLUSH: an fdatasync for qemu-nbd, a transaction group commit for tarnd). Random: one fio run per server, page cache dropped before each. Server CPU: user+sys of the server process during the measurement (median for sequential)."
	echo
	echo "Produced by: \`$CMDLINE\`; commands (URI = $URI_Q for qemu-nbd, $URI_T for tarnd):"
	echo
	echo '```'
	printf '%s\n' "${COMMANDS[@]}"
	echo '```'
} | tee "$DIR/table.md"
