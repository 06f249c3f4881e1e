#!/usr/bin/env bash
# syncoid (Debian's 2.1.0, unmodified) replicates tarn volumes between two local pools, driving
# tarn as `zfs`/`zpool` (tests/lib/sanoid.sh). What syncoid runs and parses:
# /work/shared/reference/zfs-behaviour.md section 5 (`zfs get -Hpd 1 -t snapshot guid,creation`,
# `zfs send -nvP` -> last line "size\t<bytes>", `zfs send | mbuffer | pv | zfs receive -s -F`,
# `zfs get -H receive_resume_token`, `zfs send -t`, `zfs rollback -R`, `zfs destroy` of old
# sync snapshots, `zpool get -o value -H feature@extensible_dataset`).
# Pools $S and $D ("src"/"dst" plus a per-run suffix, see U in tests/lib/sanoid.sh) on 1G files.
#   - full: $S/vm (64M, 24M of data) -> $D/vm: byte-identical, the same volsize, one sync
#     snapshot on each side with the same guid, a size estimate (not "UNKNOWN");
#   - incremental: 2M more -> "Sending incremental $S/vm@<old> ... <new> (~ 2.0 MB)",
#     identical, $D's allocation grows by about 2M, the old sync snapshot pruned on both sides;
#   - --no-sync-snap with manual snapshots @manual1 (full) and @manual2 (incremental); then
#     "Nothing to do"; no syncoid_ snapshot appears;
#   - syncoid:sync=false skips a dataset; a target with no common snapshot is refused (with
#     the "< 64MB used" note), and --force-delete destroys and replaces it;
#   - a source that already has snapshots @s1 @s2 @s3: syncoid sends @s1 in full, then
#     `zfs send -I @s1 <sync snapshot>` (a stream of three incrementals) -- every snapshot
#     arrives;
#   - -r on a container $S/vms with volumes a and b, then an incremental -r after changing b;
#   - resume (receive -s / send -t), each case with its own source: a transfer of 48M
#     (--source-bwlimit, so that it is slow) interrupted by the sender dying once the receiver
#     has read 8M (a truncated stream); the same interrupted by SIGTERM to `zfs receive` (as
#     `kill`/`pkill` would; OpenZFS keeps what arrived resumable whatever ends the process); and
#     112M interrupted by SIGKILL to `zfs receive` once it has read 80M. Each time $D has a
#     receive_resume_token, the next syncoid prints "Resuming interrupted zfs send/receive from
#     <src> to <dst>" and the result is identical to the source. While the last one runs, a
#     second syncoid to the same target refuses ("is already target of a zfs receive process":
#     it finds `zfs receive ... <target>` in `ps`).
# Processes are found as descendants of the syncoid this script started and ended by pid.
# ~25 s (~35 s under ASan).
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/sanoid.sh
. "$(dirname "$0")/../lib/sanoid.sh"

MiB=1048576
HOST=$(hostname)
S=src$U D=dst$U

md5() { tarn volume read "$1" | md5sum | cut -d' ' -f1; }
# same DS1 DS2: the two volumes read back identical
same() {
  local a b
  a=$(md5 "$1") && b=$(md5 "$2") && [ -n "$a" ] && [ "$a" = "$b" ]
}
# syncsnaps DS: the names (after @) of DS's snapshots whose name starts with syncoid_
syncsnaps() { zfs list -H -o name -t snapshot "$1" | sed -n 's/^[^@]*@\(syncoid_.*\)/\1/p'; }
guid() { zfs get -Hp -o value guid "$1" 2>/dev/null; }
token() { zfs get -H -o value receive_resume_token "$1" 2>/dev/null; }
# check_pair SRC DST DESC [one]: identical contents; SRC has one sync snapshot (syncoid prunes
# the older ones), DST has it too (with "one": only it; a first run that sends a full and then
# an incremental leaves the full's on DST, as syncoid prunes what it listed on DST beforehand)
check_pair() {
  t_ok "$3: $2 is byte-identical to $1"           same "$1" "$2"
  local s
  s=$(syncsnaps "$1")
  t_eq "$3: one sync snapshot on $1"              "$(printf '%s\n' "$s" | grep -c .)" 1
  if [ "${4:-}" = one ]; then
    t_eq "$3: $2 has the same, only it"           "$(syncsnaps "$2")" "$s"
  else
    t_ok "$3: $2 has it too"                      zfs list -H -o name "$2@$s"
  fi
  t_eq "$3: ... with the same guid"               "$(guid "$2@$s")" "$(guid "$1@$s")"
}
# sync_gap: sync snapshot names have one-second resolution; never two runs in one second
sync_gap() { sleep 1.1; }

