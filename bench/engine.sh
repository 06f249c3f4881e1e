#!/usr/bin/env bash
# bench/engine.sh — storage-engine benchmark: tarn against the raw disk, side by side in one run.
#
#   bash bench/engine.sh [--dir DIR] [--size SIZE] [--small SIZE] [--reps N] [--snap-reps N]
#                        [--snaps N] [--keep]
#
# Measures (defaults in brackets; see docs/benchmarks.md for the goals and the latest results):
#   1. sequential write of SIZE [4G] of incompressible data: `dd conv=fdatasync` to a raw file vs
#      `tarn volume write` into a fresh sparse volume (compression=off) on a fresh pool file,
#      with TARN_DIRTY_MAX = 256 MiB and 64 MiB (rounds of dd, tarn-256, tarn-64; median of
#      --reps [3] rounds after one uncounted warm-up round); then sequential read with a cold
#      page cache, dd and `tarn volume read` alternating. Throughput in MB/s (10^6 bytes/s),
#      the ratio tarn/dd, and the CPU time (user+sys) of each write.
#   2. peak RSS (/usr/bin/time -v) of those tarn writes, and of a SIZE/4 write (flat in size?).
#   3. `tarn zfs snapshot` wall time (median of --snap-reps [5]) on a SMALL [64M] and a SIZE
#      volume, both full, next to a no-op command (`zfs list -H -o name`) on the same pool.
#   4. `zpool import -d DIR` wall time (median of --snap-reps export/import cycles, page cache
#      warm, and again after drop_caches) of a pool holding a SIZE volume with --snaps [100]
#      snapshots (1 MiB overwritten at a random offset before each), vs the same with SMALL.
#
# Run from anywhere (it cd's to the repo root) as root (it drops the page cache). It builds
# with `make` if needed, installs `time` and `openssl` with apt-get if missing, works in DIR
# [/var/tmp/tarn-bench] (the same disk as the repo by default; needs ~3*SIZE+2G free) and
# removes DIR at the end unless --keep. Prints every sample, then a markdown table and the
# command line that produced it. Takes ~6 minutes with the defaults on an idle machine;
# other load on the machine skews every number (the load average is printed with the table).
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
CMDLINE="bash bench/engine.sh"
for a in "$@"; do CMDLINE+=" $(printf '%q' "$a")"; done

DIR=/var/tmp/tarn-bench
SIZE=4G
SMALL=64M
REPS=3
SNAP_REPS=5
NSNAPS=100
KEEP=0
usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
	case "$1" in
	--dir) DIR=$2; shift 2 ;;
	--size) SIZE=$2; shift 2 ;;
	--small) SMALL=$2; shift 2 ;;
	--reps) REPS=$2; shift 2 ;;
	--snap-reps) SNAP_REPS=$2; shift 2 ;;
	--snaps) NSNAPS=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	-h | --help) usage 0 ;;
	*) echo "engine.sh: unknown argument '$1'" >&2; usage >&2 ;;
	esac
done

die() { echo "engine.sh: $*" >&2; exit 1; }
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# sizes: N, NK, NM, NG (powers of 1024) -> bytes
to_bytes() {
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
for v in REPS SNAP_REPS NSNAPS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] && [ "${!v}" -le 1000 ] || die "--${v,,} must be 1..1000"
done
SIZE_B=$(to_bytes "$SIZE")
SMALL_B=$(to_bytes "$SMALL")
MIB=$((1 << 20))
[ $((SIZE_B % MIB)) -eq 0 ] && [ "$SIZE_B" -ge $((64 * MIB)) ] || die "--size must be a multiple of 1M, >= 64M"
[ $((SMALL_B % MIB)) -eq 0 ] && [ "$SMALL_B" -ge $((4 * MIB)) ] || die "--small must be a multiple of 1M, >= 4M"
SIZE_MIB=$((SIZE_B / MIB))
SMALL_MIB=$((SMALL_B / MIB))
QUARTER_MIB=$((SIZE_MIB / 4))
DIRTY_BIG=$((256 * MIB))
DIRTY_SMALL=$((64 * MIB))

