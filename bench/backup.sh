#!/usr/bin/env bash
# bench/backup.sh — an incremental `tarn backup run` against `restic backup` and `borg create`
# of the same VM disks after the same change, side by side in one run.
#
#   bash bench/backup.sh [--dir DIR] [--seed N] [--size G] [--keep]
#
# Data: a VM with two volumes, --size [4] GiB in all: disk0 3/4 of it incompressible (openssl
# aes-128-ctr), disk1 1/4 zeros. The same bytes exist as two image files for restic and borg.
# First a full backup with each tool; then 1% of the 4K blocks of the whole VM (10486 at 4 GiB;
# distinct, random, seed --seed [1]; about a quarter land in the zero disk) are rewritten with
# random data, in the tarn volumes (bench/patchvol.c, one commit) and in the image files (pwrite);
# then the measured incremental backups, each after sync + dropping the page cache:
#   tarn    tarn backup run: snapshot + send -i + receive + verify (guid) + prune (keep=2) +
#           status files, local destination pool on another file of the same disk
#   restic  restic backup of the two image files (repository on the same disk)
#   borg    borg create of the two image files (repository on the same disk, -e none)
# Reported: wall time of each incremental, and the destination growth (tarn: `used` of the
# backup dataset; restic/borg: du of the repository) against the changed bytes (4K blocks) and
# the changed volume blocks (distinct 16K blocks: tarn's volblocksize). Also timed: tarn with
# verify=full. The received snapshot is checked (md5) against the changed image files.
# Goals (issue 6): tarn >= 15x faster than both; destination growth <= 1.1x the changed volume
# blocks.
#
# Run as root from anywhere. Installs restic and borgbackup with apt-get if missing; builds tarn
# and bench/patchvol.c; works in DIR [/var/tmp/tarn-bench-backup] (needs ~3x --size free) and
# removes it unless --keep. Prints every sample, then a markdown table and the command line.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
CMDLINE="bash bench/backup.sh"
for a in "$@"; do CMDLINE+=" $(printf '%q' "$a")"; done

DIR=/var/tmp/tarn-bench-backup
SEED=1
SIZE_G=4
KEEP=0
usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case "$1" in
	--dir) DIR=$2; shift 2 ;;
	--seed) SEED=$2; shift 2 ;;
	--size) SIZE_G=${2%[Gg]}; shift 2 ;;
	--keep) KEEP=1; shift ;;
	-h | --help) usage ;;
	*) echo "backup.sh: unknown argument '$1'" >&2; usage ;;
	esac
done
die() { echo "backup.sh: $*" >&2; exit 1; }
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
[[ $SIZE_G =~ ^[1-9][0-9]*$ ]] && [ "$SIZE_G" -le 64 ] && [ $((SIZE_G % 4)) -eq 0 ] || die "--size must be 4, 8, ... 64 (GiB)"
[ "$(id -u)" -eq 0 ] || die "run as root (drops the page cache, may install packages)"

need=()
command -v restic >/dev/null || need+=(restic)
command -v borg >/dev/null || need+=(borgbackup)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null || die "apt-get install ${need[*]} failed"
fi

MIB=1048576
GIB=$((1024 * MIB))
TOTAL_B=$((SIZE_G * GIB))
D0_B=$((TOTAL_B / 4 * 3)) # disk0: incompressible
D1_B=$((TOTAL_B / 4))     # disk1: zeros
NCHANGE=$((TOTAL_B / 4096 / 100))

log "building tarn and patchvol"
make -s -j"$(nproc)" >/dev/null || die "make failed"
T=$REPO/build/tarn
rm -rf "$DIR"
mkdir -p "$DIR/home" "$DIR/img"
cleanup() { [ "$KEEP" = 1 ] || rm -rf "$DIR"; }
trap cleanup EXIT
cc -O2 -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Isrc bench/patchvol.c build/libtarn.a \
	$(pkg-config --libs libxxhash liblz4 libzstd libcrypto) -lpthread -lm -o "$DIR/patchvol" || die "cannot build patchvol"
export TARN_HOME=$DIR/home RESTIC_PASSWORD=bench BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_BASE_DIR=$DIR/borgbase RESTIC_CACHE_DIR=$DIR/restic-cache