fs=$(mkvdev src.img 1G) fd=$(mkvdev dst.img 1G)
t_ok "create pool $S (1G file)"                  zpool create "$S" "$fs"
t_ok "create pool $D (1G file)"                  zpool create "$D" "$fd"
t_ok "zpool get -o value -H feature@extensible_dataset $S (syncoid's resume check)" \
  zpool get -o value -H feature@extensible_dataset $S
t_match "  active or enabled"                     "$T_OUT" '^(active|enabled)$'

# --- full, then incremental ---------------------------------------------------------------------
head -c $((24 * MiB)) /dev/urandom >"$T/d24"
head -c $((2 * MiB)) /dev/urandom >"$T/d2"
t_ok "create $S/vm (64M)"                         zfs create -V 64M $S/vm
t_ok "write 24M to $S/vm"                         tarn volume write $S/vm <"$T/d24"
t_ok "syncoid $S/vm $D/vm (first run)"            syncoid $S/vm $D/vm
t_eq "  nothing on stderr"                        "$T_ERR" ""
t_match "  a full send of the sync snapshot, ~24M" "$T_OUT" "^INFO: Sending oldest full snapshot $S/vm@syncoid_${HOST}_[0-9-]+:[0-9:]+-GMT[-+]?[0-9:]+ \(~ 24\.[0-9] MB\) to new target filesystem:\$"
t_ok "  volsize of $S/vm and $D/vm"               zfs get -H -o value volsize $S/vm $D/vm
t_eq "  the same"                                 "$(printf '%s\n' "$T_OUT" | sort -u | grep -c .)" 1
check_pair $S/vm $D/vm "full" one
old=$(syncsnaps $S/vm)

t_ok "write 2M more to $S/vm at 40M"              tarn volume write $S/vm --offset $((40 * MiB)) <"$T/d2"
alloc0=$(zpool list -Hp -o alloc $D)
sync_gap
t_ok "syncoid $S/vm $D/vm (second run)"           syncoid $S/vm $D/vm
t_match "  an incremental from the last sync snapshot, ~2M" "$T_OUT" "^Sending incremental $S/vm@$old \.\.\. syncoid_${HOST}_[^ ]+ \(~ 2\.[0-9] MB\):\$"
check_pair $S/vm $D/vm "incremental" one
t_ok "  the old sync snapshot is gone on both sides" eval '! zfs list -H $S/vm@"$old" 2>/dev/null && ! zfs list -H $D/vm@"$old" 2>/dev/null'
alloc1=$(zpool list -Hp -o alloc $D)
t_ok "  $D's allocation grew by about 2M, not by a full copy ($alloc0 -> $alloc1)" \
  test $((alloc1 - alloc0)) -ge $((MiB)) -a $((alloc1 - alloc0)) -le $((6 * MiB))

# --- --no-sync-snap -------------------------------------------------------------------------------
t_ok "create $S/m (16M) with 2M, snapshot @manual1" \
  eval 'zfs create -V 16M $S/m && tarn volume write $S/m <"$T/d2" && zfs snapshot $S/m@manual1'
