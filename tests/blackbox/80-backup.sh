#!/usr/bin/env bash
# tarn backup to a local destination: two pools on files, "sp" (VMs under sp/vms) and "bp"
# (backups under bp/bk). VM1 has two volumes (thick disk0, sparse disk1), VM2 one, VM3 none.
# Cases: full run; the destination bytes equal the source snapshot's; status JSON, Prometheus
# file and `status`; changes then an incremental run (only the change is sent); retention
# keep=2 on both sides (a manual snapshot survives); verify=full; dry run changes nothing; room
# check with a tiny destination pool (VM skipped, its snapshot dropped); bad job files (file:line:
# key, exit 2) and bad flags; job files by name from $TARN_JOB_DIR; a missing VM and a VM without
# volumes (per-VM errors, the others backed up, exit 1); a destination that diverged (snapshot
# made on it, data written to it) → clear per-VM error, and rollback-dest=yes recovers; an
# interrupted receive (a receiver cut after N bytes) → error, then the next run resumes it;
# hooks (failing pre-hook skips the VM); a second concurrent run → "already running"; list;
# restore to a new dataset and over the original with --force, byte-identical.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

MiB=1048576
t_ok "zpool create sp" zpool create sp "$(mkvdev sp.img 1G)"
t_ok "zpool create bp" zpool create bp "$(mkvdev bp.img 1G)"
t_ok "zpool create tp (tiny)" zpool create tp "$(mkvdev tp.img 64M)"
for d in sp/vms sp/vms/VM1 sp/vms/VM2 sp/vms/VM3 bp/bk tp/bk; do zfs create "$d" || echo "# create $d failed"; done
t_ok "fill tp to ~10M available" zfs create -V 20M tp/fill
t_ok "VM1/disk0 (thick 48M)" zfs create -V 48M sp/vms/VM1/disk0
t_ok "VM1/disk1 (sparse 32M)" zfs create -s -V 32M sp/vms/VM1/disk1
t_ok "VM2/disk0 (sparse 16M)" zfs create -s -V 16M sp/vms/VM2/disk0

rnd_at() { head -c "$3" /dev/urandom | tarn volume write "$1" --offset "$2"; }
vmd5() { tarn volume read "$1" 2>/dev/null | md5sum | cut -d' ' -f1; }
snaps() { zfs list -H -o name -t snapshot -d 1 "$1" 2>/dev/null | sed 's/.*@//' | paste -sd' '; }
newest() { zfs list -H -o name -t snapshot -s createtxg -d 1 "$1" | tail -n 1 | sed 's/.*@//'; }
# same SRC DST SNAP: guid and bytes of SRC@SNAP equal DST@SNAP's
same() {
  local a b
  a=$(zfs get -Hp -o value guid "$1@$3") b=$(zfs get -Hp -o value guid "$2@$3")
  [ -n "$a" ] && [ "$a" = "$b" ] || { echo "guid $1@$3 '$a' != $2@$3 '$b'"; return 1; }
  a=$(vmd5 "$1@$3") b=$(vmd5 "$2@$3")
  [ "$a" = "$b" ] || { echo "bytes of $1@$3 != $2@$3"; return 1; }
}
BK=(--vm-root=sp/vms --dest=bp/bk --name=t)

t_ok "write VM1 disk0 (12M) and disk1 (3M), VM2 (2M)" eval \
  'rnd_at sp/vms/VM1/disk0 0 $((12 * MiB)) && rnd_at sp/vms/VM1/disk1 $((8 * MiB)) $((3 * MiB)) && rnd_at sp/vms/VM2/disk0 0 $((2 * MiB))'

# ---- usage and config errors (exit 2) -----------------------------------------------------------
t_fail_with "no subcommand: usage" 2 "usage:" tarn backup
t_ok "--help documents keys, cron and systemd" tarn backup --help
t_match "help: keep key" "$T_OUT" "keep-dest = POLICY"
t_match "help: crontab line" "$T_OUT" "30 2 \* \* \* root .*tarn backup run nightly"
t_match "help: systemd timer" "$T_OUT" "tarn-backup@nightly.timer"
t_fail_with "missing dest" 2 "missing required key 'dest'" tarn backup run --vm-root=sp/vms --vms=VM1
t_fail_with "bad flag value" 2 "--verify: bad value for 'verify': must be one of: guid, full" \
  tarn backup run "${BK[@]}" --vms=VM1 --verify=most