SAMPLES=$DIR/samples.txt
: >"$SAMPLES"
sample() { echo "$*" | tee -a "$SAMPLES" >&2; }
quiet() { sync; echo 3 >/proc/sys/vm/drop_caches; sleep 1; }
# timed VAR CMD...: run CMD, wall seconds into VAR
timed() {
	local var=$1 t0 t1; shift
	t0=$(date +%s.%N)
	"$@" || die "failed: $*"
	sync
	t1=$(date +%s.%N)
	printf -v "$var" '%.2f' "$(echo "$t1 - $t0" | bc -l)"
}
du_b() { du -sb "$1" | cut -f1; }

VERSION=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "tarn $VERSION, scratch $DIR, $SIZE_G GiB, $NCHANGE changed 4K blocks, seed $SEED"

# ---- data ----
log "generating the VM's disks as image files"
openssl enc -aes-128-ctr -pass pass:x -nosalt -pbkdf2 </dev/zero 2>/dev/null | head -c "$D0_B" >"$DIR/img/disk0.img" || true
[ "$(stat -c %s "$DIR/img/disk0.img")" -eq "$D0_B" ] || die "could not generate disk0.img"
head -c "$D1_B" /dev/zero >"$DIR/img/disk1.img"
truncate -s $((TOTAL_B * 2)) "$DIR/src.vdev" "$DIR/dst.vdev"
"$T" zpool create src "$DIR/src.vdev"
"$T" zpool create dst "$DIR/dst.vdev"
"$T" zfs create src/vms
"$T" zfs create src/vms/VM1
"$T" zfs create dst/bk
"$T" zfs create -s -V "$D0_B" src/vms/VM1/disk0
"$T" zfs create -s -V "$D1_B" src/vms/VM1/disk1
log "writing the disks into tarn"
"$T" volume write src/vms/VM1/disk0 <"$DIR/img/disk0.img"
"$T" volume write src/vms/VM1/disk1 <"$DIR/img/disk1.img"

BK=(backup run --name=bench --vm-root=src/vms --vms=VM1 --dest=dst/bk --keep=2 --quiet)

# ---- full backups ----
quiet
log "full: tarn"
timed FULL_TARN "$T" "${BK[@]}"
quiet
log "full: restic"
restic -r "$DIR/restic" init -q >/dev/null
timed FULL_RESTIC restic -r "$DIR/restic" backup -q "$DIR/img"
quiet
log "full: borg"
borg init -e none "$DIR/borg"
timed FULL_BORG borg create "$DIR/borg::full" "$DIR/img"
sample "full backup, s: tarn $FULL_TARN, restic $FULL_RESTIC, borg $FULL_BORG"