t_ok "syncoid --no-sync-snap $S/m $D/m"           syncoid --no-sync-snap $S/m $D/m
t_match "  full send of @manual1"                 "$T_OUT" "^INFO: Sending oldest full snapshot $S/m@manual1 \(~ 2\.[0-9] MB\) to new target filesystem:\$"
t_ok "write 1M at 8M, snapshot @manual2"          eval 'head -c $MiB "$T/d24" | tarn volume write $S/m --offset $((8 * MiB)) && zfs snapshot $S/m@manual2'
t_ok "syncoid --no-sync-snap $S/m $D/m (again)"   syncoid --no-sync-snap $S/m $D/m
t_match "  incremental @manual1 ... manual2, ~1M" "$T_OUT" "^Sending incremental $S/m@manual1 \.\.\. manual2 \(~ 1\.[0-9] MB\):\$"
t_ok "  $D/m is byte-identical to $S/m"           same $S/m $D/m
t_ok "  snapshots of $D/m"                        zfs list -H -o name -t snapshot $D/m
t_eq "  exactly @manual1 and @manual2"            "$T_OUT" "$(printf '%s\n' $D/m@manual1 $D/m@manual2)"
t_eq "  @manual2's guid is the same"              "$(guid $D/m@manual2)" "$(guid $S/m@manual2)"
t_eq "  no sync snapshot on $S/m"                 "$(syncsnaps $S/m)" ""
t_ok "syncoid --no-sync-snap $S/m $D/m (nothing new)" syncoid --no-sync-snap $S/m $D/m
t_match "  nothing to do"                         "$T_OUT" '^INFO: no snapshots on source newer than manual2 on target\. Nothing to do, not syncing\.$'

# --- syncoid:sync=false; a target without a common snapshot; --force-delete ---------------------
t_ok "zfs set syncoid:sync=false $S/m"            zfs set syncoid:sync=false $S/m
t_ok "syncoid $S/m $D/m skips it"                 syncoid --no-sync-snap $S/m $D/m
t_eq "  says so"                                  "$T_OUT" "INFO: Skipping dataset (syncoid:sync=false): $S/m..."
t_ok "zfs inherit syncoid:sync $S/m"              zfs inherit syncoid:sync $S/m
t_ok "create $D/x (1M), unrelated to $S/m"        zfs create -V 1M $D/x
t_fail_with "syncoid --no-sync-snap $S/m $D/x: no common snapshot" 2 "" syncoid --no-sync-snap $S/m $D/x
t_match "  refuses to destroy the target"         "$T_OUT" "^CRITICAL ERROR: Target $D/x exists but has no snapshots matching with $S/m!\$"
t_match "  and notes it is small (zfs get -H -p used)" "$T_OUT" "NOTE: Target $D/x dataset is < 64MB used"
t_ok "syncoid --no-sync-snap --force-delete $S/m $D/x" syncoid --no-sync-snap --force-delete $S/m $D/x
t_match "  removes the target"                    "$T_OUT" "^Removing $D/x because no matching snapshots were found\$"
t_ok "  $D/x is byte-identical to $S/m"           same $S/m $D/x
t_eq "  and has $S/m's newest snapshot"           "$(guid $D/x@manual2)" "$(guid $S/m@manual2)"

# --- a source that already has snapshots: full of the oldest, then -I through the rest ---------
t_ok "create $S/s (16M, sparse) with snapshots @s1 @s2 @s3, 1M written before each" eval '(
  zfs create -s -V 16M $S/s &&
  for i in 1 2 3; do
    head -c $MiB "$T/d24" | tarn volume write $S/s --offset $((i * 2 * MiB)) && zfs snapshot $S/s@s$i || exit 1
  done)'
