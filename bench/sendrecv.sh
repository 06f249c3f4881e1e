#!/usr/bin/env bash
# bench/sendrecv.sh — tarn `zfs send | zfs receive` against btrfs's kernel send/receive, side by
# side in one run, on the same data.
#
#   bash bench/sendrecv.sh [--dir DIR] [--reps N] [--seed N] [--size S] [--keep]
#
# Data: a 4 GiB (--size) volume (3/4 incompressible from openssl aes-128-ctr, then 1/4 zeros),
# snapshot @1, then 1% of its 4K blocks (10486 at 4 GiB, distinct, random, seed --seed [1];
# about a quarter land in the zero region) overwritten with random data, snapshot @2. The same
# change list is applied to every system. Systems:
#   btrfs      loop-mounted btrfs filesystems (8G image files), the data a 4 GiB file in a
#              subvolume (zeros as a hole), read-only snapshots, `btrfs send [-p] | btrfs receive`
#   tarn 16K   tarn pools on 8G sparse files, `zfs create -s -V 4G -o compression=off` (default
#              volblocksize 16K), `tarn zfs send [-i @1] | tarn zfs receive`
#   tarn 4K    the same with -b 4K
# Measured (median of --reps [3] rounds, systems in rotating order; before each run: sync, wait
# for the disk to go quiet, drop the page cache; a final `sync` is included in each timing):
# full send|receive of @1 (each round into its own destination, all created up front),
# incremental send|receive @1 -> @2, their stream sizes (`| wc -c`, also timed alone as "sender
# alone"), `tarn zfs send -nvP -i @1` (cold once, then median of 5 warm), receiving the saved
# incremental stream alone (tarn), and the practical floor: copying just the changed 4K blocks
# by hand (python: pread from the @2 image, pwrite in place into a copy of @1, fsync; plain
# files on the repo's disk). Every received copy is checked (md5) against the expected image
# (the source data with the changes applied by hand).
#
# Run as root from anywhere (it cd's to the repo root). Installs btrfs-progs and time with
# apt-get if missing, builds tarn (make) and bench/patchvol.c, works in DIR
# [/var/tmp/tarn-bench-sr] (same disk as the repo by default; needs ~46 GiB free with 3 rounds)
# and removes DIR, the mounts and loop devices at the end unless --keep. Every command runs
# under a timeout. ~8 minutes on 2 CPUs. Prints every sample, then a markdown table and the
# command line.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
CMDLINE="bash bench/sendrecv.sh"
for a in "$@"; do CMDLINE+=" $(printf '%q' "$a")"; done

DIR=/var/tmp/tarn-bench-sr
REPS=3
SEED=1
SIZE_G=4
KEEP=0
usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case "$1" in
	--dir) DIR=$2; shift 2 ;;
	--reps) REPS=$2; shift 2 ;;
	--seed) SEED=$2; shift 2 ;;
	--size) SIZE_G=${2%[Gg]}; shift 2 ;;
	--keep) KEEP=1; shift ;;
	-h | --help) usage ;;
	*) echo "sendrecv.sh: unknown argument '$1'" >&2; usage ;;
	esac
done

die() { echo "sendrecv.sh: $*" >&2; exit 1; }
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
[[ $REPS =~ ^[1-9][0-9]*$ ]] && [ "$REPS" -le 20 ] || die "--reps must be 1..20"
[[ $SEED =~ ^[0-9]+$ ]] || die "--seed must be a number"
[[ $SIZE_G =~ ^[1-4]$ ]] || die "--size must be 1G..4G (the pools and btrfs images are 8G)"
[ "$(id -u)" -eq 0 ] || die "run as root (loop mounts, drop_caches)"

GIB=$((1 << 30))
MIB=$((1 << 20))
VOLSIZE=$((SIZE_G * GIB))
DATA_B=$((VOLSIZE / 4 * 3))  # incompressible part; the rest (1/4) is zeros
NBLK4K=$((VOLSIZE / 4096))   # 1048576
NCHANGE=$(((NBLK4K + 99) / 100)) # 1% of the 4K blocks, rounded up: 10486
IMG_SIZE=8G
TMO=900                      # seconds: the limit for any one step
PY=/usr/bin/python3