# ---- the change ----
log "generating and applying the change list (seed $SEED)"
cat >"$DIR/gen.py" <<'EOF'
import os, random, sys
seed, total, d0, n, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rng = random.Random(seed)
blocks = sorted(rng.sample(range(total // 4096), n))
data = rng.randbytes(n * 4096)
with open(out + "/changes.dat", "wb") as f:
    f.write(data)
lists = {0: [], 1: []}
for i, b in enumerate(blocks):
    off = b * 4096
    disk = 0 if off < d0 else 1
    lists[disk].append((off - (0 if disk == 0 else d0), i))
for disk in (0, 1):
    with open("%s/changes%d.list" % (out, disk), "w") as f: # patchvol: OFFSET FILE FILE_OFFSET LENGTH
        f.write("".join("%d %s/changes.dat %d 4096\n" % (o, out, i * 4096) for o, i in lists[disk]))
    fd = os.open("%s/img/disk%d.img" % (out, disk), os.O_RDWR)
    for o, i in lists[disk]:
        os.pwrite(fd, data[i * 4096:(i + 1) * 4096], o)
    os.fsync(fd)
    os.close(fd)
n16 = len({(0 if b * 4096 < d0 else 1, (b * 4096 - (0 if b * 4096 < d0 else d0)) // 16384) for b in blocks})
print(n, len(lists[1]), n16)
EOF
read -r N_CH N_CH_ZERO N_CH16 < <(python3 "$DIR/gen.py" "$SEED" "$TOTAL_B" "$D0_B" "$NCHANGE" "$DIR")
"$DIR/patchvol" src/vms/VM1/disk0 "$DIR/changes0.list" >/dev/null
[ -s "$DIR/changes1.list" ] && "$DIR/patchvol" src/vms/VM1/disk1 "$DIR/changes1.list" >/dev/null
CHANGED_B=$((N_CH * 4096))
CHANGED16_B=$((N_CH16 * 16384))
sample "change: $N_CH 4K blocks ($CHANGED_B bytes), $N_CH_ZERO in the zero disk; $N_CH16 distinct 16K volume blocks ($CHANGED16_B bytes)"

# ---- incremental backups ----
U0=$("$T" zfs get -Hp -o value used dst/bk)
quiet
log "incremental: tarn"
timed INC_TARN "$T" "${BK[@]}"
U1=$("$T" zfs get -Hp -o value used dst/bk)
R0=$(du_b "$DIR/restic")
quiet
log "incremental: restic"
timed INC_RESTIC restic -r "$DIR/restic" backup -q "$DIR/img"
R1=$(du_b "$DIR/restic")
B0=$(du_b "$DIR/borg")
quiet
log "incremental: borg"
timed INC_BORG borg create "$DIR/borg::inc" "$DIR/img"
B1=$(du_b "$DIR/borg")
G_TARN=$((U1 - U0)) G_RESTIC=$((R1 - R0)) G_BORG=$((B1 - B0))
sample "incremental, s: tarn $INC_TARN, restic $INC_RESTIC, borg $INC_BORG"
sample "destination growth, bytes: tarn $G_TARN, restic $G_RESTIC, borg $G_BORG"

log "checking the received snapshot against the changed images"
SNAP=$("$T" zfs list -H -o name -t snapshot -s createtxg -d 1 dst/bk/VM1/disk0 | tail -n 1)
for d in 0 1; do
	a=$("$T" volume read "dst/bk/VM1/disk$d@${SNAP#*@}" | md5sum | cut -d' ' -f1)
	b=$(md5sum <"$DIR/img/disk$d.img" | cut -d' ' -f1)
	[ "$a" = "$b" ] || die "received disk$d differs from the changed image"
done
sample "received snapshot ${SNAP#*@}: both volumes equal the changed images (md5)"

log "one more change and an incremental with verify=full (informational)"
"$DIR/patchvol" src/vms/VM1/disk0 "$DIR/changes0.list" >/dev/null
quiet
timed INC_FULLV "$T" "${BK[@]}" --verify=full
sample "incremental with verify=full, s: $INC_FULLV"
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

ratio() { echo "$1 / $2" | bc -l | xargs printf '%.1f'; }
mb() { echo "$1 / 1048576" | bc -l | xargs printf '%.1f'; }
met() { if [ "$(echo "$1" | bc -l)" = 1 ]; then echo yes; else echo "**no**"; fi; }
SP_R=$(ratio "$INC_RESTIC" "$INC_TARN") SP_B=$(ratio "$INC_BORG" "$INC_TARN")
GR_T=$(echo "$G_TARN / $CHANGED16_B" | bc -l | xargs printf '%.2f')
GR_R=$(echo "$G_RESTIC / $CHANGED16_B" | bc -l | xargs printf '%.2f')
GR_B=$(echo "$G_BORG / $CHANGED16_B" | bc -l | xargs printf '%.2f')

echo
echo "tarn $VERSION; $(nproc) CPUs, $(free -g | awk '/^Mem/ { print $2 }') GiB; $(uname -r); scratch $DIR on $(df --output=source "$DIR" | tail -n 1); $(date -u '+%Y-%m-%d %H:%M UTC'); load average at start $LOAD0, at end $LOAD1; restic $(restic version | cut -d' ' -f2), borg $(borg --version | cut -d' ' -f2)"
echo
echo "| measurement | restic | borg | tarn | ratio | goal | met |"
echo "| --- | ---: | ---: | ---: | --- | --- | --- |"
echo "| full backup of the ${SIZE_G} GiB VM, s | $FULL_RESTIC | $FULL_BORG | $FULL_TARN | | (info) | |"
echo "| incremental backup after the change, s | $INC_RESTIC | $INC_BORG | $INC_TARN | restic/tarn ${SP_R}x, borg/tarn ${SP_B}x | >= 15x faster than both | $(met "$SP_R >= 15 && $SP_B >= 15") |"
echo "| destination growth, MiB | $(mb "$G_RESTIC") | $(mb "$G_BORG") | $(mb "$G_TARN") | per changed 16K volume block byte: restic $GR_R, borg $GR_B, tarn $GR_T | tarn <= 1.1x changed volume blocks ($(mb "$CHANGED16_B") MiB) | $(met "$G_TARN <= 1.1 * $CHANGED16_B") |"
echo "| changed: 4K blocks / bytes / 16K volume blocks | | | | $N_CH / $(mb "$CHANGED_B") MiB / $(mb "$CHANGED16_B") MiB | | |"
echo "| tarn incremental with verify=full (reads both sides' volumes), s | | | $INC_FULLV | | (info) | |"
echo
echo "command: $CMDLINE"