t_fail_with "unknown flag" 2 "unknown key 'colour'" tarn backup run "${BK[@]}" --vms=VM1 --colour=red
t_fail_with "bad VM list" 2 "bad VM name 'a/b'" tarn backup run "${BK[@]}" --vms=VM1,a/b
t_fail_with "bad ssh destination" 2 "bad ssh port" tarn backup run "${BK[@]}" --vms=VM1 --dest=ssh://h:99999/p/x
mkdir -p "$T/jobs"
export TARN_JOB_DIR=$T/jobs
printf '[job]\nvm-root = sp/vms\n# comment\ncolour = red\n' >"$T/jobs/bad1.conf"
t_fail_with "job file: unknown key names file:line:key" 2 "$T/jobs/bad1.conf:4: unknown key 'colour'" tarn backup run bad1
printf '[job]\nvm-root = sp/vms\nvms = VM1\ndest = bp/bk\nkeep = daily=x\n' >"$T/jobs/bad2.conf"
t_fail_with "job file: bad value" 2 "bad2.conf:5: bad value for 'keep': bad count 'x'" tarn backup run bad2
printf 'vm-root = sp/vms\n' >"$T/jobs/bad3.conf"
t_fail_with "job file: key before [job]" 2 "bad3.conf:1: KEY = VALUE before the [job] section" tarn backup run bad3
printf '[job]\nvms = VM1\nvms = VM2\n' >"$T/jobs/bad4.conf"
t_fail_with "job file: duplicate key" 2 "bad4.conf:3: key 'vms' given twice" tarn backup run bad4
printf '[job]\nthis is not a key value line\n' >"$T/jobs/bad5.conf"
t_fail_with "job file: junk line" 2 "bad5.conf:2: expected KEY = VALUE" tarn backup run bad5
printf '[jobs]\n' >"$T/jobs/bad6.conf"
t_fail_with "job file: unknown section" 2 "bad6.conf:1: unknown section '[jobs]'" tarn backup run bad6
t_fail_with "job file missing" 2 "cannot read job file $T/jobs/nope.conf" tarn backup run nope

# ---- full run ------------------------------------------------------------------------------------
t_ok "dry run" tarn backup run "${BK[@]}" --vms=VM1,VM2 --dry-run
t_match "dry run: would send full" "$T_ERR" "VM1: would send sp/vms/VM1/disk0 full -> bp/bk/VM1/disk0"
t_eq "dry run made no snapshot" "$(zfs list -H -t snapshot -o name -r sp bp)" ""
t_ok "full run of VM1,VM2" tarn backup run "${BK[@]}" --vms=VM1,VM2
t_match "report: VM1 ok" "$T_OUT" "^VM1 +ok "
t_match "report: room line" "$T_OUT" "Needed room: .* / Available room: "
S1=$(newest sp/vms/VM1)
t_match "snapshot named tarn-JOB-UTC" "$S1" '^tarn-t-[0-9]{8}T[0-9]{6}Z$'
t_eq "VM snapshot is recursive (container + 2 volumes)" \
  "$(zfs list -H -o name -t snapshot -r sp/vms/VM1 | wc -l)" 3
t_ok "VM1/disk0 received, same guid and bytes" same sp/vms/VM1/disk0 bp/bk/VM1/disk0 "$S1"
t_ok "VM1/disk1 received, same guid and bytes" same sp/vms/VM1/disk1 bp/bk/VM1/disk1 "$S1"
t_ok "VM2/disk0 received, same guid and bytes" same sp/vms/VM2/disk0 bp/bk/VM2/disk0 "$(newest sp/vms/VM2)"
t_ok "status files exist" test -s "$TARN_HOME/backup/t.json" -a -s "$TARN_HOME/backup/t.prom"
t_match "JSON: VM1 ok with snapshot" "$(cat "$TARN_HOME/backup/t.json")" "\"vm\": \"VM1\", .*\"status\": \"ok\", \"last_success\": [1-9][0-9]+, \"snapshot\": \"$S1\""
t_match "prom: last success of VM1" "$(cat "$TARN_HOME/backup/t.prom")" '^tarn_backup_last_success_timestamp_seconds\{job="t",vm="VM1"\} [1-9][0-9]+$'
t_match "prom: job success" "$(cat "$TARN_HOME/backup/t.prom")" '^tarn_backup_last_run_success\{job="t"\} 1$'
t_ok "status table" tarn backup status t
t_match "status: VM2 ok" "$T_OUT" "^t +VM2 +ok "
t_fail_with "status of an unknown job" 1 "no status for job 'zz'" tarn backup status zz