t_ok "syncoid $S/s $D/s"                          syncoid $S/s $D/s
out=$T_OUT
t_match "  full send of the oldest, @s1"          "$out" "^INFO: Sending oldest full snapshot $S/s@s1 \(~ 1\.[0-9] MB\) to new target filesystem:\$"
t_match "  then -I @s1 ... the sync snapshot"     "$out" "^INFO: Updating new target filesystem with incremental $S/s@s1 \.\.\. syncoid_${HOST}_[^ ]+ \(~ 2\.[0-9] MB\):\$"
check_pair $S/s $D/s "-I" one
t_ok "  snapshots of $D/s"                        zfs list -H -o name -t snapshot $D/s
t_eq "  @s1 @s2 @s3 and the sync snapshot"        "$(printf '%s\n' "$T_OUT" | sed 's/@syncoid_.*/@SYNC/')" "$(printf '%s\n' $D/s@s1 $D/s@s2 $D/s@s3 $D/s@SYNC)"
t_eq "  @s2 has the source's guid"                "$(guid $D/s@s2 2>&1)" "$(guid $S/s@s2)"

# --- -r on a container ------------------------------------------------------------------------------
t_ok "create container $S/vms with volumes a (8M) and b (8M, sparse)" \
  eval 'zfs create $S/vms && zfs create -V 8M $S/vms/a && zfs create -s -V 8M $S/vms/b'
t_ok "write 2M to each"                           eval 'tarn volume write $S/vms/a <"$T/d2" && tarn volume write $S/vms/b --offset $MiB <"$T/d2"'
t_ok "syncoid -r $S/vms $D/vms"                   syncoid -r $S/vms $D/vms
out=$T_OUT
for d in vms vms/a vms/b; do
  t_match "  full send of $S/$d"                  "$out" "^INFO: Sending oldest full snapshot $S/$d@syncoid_"
done
t_ok "  zfs list -r $D/vms"                       zfs list -H -o name -r $D/vms
t_eq "  $D/vms, $D/vms/a, $D/vms/b"               "$T_OUT" "$(printf '%s\n' $D/vms $D/vms/a $D/vms/b)"
check_pair $S/vms/a $D/vms/a "-r" one
check_pair $S/vms/b $D/vms/b "-r" one
t_ok "overwrite 1M of $S/vms/b"                   eval 'head -c $MiB "$T/d24" | tarn volume write $S/vms/b --offset $((4 * MiB))'
sync_gap
t_ok "syncoid -r $S/vms $D/vms (again)"           syncoid -r $S/vms $D/vms
out=$T_OUT
for d in vms vms/a vms/b; do
  t_match "  incremental of $S/$d"                "$out" "^Sending incremental $S/$d@syncoid_"
done
check_pair $S/vms/b $D/vms/b "-r incremental" one
check_pair $S/vms/a $D/vms/a "-r incremental" one

