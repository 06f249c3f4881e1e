#!/usr/bin/env bash
# tarn demo: the blog's backup workflow on file-backed pools: a thick volume, snapshots,
# a full then incremental replication (zfs send -R | zfs receive -Fu) to a second pool, ZFS
# space accounting (zfs list -o space), a clone, scrub, export/import, then the same as one
# `tarn backup run` job (VM = container of volumes), and a backup report.
# Run from anywhere after `make`:  ./demo/demo.sh
# Uses ./tarn from the repo root (or $TARN). Works in ${DEMO_DIR:-a new temp dir}, with its own
# TARN_HOME there, so the system pool cache (/var/lib/tarn) is not touched. A temp dir made by
# the demo is removed at the end unless KEEP=1. Needs ~450 MB of free space in that dir.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARN=${TARN:-$ROOT/tarn}
if [ ! -x "$TARN" ]; then
  echo "demo: $TARN not found: run 'make' first (or set TARN)" >&2
  exit 1
fi
if [ -n "${DEMO_DIR:-}" ]; then
  D=$DEMO_DIR; mkdir -p "$D"
else
  D=$(mktemp -d /tmp/tarn-demo.XXXXXX)
  [ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$D"' EXIT
fi
D=$(cd "$D" && pwd)
export TARN_HOME=${TARN_HOME:-$D/home}
mkdir -p "$TARN_HOME"
cd "$D"

tarn() { "$TARN" "$@"; }
# run CMD...: echo the command, then run it (stops the demo on failure)
run() { CUR="$*"; printf '\n+ %s\n' "$CUR"; "$@"; }
# run_sh 'PIPELINE': same, for commands with pipes or redirections
run_sh() { CUR=$1; printf '\n+ %s\n' "$CUR"; eval "$1"; }
# fails CMD...: echo and run a command that is expected to fail
fails() {
  CUR="$*"; printf '\n+ %s\n' "$CUR"
  if "$@"; then echo "demo: expected that to fail" >&2; exit 1; fi
  echo "(failed, as expected)"
}
CUR=setup
# report once, from the main shell (with -E the trap also runs in functions and subshells)
trap 'rc=$?; [ "$BASHPID" != $$ ] || [ -n "${FAILED:-}" ] ||
      { FAILED=1; echo "demo FAILED (status $rc) at: $CUR" >&2; }' ERR

echo "demo dir: $D (TARN_HOME=$TARN_HOME)"

# Two pools, each on one 1 GiB sparse file
run truncate -s 1G "$D/f1" "$D/f2"
run tarn zpool create data "$D/f1"
run tarn zpool create other "$D/f2"
run tarn zpool list

# A 300 MiB volume holding 200 MiB of random data (a thick volume: refreservation = 300M + metadata)
run tarn zfs create -V 300M data/vm
run_sh 'head -c 200M /dev/urandom > disk.img'
run_sh 'tarn volume write data/vm < disk.img'
run tarn zfs snapshot data/vm@1
# USED jumps by the whole refreservation at the first snapshot (the blog's point)
run tarn zfs list -r -t all -o space data

# Full replication of the volume, its properties and snapshots to the backup pool
run tarn zfs send -nvP -R data/vm@1
run_sh 'tarn zfs send -R data/vm@1 | tarn zfs receive -Fu other/vm-backup'
run tarn zfs list -r -t all other

# Overwrite 50 MiB at offset 100 MiB: only those blocks are new; @1 keeps the old ones
run_sh 'head -c 50M /dev/urandom > patch.img'
run_sh 'tarn volume write data/vm --offset 100M < patch.img'
run tarn zfs snapshot data/vm@2

# The incremental ships only the changed blocks (size estimate first), then the old snapshot goes
run tarn zfs send -nvP -Ri data/vm@1 data/vm@2
run_sh 'tarn zfs send -Ri data/vm@1 data/vm@2 | tarn zfs receive -Fu other/vm-backup'
run tarn zfs list -r -t all -o space data/vm other/vm-backup
run tarn zfs get -o name,property,value,received,source refreservation other/vm-backup
run tarn zfs set refreservation=none other/vm-backup
run tarn zfs list -o space

# The backup is byte-identical to the source snapshot, with the same guid
run_sh 'cmp <(tarn volume read data/vm@2) <(tarn volume read other/vm-backup@2)'
run_sh 'test "$(tarn zfs get -Hpo value guid data/vm@2)" = "$(tarn zfs get -Hpo value guid other/vm-backup@2)"'
echo "(backup verified: contents and guid match)"

# Snapshot 1 still reads the original bytes (disk.img, then zeros up to the 300M volsize)
run_sh 'tarn volume read data/vm@1 | cmp - <(cat disk.img; head -c 100M /dev/zero)'
echo "(snapshot contents verified)"

# A clone depends on its origin snapshot
run tarn zfs clone data/vm@1 data/vm-restore
fails tarn zfs destroy data/vm@1
run tarn zfs destroy data/vm-restore
run tarn zfs destroy data/vm@1

run tarn zpool scrub data
run tarn zpool status data
run tarn zpool export data
run tarn zpool import -d "$D" data
run tarn zpool list

# The same job as tarn does it in one command (what cron or a systemd timer runs): a VM is a
# container of volumes; each run snapshots it atomically, checks the room, sends incrementally
# by guid, verifies every byte, prunes per retention and writes status files
run tarn zfs create -p -s -V 64M data/vms/vm1/disk0
run tarn zfs create -s -V 32M data/vms/vm1/disk1
run_sh 'head -c 16M /dev/urandom | tarn volume write data/vms/vm1/disk0'
run tarn zfs create other/backups
run tarn backup run --vms=vm1 --vm-root=data/vms --dest=other/backups --keep=2 --verify=full
run_sh 'head -c 1M /dev/urandom | tarn volume write --offset 8M data/vms/vm1/disk1'
sleep 1 # snapshot names carry the UTC second
run tarn backup run --vms=vm1 --vm-root=data/vms --dest=other/backups --keep=2 --verify=full
run tarn backup list --vm-root=data/vms --dest=other/backups
run tarn backup status

# The report the cron job of the blog mailed (tarn backup mails it itself: --mail-to=...)
echo
echo "== backup report =="
printf '%-22s %s\n' "source" "data/vm@2 (guid $(tarn zfs get -Hpo value guid data/vm@2))"
printf '%-22s %s\n' "backup" "other/vm-backup@2 (guid $(tarn zfs get -Hpo value guid other/vm-backup@2))"
printf '%-22s %s\n' "backup used" "$(tarn zfs get -Ho value used other/vm-backup)"
printf '%-22s %s\n' "backup pool available" "$(tarn zfs get -Ho value available other)"
printf '%-22s %s\n' "source pool health" "$(tarn zpool list -Ho health data)"
echo
echo "demo finished: OK"