# ---- tools ----
need_pkgs=()
command -v mkfs.btrfs >/dev/null && command -v btrfs >/dev/null || need_pkgs+=(btrfs-progs)
[ -x /usr/bin/time ] || need_pkgs+=(time)
command -v openssl >/dev/null || need_pkgs+=(openssl)
[ -x $PY ] || need_pkgs+=(python3)
if [ ${#need_pkgs[@]} -gt 0 ]; then
	log "installing ${need_pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -q update >/dev/null
	apt-get -q install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
grep -qw btrfs /proc/filesystems || modprobe btrfs 2>/dev/null || die "the kernel has no btrfs"
if ! make -s >/dev/null 2>&1; then
	log "make failed; installing build dependencies and retrying"
	./scripts/install-deps.sh
	make -s >/dev/null
fi

# ---- scratch dir ----
MARK=.tarn-bench-sr-scratch
if [ -e "$DIR" ]; then
	[ -d "$DIR" ] && { [ -e "$DIR/$MARK" ] || [ -z "$(ls -A "$DIR")" ]; } ||
		die "$DIR exists and is not a scratch dir of this script; remove it or pass --dir"
	for m in "$DIR"/mnt/*; do # left by a --keep run or a killed one
		if mountpoint -q "$m"; then
			dev=$(findmnt -n -o SOURCE "$m")
			umount "$m"
			case "$dev" in /dev/loop*) losetup -d "$dev" 2>/dev/null || true ;; esac
		fi
	done
	rm -rf -- "$DIR"
fi
mkdir -p "$DIR"
touch "$DIR/$MARK"
DIR=$(cd "$DIR" && pwd)
LOOPS=()
cleanup() {
	local rc=$?
	set +e
	if [ "$KEEP" = 1 ]; then
		log "kept $DIR (btrfs filesystems mounted under $DIR/mnt: ${LOOPS[*]})"
		exit $rc
	fi
	for m in "$DIR"/mnt/*; do
		mountpoint -q "$m" && { umount "$m" || umount -l "$m"; }
	done
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
	if [ -n "${TARN_HOME:-}" ] && [ -x "$DIR/tarn" ]; then
		for p in $("$DIR/tarn" zpool list -H -o name 2>/dev/null); do "$DIR/tarn" zpool destroy -f "$p" >/dev/null 2>&1; done
	fi
	rm -rf -- "$DIR"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

same_disk=yes
[ "$(stat -c %d "$DIR")" = "$(stat -c %d "$REPO")" ] || same_disk="NO (repo and scratch dir are on different filesystems)"
# sources and REPS destinations of 3 systems, the data file and the floor's copy: ~1.05 x data each
need_kib=$(((3 * (REPS + 1) + 2) * SIZE_G * 3 / 4 * 105 / 100 * GIB / 1024 + 2 * GIB / 1024))
avail_kib=$(df -Pk "$DIR" | awk 'NR == 2 { print $4 }')
[ "$avail_kib" -ge "$need_kib" ] || die "$DIR: need $((need_kib >> 20)) GiB free, have $((avail_kib >> 20)) GiB"

# freeze the binaries: the tree may be rebuilt while we run
cp build/tarn "$DIR/tarn"
T=$DIR/tarn
# shellcheck disable=SC2046
cc -O2 -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Isrc $(pkg-config --cflags libxxhash liblz4 libzstd libcrypto) \
	bench/patchvol.c build/libtarn.a $(pkg-config --libs libxxhash liblz4 libzstd libcrypto) -lpthread -lm \
	-o "$DIR/patchvol" || die "cannot build bench/patchvol.c"
PATCHVOL=$DIR/patchvol
export TARN_HOME=$DIR/home
unset TARN_DIRTY_MAX TARN_TORN_AFTER TARN_TORN_SEED TARN_CONDENSE_SLACK
mkdir -p "$TARN_HOME" "$DIR/pools" "$DIR/mnt"
SRC=$DIR/src.img # the 3 GiB of data; at the end, extended and patched: the expected @2 image

# ---- helpers ----
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
minimum() { printf '%s\n' "$@" | sort -g | head -1; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.0f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mbps() { awk -v b="$1" -v us="$2" 'BEGIN { printf "%.0f", b / us }'; } # bytes/us = MB/s
sec() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1e6 }'; }
ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; } # a/b
mb() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1e6 }'; }
yn() { awk "BEGIN { exit !($1) }" && echo yes || echo "**no**"; }
# run a bash command line under the step timeout (pipefail on)
run() { timeout --kill-after=10 $TMO bash -c "set -o pipefail; $1"; }
# settle: sync, then wait (at most 30 s) until the scratch disk has had no I/O in flight and no
# sectors read, written or discarded for 1 s. The root fs may be mounted with `discard`: freeing
# the previous round's files issues discards after the journal commit, which would otherwise
# land in the next timed run.
DISK=$(basename "$(df -P "$DIR" | awk 'NR == 2 { print $1 }')")
disk_state() { awk -v d="$DISK" '$3 == d { print $6 + $10 + $17, $12 }' /proc/diskstats; }
settle() {
	local i prev="" cur quiet=0
	sync
	[ -n "$(disk_state)" ] || { sleep 1; return 0; }
	for ((i = 0; i < 120; i++)); do
		cur=$(disk_state)
		if [ "$cur" = "$prev" ] && [ "${cur#* }" = 0 ]; then
			quiet=$((quiet + 1))
			[ $quiet -ge 4 ] && return 0
		else
			quiet=0
		fi
		prev=$cur
		sleep 0.25
	done
	log "note: $DISK did not go quiet within 30 s"
}
# timed CMD: settle, drop caches, run CMD then `sync` under the timeout; sets US (wall, us)
timed() {
	local t0 t1
	settle
	drop_caches
	t0=$(now_us)
	run "$1; sync" || die "failed or timed out: $1"
	t1=$(now_us)
	US=$((t1 - t0))
}
# per-process CPU and peak RSS of a side of a pipeline: /usr/bin/time -o FILE
TF="/usr/bin/time -f '%e %U %S %M' -o"
cpu_of() { awk '{ printf "%.2f", $2 + $3 }' "$1"; }   # user+sys seconds
rss_of() { awk '{ printf "%.0f", $4 / 1024 }' "$1"; } # MiB

SAMPLES=$DIR/samples.txt
: >"$SAMPLES"
sample() { echo "$*" | tee -a "$SAMPLES" >&2; }

VERSION=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo "${TARN_BENCH_VERSION:-?}") # (a tree without .git: say which)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "tarn $VERSION, scratch $DIR, reps $REPS, seed $SEED, $NCHANGE changed 4K blocks"

# ---- 1. data and the change list ----
log "generating $((DATA_B / MIB)) MiB of incompressible data"
openssl enc -aes-128-ctr -pass pass:x -nosalt -pbkdf2 </dev/zero 2>/dev/null | head -c "$DATA_B" >"$SRC" || true
[ "$(stat -c %s "$SRC")" -eq "$DATA_B" ] || die "could not generate $SRC"
log "generating the change list (seed $SEED)"
cat >"$DIR/gen.py" <<'EOF'
import random, sys
seed, nblk, zero_blk, n, out_dir = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rng = random.Random(seed)
blocks = sorted(rng.sample(range(nblk), n))   # distinct 4K block numbers
data = rng.randbytes(n * 4096)                # new contents, random
with open(out_dir + "/changes.dat", "wb") as f:
    f.write(data)
with open(out_dir + "/changes.off", "w") as f:
    f.write("".join("%d\n" % (b * 4096) for b in blocks))
with open(out_dir + "/changes.list", "w") as f: # for patchvol: OFFSET FILE FILE_OFFSET LENGTH
    f.write("".join("%d %s/changes.dat %d 4096\n" % (b * 4096, out_dir, i * 4096) for i, b in enumerate(blocks)))
print(n, sum(b >= zero_blk for b in blocks), len({b // 4 for b in blocks}))
EOF
read -r N_CH N_CH_ZERO N_CH16 < <($PY "$DIR/gen.py" "$SEED" "$NBLK4K" $((DATA_B / 4096)) "$NCHANGE" "$DIR")
CHANGED_B=$((N_CH * 4096))
CHANGED16_B=$((N_CH16 * 16384))
sample "changes: $N_CH 4K blocks ($CHANGED_B bytes), $N_CH_ZERO of them in the zero region; $N_CH16 distinct 16K blocks ($CHANGED16_B bytes)"
cat >"$DIR/apply.py" <<'EOF'
import os, sys # apply.py OFFSETS DATA TARGET: pwrite each 4K change in place, fsync
offs = [int(l) for l in open(sys.argv[1])]
data = open(sys.argv[2], "rb").read()
fd = os.open(sys.argv[3], os.O_RDWR)
for i, off in enumerate(offs):
    os.pwrite(fd, data[i * 4096:(i + 1) * 4096], off)
os.fsync(fd)
os.close(fd)
EOF
cat >"$DIR/copy.py" <<'EOF'
import os, sys # copy.py OFFSETS SRC DST: copy just the listed 4K blocks from SRC to DST, fsync
offs = [int(l) for l in open(sys.argv[1])]
s = os.open(sys.argv[2], os.O_RDONLY)
d = os.open(sys.argv[3], os.O_WRONLY)
for off in offs:
    os.pwrite(d, os.pread(s, 4096, off), off)
os.fsync(d)
EOF
log "expected md5 of @1"
EXP1=$(run "{ cat '$SRC'; head -c $((VOLSIZE - DATA_B)) /dev/zero; } | md5sum | cut -d' ' -f1")

# ---- 2. fill every system (@1) ----
# Every full round receives into its own destination, all created here: re-creating one between
# rounds (deleting the previous copy) made the next round slower, most for btrfs.
log "btrfs: $((REPS + 1)) loop-mounted 8G filesystems (the source, one destination per round)"
new_btrfs() { # new_btrfs NAME: image, loop device, mounted on $DIR/mnt/NAME
	truncate -s $IMG_SIZE "$DIR/btrfs-$1.img"
	mkfs.btrfs -q "$DIR/btrfs-$1.img" >/dev/null
	local l
	l=$(losetup -f --show "$DIR/btrfs-$1.img")
	LOOPS+=("$l")
	mkdir -p "$DIR/mnt/$1"
	mount "$l" "$DIR/mnt/$1"
}
new_btrfs a
for ((r = 1; r <= REPS; r++)); do new_btrfs "b$r"; done
A=$DIR/mnt/a
btrfs -q subvolume create "$A/vol"
log "btrfs: writing the $((VOLSIZE / MIB)) MiB file (zeros as a hole)"
run "dd if='$SRC' of='$A/vol/data' bs=1M status=none && truncate -s $VOLSIZE '$A/vol/data'" || die "btrfs fill"
sync
btrfs -q subvolume snapshot -r "$A/vol" "$A/snap1"
sync

tarn_fill() { # tarn_fill BS: pools sBS (source) and dBSrR (destination of round R), the volume written, @1
	local bs=$1 bopt=() r
	[ "$bs" = 16 ] || bopt=(-b "${bs}K")
	truncate -s $IMG_SIZE "$DIR/pools/s$bs.img"
	"$T" zpool create "s$bs" "$DIR/pools/s$bs.img"
	for ((r = 1; r <= REPS; r++)); do
		truncate -s $IMG_SIZE "$DIR/pools/d${bs}r$r.img"
		"$T" zpool create "d${bs}r$r" "$DIR/pools/d${bs}r$r.img"
	done
	"$T" zfs create -s -V "$VOLSIZE" "${bopt[@]}" -o compression=off "s$bs/v"
	[ "$("$T" zfs get -H -p -o value volblocksize "s$bs/v")" = $((bs * 1024)) ] || die "s$bs/v: wrong volblocksize"
	log "tarn ${bs}K: writing the $((VOLSIZE / MIB)) MiB volume"
	run "{ cat '$SRC'; head -c $((VOLSIZE - DATA_B)) /dev/zero; } | '$T' volume write s$bs/v" || die "tarn fill"
	"$T" zfs snapshot "s$bs/v@1"
}
tarn_fill 16
tarn_fill 4
sync

# ---- 3. full send | receive, REPS rounds (the order of the systems rotates) ----
declare -A FULL INC
declare -a F_bt F_16 F_4 I_bt I_16 I_4
ORDERS=("bt 16 4" "16 4 bt" "4 bt 16")
full_run() { # full_run SYS ROUND
	local s=$1
	if [ "$s" = bt ]; then
		timed "$TF $DIR/f-bt-s.t btrfs -q send '$A/snap1' | $TF $DIR/f-bt-r.t btrfs -q receive '$DIR/mnt/b$2/' 2>>'$DIR/btrfs.log'"
		sample "full btrfs    round $2: $(sec "$US") s, $(mbps $DATA_B "$US") MB/s; CPU send $(cpu_of "$DIR/f-bt-s.t") s, receive $(cpu_of "$DIR/f-bt-r.t") s"
	else
		timed "$TF $DIR/f-$s-s.t '$T' zfs send s$s/v@1 | $TF $DIR/f-$s-r.t '$T' zfs receive d${s}r$2/v"
		sample "full tarn ${s}K round $2: $(sec "$US") s, $(mbps $DATA_B "$US") MB/s; CPU send $(cpu_of "$DIR/f-$s-s.t") s, receive $(cpu_of "$DIR/f-$s-r.t") s, RSS send $(rss_of "$DIR/f-$s-s.t") MiB, receive $(rss_of "$DIR/f-$s-r.t") MiB"
	fi
	eval "F_$s+=(\"\$US\")"
}
for ((r = 1; r <= REPS; r++)); do
	log "full send|receive, round $r/$REPS"
	for s in ${ORDERS[$(((r - 1) % 3))]}; do full_run "$s" "$r"; done
done
declare -A FULLMIN INCMIN
FULL[bt]=$(median "${F_bt[@]}") FULL[16]=$(median "${F_16[@]}") FULL[4]=$(median "${F_4[@]}")
FULLMIN[bt]=$(minimum "${F_bt[@]}") FULLMIN[16]=$(minimum "${F_16[@]}") FULLMIN[4]=$(minimum "${F_4[@]}")
# the sender alone (cold), and the stream size
declare -A FS_US FS_B IS_US IS_B
timed "btrfs -q send '$A/snap1' | wc -c >'$DIR/n'"
FS_US[bt]=$US FS_B[bt]=$(cat "$DIR/n")
for bs in 16 4; do
	timed "'$T' zfs send s$bs/v@1 | wc -c >'$DIR/n'"
	FS_US[$bs]=$US FS_B[$bs]=$(cat "$DIR/n")
done
for s in bt 16 4; do sample "full stream $s: ${FS_B[$s]} bytes; sender alone (cold) $(sec "${FS_US[$s]}") s"; done
log "verifying the received @1 copies"
for bs in 16 4; do
	for ((r = 1; r <= REPS; r++)); do
		m=$(run "'$T' volume read d${bs}r$r/v@1 | md5sum | cut -d' ' -f1")
		[ "$m" = "$EXP1" ] || die "d${bs}r$r/v@1 differs from the source image (md5 $m, expected $EXP1)"
	done
done
# the incremental rounds use the last round's destinations
B=$DIR/mnt/b$REPS D16=d16r$REPS D4=d4r$REPS

# ---- 4. the 1% change, @2 ----
log "applying the $N_CH changes: btrfs (pwrite + fsync), tarn (patchvol)"
run "$PY '$DIR/apply.py' '$DIR/changes.off' '$DIR/changes.dat' '$A/vol/data'" || die "btrfs apply"
sync
btrfs -q subvolume snapshot -r "$A/vol" "$A/snap2"
for bs in 16 4; do
	run "'$PATCHVOL' s$bs/v '$DIR/changes.list'" >/dev/null || die "patchvol s$bs/v"
	"$T" zfs snapshot "s$bs/v@2"
done
sync

# ---- 5. incremental send | receive, REPS rounds (the order rotates) ----
inc_run() { # inc_run SYS ROUND
	local s=$1
	if [ "$s" = bt ]; then
		timed "$TF $DIR/i-bt-s.t btrfs -q send -p '$A/snap1' '$A/snap2' | $TF $DIR/i-bt-r.t btrfs -q receive '$B/' 2>>'$DIR/btrfs.log'"
		sample "incr btrfs    round $2: $(sec "$US") s; CPU send $(cpu_of "$DIR/i-bt-s.t") s, receive $(cpu_of "$DIR/i-bt-r.t") s"
	else
		local d="D$s"
		timed "$TF $DIR/i-$s-s.t '$T' zfs send -i @1 s$s/v@2 | $TF $DIR/i-$s-r.t '$T' zfs receive ${!d}/v"
		sample "incr tarn ${s}K round $2: $(sec "$US") s; CPU send $(cpu_of "$DIR/i-$s-s.t") s, receive $(cpu_of "$DIR/i-$s-r.t") s, RSS send $(rss_of "$DIR/i-$s-s.t") MiB, receive $(rss_of "$DIR/i-$s-r.t") MiB"
	fi
	eval "I_$s+=(\"\$US\")"
}
for ((r = 1; r <= REPS; r++)); do
	if [ $r -gt 1 ]; then
		btrfs -q subvolume delete -c "$B/snap2" >/dev/null
		btrfs subvolume sync "$B" >/dev/null
		"$T" zfs rollback -r "$D16/v@1"
		"$T" zfs rollback -r "$D4/v@1"
	fi
	log "incremental send|receive, round $r/$REPS"
	for s in ${ORDERS[$(((r - 1) % 3))]}; do inc_run "$s" "$r"; done
done
INC[bt]=$(median "${I_bt[@]}") INC[16]=$(median "${I_16[@]}") INC[4]=$(median "${I_4[@]}")
INCMIN[bt]=$(minimum "${I_bt[@]}") INCMIN[16]=$(minimum "${I_16[@]}") INCMIN[4]=$(minimum "${I_4[@]}")
timed "btrfs -q send -p '$A/snap1' '$A/snap2' | wc -c >'$DIR/n'"
IS_US[bt]=$US IS_B[bt]=$(cat "$DIR/n")
declare -A RA_US NV_COLD NV_WARM NV_EST
for bs in 16 4; do
	timed "'$T' zfs send -i @1 s$bs/v@2 | wc -c >'$DIR/n'"
	IS_US[$bs]=$US IS_B[$bs]=$(cat "$DIR/n")
	# the receiver alone, from the saved stream (cold)
	run "'$T' zfs send -i @1 s$bs/v@2 >'$DIR/inc.stream'" || die "send to file"
	d="D$bs"
	"$T" zfs rollback -r "${!d}/v@1"
	timed "'$T' zfs receive ${!d}/v <'$DIR/inc.stream'"
	RA_US[$bs]=$US
	rm -f "$DIR/inc.stream"
	# send -nvP: once cold, then 5 warm
	drop_caches
	t0=$(now_us)
	run "'$T' zfs send -nvP -i @1 s$bs/v@2 >'$DIR/nvp'" || die "send -nvP"
	t1=$(now_us)
	NV_COLD[$bs]=$((t1 - t0))
	a=()
	for _ in 1 2 3 4 5; do
		t0=$(now_us)
		"$T" zfs send -nvP -i @1 "s$bs/v@2" >"$DIR/nvp"
		t1=$(now_us)
		a+=($((t1 - t0)))
	done
	NV_WARM[$bs]=$(median "${a[@]}")
	NV_EST[$bs]=$(awk -F'\t' '$1 == "size" { print $2 }' "$DIR/nvp")
	sample "send -nvP ${bs}K: estimate ${NV_EST[$bs]} bytes (actual ${IS_B[$bs]}); cold $(ms "${NV_COLD[$bs]}") ms; warm $(for x in "${a[@]}"; do printf '%s ' "$(ms "$x")"; done)ms"
done
for s in bt 16 4; do sample "incr stream $s: ${IS_B[$s]} bytes; sender alone (cold) $(sec "${IS_US[$s]}") s${RA_US[$s]:+; receiver alone from a file (cold) $(sec "${RA_US[$s]}") s}"; done

# ---- 6. the floor: copy just the changed blocks by hand, then verify everything ----
log "the expected @2 image, and a copy of @1 for the floor"
truncate -s $VOLSIZE "$SRC" # the @1 image (zeros as a hole) ...
run "cp --sparse=always '$SRC' '$DIR/floor.img'" || die "copy of @1"
run "$PY '$DIR/apply.py' '$DIR/changes.off' '$DIR/changes.dat' '$SRC'" || die "apply to $SRC" # ... now @2
EXP2=$(run "md5sum <'$SRC' | cut -d' ' -f1")
log "floor: copying the $N_CH changed blocks by hand (@2 image -> copy of @1, plain files on the repo's disk)"
timed "$PY '$DIR/copy.py' '$DIR/changes.off' '$SRC' '$DIR/floor.img'"
FLOOR_US=$US
rm -f "$DIR/floor.img"
sample "floor: $(sec "$FLOOR_US") s"
log "verifying @2 everywhere"
m=$(run "md5sum <'$B/snap2/data' | cut -d' ' -f1")
[ "$m" = "$EXP2" ] || die "btrfs received snap2 differs from the expected image"
for bs in 16 4; do
	d="D$bs"
	for p in "s$bs" "${!d}"; do
		m=$(run "'$T' volume read $p/v@2 | md5sum | cut -d' ' -f1")
		[ "$m" = "$EXP2" ] || die "$p/v@2 differs from the expected image (md5 $m, expected $EXP2)"
	done
done
sample "verified: every received @1/@2 equals the expected image (md5 $EXP1 / $EXP2)"

# ---- results ----
inc_lim4=$(awk -v c=$CHANGED_B -v m=$MIB 'BEGIN { printf "%.0f", 1.05 * c + m }')
inc_lim16=$(awk -v c=$CHANGED16_B -v m=$MIB 'BEGIN { printf "%.0f", 1.05 * c + m }')
# ratios of the medians and of the best runs; a time goal counts as met only if both meet it
fr16=$(ratio "${FULL[bt]}" "${FULL[16]}") fr4=$(ratio "${FULL[bt]}" "${FULL[4]}")
ir4=$(ratio "${INC[4]}" "${INC[bt]}") ir16=$(ratio "${INC[16]}" "${INC[bt]}")
fr16m=$(ratio "${FULLMIN[bt]}" "${FULLMIN[16]}") fr4m=$(ratio "${FULLMIN[bt]}" "${FULLMIN[4]}")
ir4m=$(ratio "${INCMIN[4]}" "${INCMIN[bt]}") ir16m=$(ratio "${INCMIN[16]}" "${INCMIN[bt]}")
tm() { echo "$(sec "$1") ($(sec "$2"))"; } # median (best)
{
	echo
	echo "## Results"
	echo
	echo "tarn $VERSION; btrfs-progs $(btrfs --version | awk '{ print $2 }'); $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); kernel $(uname -r); scratch $DIR on $(df -P "$DIR" | awk 'NR == 2 { print $1 }') (same disk as repo: $same_disk); $(date -u '+%Y-%m-%d %H:%M UTC'); load average at start $LOAD0, at end $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "Change: $N_CH 4K blocks = $CHANGED_B bytes ($N_CH_ZERO in the former zero region), touching $N_CH16 16K blocks = $CHANGED16_B bytes."
	echo
	echo "| measurement | btrfs | tarn | ratio | goal | met |"
	echo "| --- | ---: | ---: | ---: | --- | --- |"
	echo "| full send\\|receive, volblocksize 16K (default): s, median (best); MB/s of the median over the $((DATA_B / MIB)) MiB of data | $(tm "${FULL[bt]}" "${FULLMIN[bt]}"); $(mbps $DATA_B "${FULL[bt]}") | $(tm "${FULL[16]}" "${FULLMIN[16]}"); $(mbps $DATA_B "${FULL[16]}") | ${fr16}x (${fr16m}x) throughput | >= 1.5x | $(yn "$fr16 >= 1.5 && $fr16m >= 1.5") |"
	echo "| full send\\|receive, volblocksize 4K: s, median (best); MB/s | $(tm "${FULL[bt]}" "${FULLMIN[bt]}"); $(mbps $DATA_B "${FULL[bt]}") | $(tm "${FULL[4]}" "${FULLMIN[4]}"); $(mbps $DATA_B "${FULL[4]}") | ${fr4}x (${fr4m}x) throughput | >= 1.5x (stated for the default block size) | $(yn "$fr4 >= 1.5 && $fr4m >= 1.5") |"
	echo "| full stream, MB (16K / 4K) | $(mb "${FS_B[bt]}") | $(mb "${FS_B[16]}") / $(mb "${FS_B[4]}") | | (info) | |"
	echo "| full, sender alone (\`send \\| wc -c\`, cold), s (16K / 4K) | $(sec "${FS_US[bt]}") | $(sec "${FS_US[16]}") / $(sec "${FS_US[4]}") | | (info) | |"
	echo "| incremental send\\|receive, 4K: s, median (best) | $(tm "${INC[bt]}" "${INCMIN[bt]}") | $(tm "${INC[4]}" "${INCMIN[4]}") | ${ir4}x (${ir4m}x) time | <= 1.0x | $(yn "$ir4 <= 1.0 && $ir4m <= 1.0") |"
	echo "| incremental stream, 4K: MB (x changed bytes) | $(mb "${IS_B[bt]}") ($(ratio "${IS_B[bt]}" $CHANGED_B)x) | $(mb "${IS_B[4]}") ($(ratio "${IS_B[4]}" $CHANGED_B)x) | $(ratio "${IS_B[4]}" "${IS_B[bt]}")x | <= 1.05 x changed + 1 MiB = $(mb "$inc_lim4") MB | $(yn "${IS_B[4]} <= $inc_lim4") |"
	echo "| incremental send\\|receive, 16K: s, median (best) | $(tm "${INC[bt]}" "${INCMIN[bt]}") | $(tm "${INC[16]}" "${INCMIN[16]}") | ${ir16}x (${ir16m}x) time | (info: the time goal is stated at 4K) | $(yn "$ir16 <= 1.0 && $ir16m <= 1.0") |"
	echo "| incremental stream, 16K: MB (x changed 16K blocks x 16K) | | $(mb "${IS_B[16]}") ($(ratio "${IS_B[16]}" $CHANGED16_B)x) | | <= 1.05 x $(mb $CHANGED16_B) MB + 1 MiB = $(mb "$inc_lim16") MB | $(yn "${IS_B[16]} <= $inc_lim16") |"
	echo "| incremental, sender alone (\`send -i \\| wc -c\`, cold), s (4K / 16K) | $(sec "${IS_US[bt]}") | $(sec "${IS_US[4]}") / $(sec "${IS_US[16]}") | | (info) | |"
	echo "| incremental, receiver alone (from a file, cold), s (4K / 16K) | | $(sec "${RA_US[4]}") / $(sec "${RA_US[16]}") | | (info) | |"
	echo "| \`send -nvP -i @1\`, 4K: ms, warm median of 5 (cold) | | $(ms "${NV_WARM[4]}") ($(ms "${NV_COLD[4]}")) | | < 50 ms | $(yn "${NV_WARM[4]} < 50000") |"
	echo "| \`send -nvP -i @1\`, 16K: ms, warm median of 5 (cold) | | $(ms "${NV_WARM[16]}") ($(ms "${NV_COLD[16]}")) | | < 50 ms | $(yn "${NV_WARM[16]} < 50000") |"
	echo "| -nvP estimate = actual stream bytes (4K / 16K) | | $([ "${NV_EST[4]}" = "${IS_B[4]}" ] && echo yes || echo "**no** (${NV_EST[4]})") / $([ "${NV_EST[16]}" = "${IS_B[16]}" ] && echo yes || echo "**no** (${NV_EST[16]})") | | exact | |"
	echo "| floor: copy just the changed 4K blocks by hand (python: pread from the @2 image, pwrite in place into a copy of @1, fsync; plain files on the repo's disk), s | $(sec "$FLOOR_US") | | tarn 4K / floor: $(ratio "${INC[4]}" "$FLOOR_US")x | (info) | |"
	echo
	echo "Medians of $REPS rounds (the order of btrfs, tarn 16K and tarn 4K rotates from round to round; each full round into its own destination, all created before the first; before every run: \`sync\`, a wait for the disk to go quiet, \`echo 3 > /proc/sys/vm/drop_caches\`; timed from the start of the pipeline to the end of a final \`sync\`). Volume $((VOLSIZE / MIB)) MiB; MB/s = 10^6 bytes/s of its $((DATA_B / MIB)) MiB of non-zero data. Ratios (of the medians, and in brackets of the best runs; a goal is met only if both meet it): full = btrfs time / tarn time (throughput, higher is better); incremental = tarn time / btrfs time (lower is better). Every received copy verified by md5 against the expected image."
	echo
	echo "Produced by: \`$CMDLINE\`"
} | tee "$DIR/table.md"