# --- resume ---------------------------------------------------------------------------------------
# interrupt WHAT SIG MIN SYNCOID-ARGS...: start syncoid in the background; once its `zfs receive`
# has read MIN bytes, send SIG to the `zfs send` (WHAT=send) or the `zfs receive` (WHAT=receive)
# it started; wait for syncoid to end (it must fail, saying so). One TAP line.
interrupt() {
  local what=$1 sig=$2 min=$3 spid rp vp i rc probs=()
  shift 3
  syncoid "$@" >"$T/bg.out" 2>&1 &
  spid=$!
  rp=''
  for ((i = 0; i < 300; i++)); do   # at most 30 s
    if [ -z "$rp" ] && rp=$(find_child "$spid" "$ZFS_RECEIVE") && [ -n "${BUSY_CHECK:-}" ]; then
      # meanwhile, a second syncoid to the same target must see the receive in `ps` and refuse
      syncoid "${@: -2:1}" "${@: -1}" >"$T/busy.out" 2>&1
      BUSY_RC=$?
    fi
    [ -n "$rp" ] && [ "$(proc_rchar "$rp")" -ge "$min" ] && break
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$what" = send ]; then vp=$(find_child "$spid" "$ZFS_SEND"); else vp=$rp; fi
  if [ -z "$vp" ] || ! kill -0 "$spid" 2>/dev/null; then
    probs+=("no zfs $what to interrupt: the transfer ended (or never started) before the receiver read $min bytes")
  else
    kill -s "$sig" "$vp"
  fi
  for ((i = 0; i < 300; i++)); do
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$spid" 2>/dev/null; then   # stuck: end what we started
    probs+=("syncoid did not end within 30 s of the interruption")
    for vp in $(descendants "$spid") "$spid"; do kill -9 "$vp" 2>/dev/null; done
  fi
  wait "$spid"
  rc=$?
  [ "$rc" -ne 0 ] || probs+=("syncoid exited 0 although its transfer was interrupted")
  grep -q 'CRITICAL ERROR' "$T/bg.out" || probs+=("syncoid did not report the failure")
  _t_result $((${#probs[@]} == 0)) "interrupt: SIG$sig to zfs $what once $((min / MiB))M are received: syncoid $* fails (exit $rc)"
  if [ ${#probs[@]} -ne 0 ]; then
    t_diag "$(printf '%s\n' "${probs[@]}")"
    t_diag "syncoid printed:"
    t_diag "$(cat "$T/bg.out")"
  fi
}
# resumed DESC SYNCOID-ARGS... SRC DST: the next syncoid resumes and completes
resumed() {
  local desc=$1 src dst re one=one
  shift
  src=${*: -2:1} dst=${*: -1}
  t_ok "$desc: zfs get -H receive_resume_token $dst" zfs get -H receive_resume_token "$dst"
  t_match "$desc: ... a token (syncoid resumes with it)" "$T_OUT" "^$dst	receive_resume_token	[0-9]+-[0-9a-f]+	-\$"
  sync_gap
  t_ok "$desc: syncoid $* (again)"                syncoid "$@"
  re="^Resuming interrupted zfs send/receive from $src to $dst \(~ [0-9.]+ [KMG]B remaining\):\$"
  t_match "$desc: it resumes"                     "$T_OUT" "$re"
  # without a resume, syncoid sends a full and an incremental (and leaves the full's snapshot)
  printf '%s\n' "$T_OUT" | grep -qE "$re" || one=''
  check_pair "$src" "$dst" "$desc: resumed" $one
  t_eq "$desc: no resume token left"              "$(token "$dst")" "-"
}

head -c $((48 * MiB)) /dev/urandom >"$T/d48"
for c in a b; do
  t_ok "create $S/big-$c (64M, sparse) with 48M"  eval 'zfs create -s -V 64M $S/big-$c && tarn volume write $S/big-$c <"$T/d48"'
done
interrupt send TERM $((8 * MiB)) --source-bwlimit=16m $S/big-a $D/big-a
resumed "sender died" $S/big-a $D/big-a

interrupt receive TERM $((8 * MiB)) --source-bwlimit=16m $S/big-b $D/big-b
resumed "receive got SIGTERM" $S/big-b $D/big-b

head -c $((112 * MiB)) /dev/urandom >"$T/d112"
t_ok "create $S/huge (128M, sparse) with 112M"    eval 'zfs create -s -V 128M $S/huge && tarn volume write $S/huge <"$T/d112"'
rm -f "$T/d112" "$T/d48"
BUSY_CHECK=1 BUSY_RC=''
interrupt receive KILL $((80 * MiB)) --source-bwlimit=40m $S/huge $D/huge
BUSY_CHECK=''
t_eq "  meanwhile, a second syncoid $S/huge $D/huge refused (exit 1)" "$BUSY_RC" 1
t_eq "  ... as the target is being received" "$(cat "$T/busy.out" 2>/dev/null)" "Cannot sync now: $D/huge is already target of a zfs receive process."
resumed "receive got SIGKILL at 80M" $S/huge $D/huge

t_done