# ---- incremental ---------------------------------------------------------------------------------
t_ok "change 1M of VM1/disk1" rnd_at sp/vms/VM1/disk1 $((20 * MiB)) $MiB
t_ok "incremental run" tarn backup run "${BK[@]}" --vms=VM1,VM2
S2=$(newest sp/vms/VM1)
t_match "log: incremental from the previous snapshot" "$T_ERR" "send sp/vms/VM1/disk1@$S2 incremental from @$S1"
sent=$(sed -n 's/.*"vm": "VM1".*"bytes_sent": \([0-9]*\).*/\1/p' "$TARN_HOME/backup/t.json")
t_ok "only about the change was sent (1M < $sent < 2M)" test "$sent" -gt $MiB -a "$sent" -lt $((2 * MiB))
t_ok "incremental: VM1/disk1 same bytes" same sp/vms/VM1/disk1 bp/bk/VM1/disk1 "$S2"
t_ok "incremental: VM1/disk0 same bytes" same sp/vms/VM1/disk0 bp/bk/VM1/disk0 "$S2"

# ---- progress bar on a terminal only -------------------------------------------------------------
t_ok "write VM2" rnd_at sp/vms/VM2/disk0 $((8 * MiB)) $MiB
if command -v script >/dev/null; then
  t_ok "run on a pseudo-terminal" script -qec "$TARN backup run --vm-root=sp/vms --dest=bp/bk --name=t --vms=VM2" "$T/typescript"
  t_match "progress bar with percent, bytes and rate" "$(tr '\r' '\n' <"$T/typescript")" "VM2/disk0 +\[#{20}\] 100% +[0-9.]+ [KM]iB / [0-9.]+ [KM]iB +[0-9.]+ [KMG]?i?B/s"
fi
t_ok "run without a terminal" tarn backup run "${BK[@]}" --vms=VM2
t_eq "no progress bar when stderr is not a terminal" "$(grep -c '\[#' "$T_ERR_FILE")" 0

# ---- retention, verify=full, job file by name ----------------------------------------------------
t_ok "manual snapshot (not this job's)" zfs snapshot -r sp/vms/VM1@manual
cat >"$T/jobs/t.conf" <<EOF
# job for the test
[job]
vm-root = sp/vms
vms = VM1, VM2
dest = bp/bk
keep = last=2
verify = full
EOF
t_ok "write VM2" rnd_at sp/vms/VM2/disk0 $((5 * MiB)) $MiB
t_ok "run job t by name (verify=full, keep=2)" tarn backup run t
t_match "verify=full compared bytes" "$T_ERR" "verified bp/bk/VM2/disk0@.*: 16777216 bytes equal"
S3=$(newest sp/vms/VM1)
t_ok "run again" tarn backup run t -q
S4=$(newest sp/vms/VM1)
t_eq "source keeps 2 job snapshots + manual" "$(snaps sp/vms/VM1)" "manual $S3 $S4"
t_eq "destination keeps 2" "$(snaps bp/bk/VM1/disk0)" "$S3 $S4"
t_eq "destination disk1 keeps 2" "$(snaps bp/bk/VM1/disk1)" "$S3 $S4"
t_ok "newest still identical" same sp/vms/VM1/disk1 bp/bk/VM1/disk1 "$S4"
t_ok "keep-source=last=1 keep-dest=last=3" tarn backup run t --keep-source=last=1 --keep-dest=last=3
S5=$(newest sp/vms/VM1)
t_eq "source keeps 1 (+ manual)" "$(snaps sp/vms/VM1)" "manual $S5"
t_eq "destination keeps 3" "$(snaps bp/bk/VM1/disk0)" "$S3 $S4 $S5"
t_match "report lists pruned snapshots" "$T_OUT" "Pruned on the source: @$S3, @$S4"

# ---- room check ----------------------------------------------------------------------------------
before=$(snaps sp/vms/VM1)
t_fail_with "tiny destination: VM1 skipped, VM2 backed up, exit 1" 1 "" \
  tarn backup run --vm-root=sp/vms --vms=VM1,VM2 --dest=tp/bk --name=tiny
t_match "report: VM1 skipped" "$T_OUT" "^VM1 +skipped "
t_match "report: VM2 ok" "$T_OUT" "^VM2 +ok "
t_match "room error names both numbers" "$T_OUT" "Error in step room: not enough room on the destination: Needed room .* > Available room"
t_eq "the unsent snapshot was dropped" "$(snaps sp/vms/VM1)" "$before"
t_fail "nothing of VM1 on tp" zfs list tp/bk/VM1/disk0