[ "$(id -u)" -eq 0 ] || die "run as root (it drops the page cache between runs)"

# ---- tools ----
need_pkgs=()
[ -x /usr/bin/time ] || need_pkgs+=(time)
command -v openssl >/dev/null || need_pkgs+=(openssl)
if [ ${#need_pkgs[@]} -gt 0 ]; then
	log "installing ${need_pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -q update >/dev/null
	apt-get -q install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
if ! make -s >/dev/null 2>&1; then
	log "make failed; installing build dependencies and retrying"
	./scripts/install-deps.sh
	make -s >/dev/null
fi

# ---- scratch dir ----
MARK=.tarn-bench-scratch
if [ -e "$DIR" ]; then
	[ -d "$DIR" ] && { [ -e "$DIR/$MARK" ] || [ -z "$(ls -A "$DIR")" ]; } ||
		die "$DIR exists and is not a scratch dir of this script; remove it or pass --dir"
	rm -rf -- "$DIR"
fi
mkdir -p "$DIR"
touch "$DIR/$MARK"
DIR=$(cd "$DIR" && pwd)
cleanup() {
	local rc=$?
	if [ -n "${TARN_HOME:-}" ] && [ -x "$DIR/tarn" ]; then # release the pools (best effort)
		"$DIR/tarn" zpool destroy -f bp >/dev/null 2>&1 || true
		"$DIR/tarn" zpool destroy -f sp >/dev/null 2>&1 || true
	fi
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
need_kib=$(((3 * SIZE_B + 2 * (1 << 30)) / 1024))
avail_kib=$(df -Pk "$DIR" | awk 'NR == 2 { print $4 }')
[ "$avail_kib" -ge "$need_kib" ] || die "$DIR: need $((need_kib >> 20)) GiB free, have $((avail_kib >> 20)) GiB"

# freeze the binary: the tree may be rebuilt while we run
cp build/tarn "$DIR/tarn"
T=$DIR/tarn
export TARN_HOME=$DIR/home
mkdir -p "$TARN_HOME" "$DIR/bpd" "$DIR/spd"
unset TARN_DIRTY_MAX TARN_TORN_AFTER TARN_TORN_SEED TARN_CONDENSE_SLACK
BP_FILE=$DIR/bpd/f1 # the big pool's only device (its dir holds nothing else: import -d scans it)
SP_FILE=$DIR/spd/f1
POOL_FILE_B=$(((2 * SIZE_B + (1 << 30)) / MIB * MIB))
SRC=$DIR/src
RAW=$DIR/raw

# ---- helpers ----
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.0f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mbps() { awk -v b="$1" -v us="$2" 'BEGIN { printf "%.0f", b / us }'; }  # bytes/us = MB/s
ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; } # a/b
rss_mib() { awk '/Maximum resident set size/ { printf "%.0f", $NF / 1024 }' "$1"; }
cpu_s() { awk '/User time|System time/ { s += $NF } END { printf "%.2f", s }' "$1"; } # user+sys

fresh_pool() { # fresh_pool NAME FILE VOL VOLSIZE
	local name=$1 file=$2 vol=$3 vs=$4
	"$T" zpool destroy -f "$name" >/dev/null 2>&1 || true
	rm -f "$file"
	sync
	truncate -s "$POOL_FILE_B" "$file"
	"$T" zpool create "$name" "$file"
	"$T" zfs create -s -V "$vs" -o compression=off "$name/$vol"
}

# time one command, stdin from $1, stdout to /dev/null; prints elapsed us. Extra env via env(1).
time_cmd() {
	local in=$1 t0 t1
	shift
	t0=$(now_us)
	"$@" <"$in" >/dev/null
	t1=$(now_us)
	echo $((t1 - t0))
}

SAMPLES=$DIR/samples.txt
: >"$SAMPLES"
sample() { echo "$*" | tee -a "$SAMPLES" >&2; }

VERSION=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg) # other work on the machine skews everything: say so
log "tarn $VERSION, scratch $DIR, size $SIZE, small $SMALL"

# ---- 1. source data ----
log "generating $SIZE of incompressible data"
openssl enc -aes-128-ctr -pass pass:tarn-bench -nosalt </dev/zero 2>/dev/null | head -c "$SIZE_B" >"$SRC" || true
[ "$(stat -c %s "$SRC")" -eq "$SIZE_B" ] || die "could not generate $SRC"
SRCQ=$DIR/srcq # the first quarter, for the flatness run
head -c $((QUARTER_MIB * MIB)) "$SRC" >"$SRCQ"
sync

# ---- 2. sequential write and read, dd vs tarn, alternating ----
declare -a W_DD W_TARN R_DD R_TARN RSS_BIG W_TARN64 RSS_SMALL CPU_DD CPU_TARN CPU_TARN64
# one round per rep: dd, tarn at 256 MiB, tarn at 64 MiB, each into a fresh file; round 0 is a
# warm-up (not counted): on this kind of VM the first large write after a quiet spell is slow
tarn_write() { # tarn_write DIRTY_MAX: fresh pool, timed write of $SRC; sets us, rss, cpu
	fresh_pool bp "$BP_FILE" v "$SIZE"
	cat "$SRC" >/dev/null
	sync
	us=$(time_cmd "$SRC" /usr/bin/time -v -o "$DIR/time.txt" env TARN_DIRTY_MAX=$1 "$T" volume write bp/v)
	rss=$(rss_mib "$DIR/time.txt")
	cpu=$(cpu_s "$DIR/time.txt")
}
for ((i = 0; i <= REPS; i++)); do
	tag="rep $i"
	[ $i -eq 0 ] && tag="warm-up"
	log "write $tag (of $REPS)"
	rm -f "$RAW"
	cat "$SRC" >/dev/null
	sync
	us=$(time_cmd "$SRC" /usr/bin/time -v -o "$DIR/time.txt" dd of="$RAW" bs=1M conv=fdatasync status=none)
	cpu=$(cpu_s "$DIR/time.txt")
	[ $i -gt 0 ] && W_DD+=("$us") CPU_DD+=("$cpu")
	sample "write dd      $tag: $(mbps "$SIZE_B" "$us") MB/s ($(ms "$us") ms), CPU $cpu s"

	tarn_write $DIRTY_BIG
	[ $i -gt 0 ] && W_TARN+=("$us") RSS_BIG+=("$rss") CPU_TARN+=("$cpu")
	sample "write tarn256 $tag: $(mbps "$SIZE_B" "$us") MB/s ($(ms "$us") ms), CPU $cpu s, peak RSS $rss MiB (TARN_DIRTY_MAX=256MiB)"

	tarn_write $DIRTY_SMALL
	[ $i -gt 0 ] && W_TARN64+=("$us") RSS_SMALL+=("$rss") CPU_TARN64+=("$cpu")
	sample "write tarn64  $tag: $(mbps "$SIZE_B" "$us") MB/s ($(ms "$us") ms), CPU $cpu s, peak RSS $rss MiB (TARN_DIRTY_MAX=64MiB)"
done
log "checking that the volume holds the source data"
"$T" volume read bp/v | cmp - "$SRC" || die "tarn volume read does not return what was written"

for ((i = 1; i <= REPS; i++)); do
	log "read rep $i/$REPS (cold cache)"
	drop_caches
	us=$(time_cmd /dev/null dd if="$RAW" bs=1M status=none)
	R_DD+=("$us")
	sample "read dd     rep $i: $(mbps "$SIZE_B" "$us") MB/s ($(ms "$us") ms)"
	drop_caches
	us=$(time_cmd /dev/null "$T" volume read bp/v)
	R_TARN+=("$us")
	sample "read tarn   rep $i: $(mbps "$SIZE_B" "$us") MB/s ($(ms "$us") ms)"
done
rm -f "$RAW"

# ---- 3. memory: is the peak RSS flat in the amount written? (a quarter-size write) ----
declare -A RSS_Q
for dm in $DIRTY_BIG $DIRTY_SMALL; do
	log "write of ${QUARTER_MIB}M with TARN_DIRTY_MAX=$((dm / MIB))MiB"
	fresh_pool bp "$BP_FILE" v "$SIZE"
	cat "$SRCQ" >/dev/null
	sync
	us=$(time_cmd "$SRCQ" /usr/bin/time -v -o "$DIR/time.txt" env TARN_DIRTY_MAX=$dm "$T" volume write bp/v)
	RSS_Q[$dm]=$(rss_mib "$DIR/time.txt")
	sample "write tarn  ${QUARTER_MIB}M: $(mbps $((QUARTER_MIB * MIB)) "$us") MB/s, peak RSS ${RSS_Q[$dm]} MiB (TARN_DIRTY_MAX=$((dm / MIB))MiB)"
done

# ---- 4. snapshot time: full SMALL volume vs full SIZE volume ----
# the big pool: the SIZE volume written in full (default TARN_DIRTY_MAX)
log "preparing the big pool ($SIZE volume, full) and the small pool ($SMALL volume, full)"
fresh_pool bp "$BP_FILE" v "$SIZE"
"$T" volume write bp/v <"$SRC"
fresh_pool sp "$SP_FILE" v "$SMALL"
head -c "$SMALL_B" "$SRC" | "$T" volume write sp/v
sync

declare -A SNAP NOOP
for p in sp bp; do
	a=() b=()
	for ((i = 1; i <= SNAP_REPS; i++)); do
		t0=$(now_us); "$T" zfs list -H -o name $p/v >/dev/null; t1=$(now_us)
		b+=($((t1 - t0)))
		t0=$(now_us); "$T" zfs snapshot $p/v@bench$i; t1=$(now_us)
		a+=($((t1 - t0)))
	done
	SNAP[$p]=$(median "${a[@]}")
	NOOP[$p]=$(median "${b[@]}")
	sample "snapshot $p: $(for x in "${a[@]}"; do printf '%s ' "$(ms "$x")"; done)ms; no-op list: $(for x in "${b[@]}"; do printf '%s ' "$(ms "$x")"; done)ms"
done
# strace of one snapshot per pool: where does the time go (syscalls)
if command -v strace >/dev/null; then
	for p in sp bp; do
		strace -f -c -w -o "$DIR/strace.$p" "$T" zfs snapshot $p/v@strace >/dev/null 2>&1 || true
		sample "strace -c -w zfs snapshot $p (wall time in syscalls; top 5; columns: % s us/call calls errors name):"
		awk 'NR > 2 && $1 ~ /^[0-9.]+$/' "$DIR/strace.$p" | sort -k2 -g -r | head -5 |
			while read -r l; do sample "    $l"; done
	done
fi
# the import pools get exactly NSNAPS snapshots, each after an overwrite: drop these
for p in sp bp; do
	for s in $("$T" zfs list -H -t snapshot -o name | grep "^$p/v@" || true); do
		"$T" zfs destroy "$s"
	done
done

# ---- 5. import time with NSNAPS snapshots ----
RANDOM=4242 # reproducible offsets
declare -A IMP_W IMP_C
for p in sp bp; do
	if [ $p = sp ]; then vb=$SMALL_B; else vb=$SIZE_B; fi
	log "pool $p: $NSNAPS x (1 MiB overwrite at a random offset, snapshot)"
	for ((i = 1; i <= NSNAPS; i++)); do
		off=$(((RANDOM * 32768 + RANDOM) % ((vb - MIB) / 4096) * 4096))
		skip=$(((RANDOM * 32768 + RANDOM) % SIZE_MIB))
		dd if="$SRC" bs=1M skip=$skip count=1 status=none | "$T" volume write $p/v --offset $off
		"$T" zfs snapshot $p/v@s$i
	done
	nsn=$("$T" zfs list -H -t snapshot -o name | grep -c "^$p/v@" || true)
	a=() c=()
	for ((i = 1; i <= SNAP_REPS; i++)); do
		"$T" zpool export $p
		sync
		t0=$(now_us); "$T" zpool import -d "$DIR/${p}d" $p; t1=$(now_us)
		a+=($((t1 - t0)))
		"$T" zpool export $p
		drop_caches
		t0=$(now_us); "$T" zpool import -d "$DIR/${p}d" $p; t1=$(now_us)
		c+=($((t1 - t0)))
	done
	IMP_W[$p]=$(median "${a[@]}")
	IMP_C[$p]=$(median "${c[@]}")
	sample "import $p ($nsn snapshots): warm $(for x in "${a[@]}"; do printf '%s ' "$(ms "$x")"; done)ms; cold $(for x in "${c[@]}"; do printf '%s ' "$(ms "$x")"; done)ms"
done
used_bp=$("$T" zfs list -H -o used bp | tr -d '\n')
used_sp=$("$T" zfs list -H -o used sp | tr -d '\n')

# ---- results ----
mw_dd=$(median "${W_DD[@]}") mw_t=$(median "${W_TARN[@]}") mw_t64=$(median "${W_TARN64[@]}")
mr_dd=$(median "${R_DD[@]}") mr_t=$(median "${R_TARN[@]}")
rss_big=$(median "${RSS_BIG[@]}") rss_small=$(median "${RSS_SMALL[@]}")
cpu_dd=$(printf '%s\n' "${CPU_DD[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
cpu_t=$(printf '%s\n' "${CPU_TARN[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
cpu_t64=$(printf '%s\n' "${CPU_TARN64[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
wr=$(ratio "$mw_dd" "$mw_t") wr64=$(ratio "$mw_dd" "$mw_t64") rr=$(ratio "$mr_dd" "$mr_t")
yn() { awk "BEGIN { exit !($1) }" && echo yes || echo "**no**"; }
# "flat": the SIZE write's RSS within 10% (and at most 8 MiB) of the SIZE/4 write's
flat() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(b <= a * 1.10 || b - a <= 8) }' && echo yes || echo "**no**"; }
# "no growth": the big pool's time within 25% (or 1 ms) of the small pool's
nogrow() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(b <= a * 1.25 || b - a <= 1000) }' && echo yes || echo "**no**"; }

{
	echo
	echo "## Results"
	echo
	echo "tarn $VERSION; $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); kernel $(uname -r); scratch $DIR on $(df -P "$DIR" | awk 'NR == 2 { print $1 }') (same disk as repo: $same_disk); $(date -u '+%Y-%m-%d %H:%M UTC'); load average at start $LOAD0, at end $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "| measurement | baseline | tarn | ratio | goal | met |"
	echo "| --- | ---: | ---: | ---: | --- | --- |"
	echo "| seq write $SIZE, MB/s (dd conv=fdatasync vs volume write, TARN_DIRTY_MAX=256MiB) | $(mbps "$SIZE_B" "$mw_dd") | $(mbps "$SIZE_B" "$mw_t") | ${wr}x | >= 0.7x | $(yn "$wr >= 0.7") |"
	echo "| CPU time (user+sys) of that write, s | $cpu_dd | $cpu_t | $(ratio "$cpu_t" "$cpu_dd")x | (informational) | |"
	echo "| seq read $SIZE, cold cache, MB/s (dd vs volume read) | $(mbps "$SIZE_B" "$mr_dd") | $(mbps "$SIZE_B" "$mr_t") | ${rr}x | >= 0.7x | $(yn "$rr >= 0.7") |"
	echo "| seq write $SIZE, TARN_DIRTY_MAX=64MiB, MB/s | $(mbps "$SIZE_B" "$mw_dd") | $(mbps "$SIZE_B" "$mw_t64") | ${wr64}x | >= 0.7x | $(yn "$wr64 >= 0.7") |"
	echo "| CPU time (user+sys) of that write, s | $cpu_dd | $cpu_t64 | $(ratio "$cpu_t64" "$cpu_dd")x | (informational) | |"
	echo "| peak RSS, $SIZE write, TARN_DIRTY_MAX=256MiB, MiB | ${QUARTER_MIB}M write: ${RSS_Q[$DIRTY_BIG]} | $rss_big | $(ratio "$rss_big" "${RSS_Q[$DIRTY_BIG]}")x | <= 320 (256+64), flat | $(yn "$rss_big <= 320"), flat: $(flat "${RSS_Q[$DIRTY_BIG]}" "$rss_big") |"
	echo "| peak RSS, $SIZE write, TARN_DIRTY_MAX=64MiB, MiB | ${QUARTER_MIB}M write: ${RSS_Q[$DIRTY_SMALL]} | $rss_small | $(ratio "$rss_small" "${RSS_Q[$DIRTY_SMALL]}")x | <= 128 (64+64), flat | $(yn "$rss_small <= 128"), flat: $(flat "${RSS_Q[$DIRTY_SMALL]}" "$rss_small") |"
	echo "| zfs snapshot, ms ($SMALL vol vs $SIZE vol, full) | $(ms "${SNAP[sp]}") | $(ms "${SNAP[bp]}") | $(ratio "${SNAP[bp]}" "${SNAP[sp]}")x | < 5 ms, no growth | $(yn "${SNAP[bp]} < 5000 && ${SNAP[sp]} < 5000"), no growth: $(nogrow "${SNAP[sp]}" "${SNAP[bp]}") |"
	echo "| no-op \`zfs list -H -o name\`, ms (same pools) | $(ms "${NOOP[sp]}") | $(ms "${NOOP[bp]}") | $(ratio "${NOOP[bp]}" "${NOOP[sp]}")x | (process + pool open cost) | |"
	echo "| zpool import, warm cache, ms ($SMALL vs $SIZE vol, $NSNAPS snapshots; used $used_sp vs $used_bp) | $(ms "${IMP_W[sp]}") | $(ms "${IMP_W[bp]}") | $(ratio "${IMP_W[bp]}" "${IMP_W[sp]}")x | < 100 ms, no growth | $(yn "${IMP_W[bp]} < 100000 && ${IMP_W[sp]} < 100000"), no growth: $(nogrow "${IMP_W[sp]}" "${IMP_W[bp]}") |"
	echo "| zpool import, after drop_caches, ms (same) | $(ms "${IMP_C[sp]}") | $(ms "${IMP_C[bp]}") | $(ratio "${IMP_C[bp]}" "${IMP_C[sp]}")x | (informational) | |"
	echo
	echo "Medians: write/read of $REPS runs (each write round: dd, tarn at 256 MiB, tarn at 64 MiB, after one uncounted warm-up round; reads alternate dd and tarn), snapshot/no-op/import of $SNAP_REPS. MB/s = 10^6 bytes/s over the whole command's wall time (tarn: process start, pool open, write, commit with fdatasync, exit; dd: including its fdatasync). Ratio = tarn/baseline (throughput and CPU rows) or big/small (time and RSS rows). \"flat\": the $SIZE write's RSS within 10% or 8 MiB of the ${QUARTER_MIB}M write's; \"no growth\": the $SIZE pool's time within 25% or 1 ms of the $SMALL pool's."
	echo
	echo "Produced by: \`$CMDLINE\`"
} | tee "$DIR/table.md"