# ---- missing VM, VM without volumes --------------------------------------------------------------
t_fail_with "missing VM and empty VM: exit 1" 1 "" tarn backup run "${BK[@]}" --vms=VM1,NOPE,VM3
t_match "missing VM: per-VM error" "$T_OUT" "Error in step lookup: VM 'NOPE' not found: dataset 'sp/vms/NOPE' does not exist"
t_match "VM without volumes: per-VM error" "$T_OUT" "Error in step lookup: VM 'VM3' has no volumes"
t_match "VM1 still backed up" "$T_OUT" "^VM1 +ok "
t_match "status: NOPE failed" "$(tarn backup status t)" "^t +NOPE +failed "
t_fail_with "vms=all with a root without VMs" 1 "holds no VM containers" \
  tarn backup run --vm-root=sp/vms/VM3 --vms=all --dest=bp/bk --name=e

# ---- diverged destination ------------------------------------------------------------------------
t_ok "someone snapshots the backup" zfs snapshot bp/bk/VM2/disk0@mine
t_fail_with "diverged (snapshot): VM2 fails, exit 1" 1 "" tarn backup run t
t_match "clear error naming the snapshot" "$T_OUT" "Error in step plan: destination bp/bk/VM2/disk0 diverged: 1 snapshot\(s\) newer .*@mine"
t_match "VM1 unaffected" "$T_OUT" "^VM1 +ok "
t_ok "destination snapshot left alone" zfs list bp/bk/VM2/disk0@mine
t_ok "human removes it" zfs destroy bp/bk/VM2/disk0@mine
t_ok "next run recovers" tarn backup run t
t_ok "someone writes to the backup" rnd_at bp/bk/VM2/disk0 0 65536
t_fail_with "diverged (written): exit 1" 1 "" tarn backup run t
t_match "clear error: bytes written" "$T_OUT" "destination bp/bk/VM2/disk0 diverged: [0-9]+ bytes were written to it since its snapshot"
t_ok "rollback-dest=yes discards the change" tarn backup run t --rollback-dest=yes
t_ok "VM2 identical again" same sp/vms/VM2/disk0 bp/bk/VM2/disk0 "$(newest sp/vms/VM2)"
t_ok "an unrelated dataset in the way" eval 'zfs create bp/bk/VM4 && zfs create -V 1M bp/bk/VM4/disk0 && zfs create sp/vms/VM4 && zfs create -s -V 1M sp/vms/VM4/disk0'
t_fail_with "no common snapshot: exit 1" 1 "" tarn backup run "${BK[@]}" --vms=VM4
t_match "clear error: shares no snapshot" "$T_OUT" "destination bp/bk/VM4/disk0 exists but shares no snapshot with sp/vms/VM4/disk0"

# ---- interrupted transfer, resumed ---------------------------------------------------------------
# TARN_BIN: a tarn that cuts the stream into `zfs receive` after CUT bytes
cat >"$T/cut-tarn" <<EOF
#!/bin/sh
if [ "\$1 \$2" = "zfs receive" ] && [ -n "\${CUT:-}" ]; then
  head -c "\$CUT" | "$TARN" "\$@"; exit \$?
fi
exec "$TARN" "\$@"
EOF
chmod +x "$T/cut-tarn"
t_ok "write 6M to VM1/disk0" rnd_at sp/vms/VM1/disk0 $((20 * MiB)) $((6 * MiB))
cut_run() { TARN_BIN="$T/cut-tarn" CUT="$1" tarn backup run t; }
t_fail_with "receive cut after 2M: exit 1" 1 "" cut_run $((2 * MiB))
t_match "error in step send, says it resumes" "$T_OUT" "Error in step send: .*receive failed.*the next run resumes"
t_match "resume token left on the destination" "$(zfs get -Hp -o value receive_resume_token bp/bk/VM1/disk0)" '^1-'
t_match "status: VM1 failed at send" "$(tarn backup status t)" "^t +VM1 +failed .*send: "
t_ok "next run resumes" cut_run ""
t_match "log: resuming" "$T_ERR" "VM1: resuming the interrupted transfer to bp/bk/VM1/disk0"
t_match "report: warning says resumed" "$T_OUT" "Warning: resumed an interrupted transfer to bp/bk/VM1/disk0"
t_eq "no resume token left" "$(zfs get -Hp -o value receive_resume_token bp/bk/VM1/disk0)" "-"
for s in $(snaps bp/bk/VM1/disk0); do
  t_ok "after resume: disk0@$s identical" same sp/vms/VM1/disk0 bp/bk/VM1/disk0 "$s"
done

# ---- destination full mid-send -----------------------------------------------------------------
# TARN_BIN: a tarn that, before a receive, fills the destination pool up to ~2M free (after the
# room check passed), so the receive runs out of space mid-stream
cat >"$T/fill-tarn" <<FILL
#!/bin/sh
if [ "\$1 \$2" = "zfs receive" ] && [ -n "\${FILL:-}" ]; then
  a=\$("$TARN" zfs get -Hp -o value available fp)
  "$TARN" zfs create -s -V 1G -o refreservation=\$((a - 2 * 1048576)) fp/filler >/dev/null 2>&1 || exit 99
fi
exec "$TARN" "\$@"
FILL
chmod +x "$T/fill-tarn"
t_ok "zpool create fp (64M)" zpool create fp "$(mkvdev fp.img 64M)"
t_ok "fp/full" zfs create fp/full
t_ok "write 4M to VM2" rnd_at sp/vms/VM2/disk0 0 $((4 * MiB))
fill_run() { TARN_BIN="$T/fill-tarn" FILL="$1" tarn backup run --vm-root=sp/vms --dest=fp/full --name=full --vms=VM2; }
t_fail_with "destination fills up mid-send: exit 1" 1 "" fill_run 1
t_match "per-VM error in step send (out of space)" "$T_OUT" "Error in step send: .*receive failed.*(space|ENOSPC)"
t_eq "no snapshot arrived" "$(zfs list -H -t snapshot -o name -r fp/full | wc -l)" 0
t_ok "the admin frees space" zfs destroy fp/filler
t_ok "next run recovers" fill_run ""
t_ok "VM2 identical on fp/full" same sp/vms/VM2/disk0 fp/full/VM2/disk0 "$(newest fp/full/VM2/disk0)"

# ---- hooks, lock ---------------------------------------------------------------------------------
t_fail_with "failing pre-snapshot hook: exit 1" 1 "" tarn backup run t --pre-snapshot='echo frozen $TARN_BACKUP_VM >&2; exit 3'
t_match "hook error reported with its output" "$T_OUT" "Error in step pre-snapshot: the pre-snapshot hook failed \(exit status 3\): frozen VM1"
t_ok "post hook sees the snapshot" tarn backup run t --post-snapshot="echo \$TARN_BACKUP_SNAPSHOT >>$T/post.log"
t_match "post hook ran per VM" "$(cat "$T/post.log")" "^tarn-t-"
tarn backup run t -q --pre-snapshot="touch $T/started; sleep 6" >/dev/null 2>&1 &
bg=$!
for _ in $(seq 50); do [ -e "$T/started" ] && break; sleep 0.1; done
t_fail_with "second run of the same job: already running" 1 "job 't' is already running" tarn backup run t
t_ok "another job runs meanwhile (own lock)" tarn backup run "${BK[@]}" --vms=VM2 --name=other --dest=tp/bk
wait "$bg"
t_eq "first run finished fine" "$?" 0

# ---- list, restore -------------------------------------------------------------------------------
t_ok "list" tarn backup list t
LAST=$(newest bp/bk/VM1/disk0)
t_match "list shows VM1's newest with 2 volumes" "$T_OUT" "^VM1 +$LAST +[0-9-]+ [0-9:]+ UTC +2 "
t_ok "restore VM1 to sp/restored" tarn backup restore t --vm VM1 --snapshot "$LAST" --to sp/restored
t_eq "restored disk0 byte-identical" "$(vmd5 sp/restored/disk0)" "$(vmd5 "bp/bk/VM1/disk0@$LAST")"
t_eq "restored disk1 byte-identical" "$(vmd5 sp/restored/disk1)" "$(vmd5 "bp/bk/VM1/disk1@$LAST")"
t_fail_with "restore over an existing VM needs --force" 1 "exists; restore to another dataset with --to, or replace it with --force" \
  tarn backup restore t --vm VM1 --snapshot "$LAST"
t_fail_with "restore of a missing snapshot" 1 "VM 'VM1' has no backup @nope" \
  tarn backup restore t --vm VM1 --snapshot nope --to sp/r2
t_ok "damage the original VM" rnd_at sp/vms/VM1/disk0 0 $MiB
t_ok "restore --force over the original" tarn backup restore t --vm VM1 --snapshot "$LAST" --force
t_eq "original disk0 restored" "$(vmd5 sp/vms/VM1/disk0)" "$(vmd5 "bp/bk/VM1/disk0@$LAST")"
t_eq "original disk1 restored" "$(vmd5 sp/vms/VM1/disk1)" "$(vmd5 "bp/bk/VM1/disk1@$LAST")"
t_eq "no leftover restore dataset" "$(zfs list -H -o name -r sp/vms | grep -c restore)" 0
t_done
