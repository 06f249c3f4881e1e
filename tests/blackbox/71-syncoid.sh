#!/usr/bin/env bash
# syncoid (Debian's 2.1.0, unmodified) replicates tarn volumes between two local pools, driving
# tarn as `zfs`/`zpool` (tests/lib/sanoid.sh). What syncoid runs and parses:
# /work/shared/reference/zfs-behaviour.md section 5 (`zfs get -Hpd 1 -t snapshot guid,creation`,
# `zfs send -nvP` -> last line "size\t<bytes>", `zfs send | mbuffer | pv | zfs receive -s -F`,
# `zfs get -H receive_resume_token`, `zfs send -t`, `zfs rollback -R`, `zfs destroy` of old
# sync snapshots, `zpool get -o value -H feature@extensible_dataset`).
# Pools src and dst on 1G files.
#   - full: src/vm (64M, 24M of data) -> dst/vm: byte-identical, the same volsize, one sync
#     snapshot on each side with the same guid, a size estimate (not "UNKNOWN");
#   - incremental: 2M more -> "Sending incremental src/vm@<old> ... <new> (~ 2.0 MB)",
#     identical, dst's allocation grows by about 2M, the old sync snapshot pruned on both sides;
#   - --no-sync-snap with manual snapshots @manual1 (full) and @manual2 (incremental); then
#     "Nothing to do"; no syncoid_ snapshot appears;
#   - -r on a container src/vms with volumes a and b, then an incremental -r after changing b;
#   - resume (receive -s / send -t): a transfer of 48M (--source-bwlimit, so that it is slow)
#     interrupted by the sender dying after the receiver has read 8M (truncated stream);
#     the same interrupted by SIGTERM to `zfs receive` (as `kill`/`pkill` would; OpenZFS keeps
#     the received part resumable whatever ends the process); and 112M interrupted by SIGKILL
#     to `zfs receive` after it has read 80M. Each time dst has a receive_resume_token, the
#     next syncoid prints "Resuming interrupted zfs send/receive from <src> to <dst>" and the
#     result is identical to the source.
# Processes are found as descendants of the syncoid this script started and ended by pid.
# ~25 s.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/sanoid.sh
. "$(dirname "$0")/../lib/sanoid.sh"

MiB=1048576
HOST=$(hostname)

md5() { tarn volume read "$1" | md5sum | cut -d' ' -f1; }
# same DS1 DS2: the two volumes read back identical (and non-empty reads)
same() {
  local a b
  a=$(md5 "$1") && b=$(md5 "$2") && [ -n "$a" ] && [ "$a" = "$b" ]
}
# syncsnaps DS: the names (after @) of DS's snapshots whose name starts with syncoid_
syncsnaps() { zfs list -H -o name -t snapshot "$1" | sed -n 's/^[^@]*@\(syncoid_.*\)/\1/p'; }
guid() { zfs get -Hp -o value guid "$1"; }
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
t_ok "create pools src and dst (1G files)"        eval 'zpool create src "$fs" && zpool create dst "$fd"'
t_ok "zpool get -o value -H feature@extensible_dataset src (syncoid's resume check)" \
  zpool get -o value -H feature@extensible_dataset src
t_match "  active or enabled"                     "$T_OUT" '^(active|enabled)$'

# --- full, then incremental ---------------------------------------------------------------------
head -c $((24 * MiB)) /dev/urandom >"$T/d24"
head -c $((2 * MiB)) /dev/urandom >"$T/d2"
t_ok "create src/vm (64M)"                        zfs create -V 64M src/vm
t_ok "write 24M to src/vm"                        tarn volume write src/vm <"$T/d24"
t_ok "syncoid src/vm dst/vm (first run)"          syncoid src/vm dst/vm
out=$T_OUT
t_match "  a full send of the sync snapshot"      "$out" "^INFO: Sending oldest full snapshot src/vm@syncoid_${HOST}_[0-9-]+:[0-9:]+-GMT[-+]?[0-9:]+ \(~ 24\.[0-9] MB\) to new target filesystem:\$"
t_ok "  dst/vm exists"                            zfs get -H -o value volsize src/vm dst/vm
t_eq "  with src/vm's volsize"                    "$(printf '%s\n' "$T_OUT" | sort -u | wc -l)" 1
check_pair src/vm dst/vm "full" one
old=$(syncsnaps src/vm)

t_ok "write 2M more to src/vm at 40M"             tarn volume write src/vm --offset $((40 * MiB)) <"$T/d2"
alloc0=$(zpool list -Hp -o alloc dst)
sync_gap
t_ok "syncoid src/vm dst/vm (second run)"         syncoid src/vm dst/vm
t_match "  an incremental from the last sync snapshot, ~2M" "$T_OUT" "^Sending incremental src/vm@$old \.\.\. syncoid_${HOST}_[^ ]+ \(~ 2\.[0-9] MB\):\$"
check_pair src/vm dst/vm "incremental" one
t_eq "  one sync snapshot left on src/vm"        "$(syncsnaps src/vm | grep -c .)" 1
t_ok "  the old sync snapshot is gone on both sides" eval '! zfs list -H src/vm@"$old" 2>/dev/null && ! zfs list -H dst/vm@"$old" 2>/dev/null'
alloc1=$(zpool list -Hp -o alloc dst)
t_ok "  dst's allocation grew by about 2M, not by a full copy ($alloc0 -> $alloc1)" \
  test $((alloc1 - alloc0)) -ge $((MiB)) -a $((alloc1 - alloc0)) -le $((6 * MiB))

# --- --no-sync-snap -------------------------------------------------------------------------------
t_ok "create src/m (16M) with 1M, snapshot @manual1" \
  eval 'zfs create -V 16M src/m && tarn volume write src/m <"$T/d2" && zfs snapshot src/m@manual1'
t_ok "syncoid --no-sync-snap src/m dst/m"         syncoid --no-sync-snap src/m dst/m
t_match "  full send of @manual1"                 "$T_OUT" '^INFO: Sending oldest full snapshot src/m@manual1 \(~ [0-9.]+ MB\) to new target filesystem:$'
t_ok "write 1M at 8M, snapshot @manual2"          eval 'head -c $MiB "$T/d24" | tarn volume write src/m --offset $((8 * MiB)) && zfs snapshot src/m@manual2'
t_ok "syncoid --no-sync-snap src/m dst/m (again)" syncoid --no-sync-snap src/m dst/m
t_match "  incremental @manual1 ... manual2"      "$T_OUT" '^Sending incremental src/m@manual1 \.\.\. manual2 \(~ 1\.[0-9] MB\):$'
t_ok "  dst/m is byte-identical to src/m"         same src/m dst/m
t_ok "  snapshots of dst/m"                       zfs list -H -o name -t snapshot dst/m
t_eq "  exactly @manual1 and @manual2"            "$T_OUT" "$(printf '%s\n' dst/m@manual1 dst/m@manual2)"
t_eq "  @manual2's guid is the same"              "$(guid dst/m@manual2)" "$(guid src/m@manual2)"
t_eq "  no sync snapshot on src/m"                "$(syncsnaps src/m)" ""
t_ok "syncoid --no-sync-snap src/m dst/m (nothing new)" syncoid --no-sync-snap src/m dst/m
t_match "  nothing to do"                         "$T_OUT" '^INFO: no snapshots on source newer than manual2 on target\. Nothing to do, not syncing\.$'

# --- a source that already has snapshots: full of the oldest, then -I through the rest ---------
t_ok "create src/s (16M, sparse) with snapshots @s1 @s2 @s3, 1M written before each" eval '(
  zfs create -s -V 16M src/s &&
  for i in 1 2 3; do
    head -c $MiB "$T/d24" | tarn volume write src/s --offset $((i * 2 * MiB)) && zfs snapshot src/s@s$i || exit 1
  done)'
t_ok "syncoid src/s dst/s"                        syncoid src/s dst/s
out=$T_OUT
t_match "  full send of the oldest, @s1"          "$out" '^INFO: Sending oldest full snapshot src/s@s1 \(~ 1\.[0-9] MB\) to new target filesystem:$'
t_match "  then -I @s1 ... the sync snapshot"     "$out" "^INFO: Updating new target filesystem with incremental src/s@s1 \.\.\. syncoid_${HOST}_[^ ]+ \(~ 2\.[0-9] MB\):\$"
check_pair src/s dst/s "-I" one
t_ok "  snapshots of dst/s"                       zfs list -H -o name -t snapshot dst/s
t_eq "  @s1 @s2 @s3 and the sync snapshot"        "$(printf '%s\n' "$T_OUT" | sed 's/@syncoid_.*/@SYNC/')" "$(printf '%s\n' dst/s@s1 dst/s@s2 dst/s@s3 dst/s@SYNC)"
t_eq "  @s2 has the source's guid"                "$(guid dst/s@s2)" "$(guid src/s@s2)"

# --- -r on a container ------------------------------------------------------------------------------
t_ok "create container src/vms with volumes a (8M) and b (8M, sparse)" \
  eval 'zfs create src/vms && zfs create -V 8M src/vms/a && zfs create -s -V 8M src/vms/b'
t_ok "write 2M to each"                           eval 'tarn volume write src/vms/a <"$T/d2" && tarn volume write src/vms/b --offset $MiB <"$T/d2"'
t_ok "syncoid -r src/vms dst/vms"                 syncoid -r src/vms dst/vms
out=$T_OUT
for d in vms vms/a vms/b; do
  t_match "  full send of src/$d"                 "$out" "^INFO: Sending oldest full snapshot src/$d@syncoid_"
done
t_ok "  zfs list -r dst/vms"                      zfs list -H -o name,type -r dst/vms
t_eq "  dst/vms, dst/vms/a, dst/vms/b"            "$(printf '%s\n' "$T_OUT" | cut -f1)" "$(printf '%s\n' dst/vms dst/vms/a dst/vms/b)"
check_pair src/vms/a dst/vms/a "-r" one
check_pair src/vms/b dst/vms/b "-r" one
t_ok "overwrite 1M of src/vms/b"                  eval 'head -c $MiB "$T/d24" | tarn volume write src/vms/b --offset $((4 * MiB))'
sync_gap
t_ok "syncoid -r src/vms dst/vms (again)"         syncoid -r src/vms dst/vms
out=$T_OUT
for d in vms vms/a vms/b; do
  t_match "  incremental of src/$d"               "$out" "^Sending incremental src/$d@syncoid_"
done
check_pair src/vms/b dst/vms/b "-r incremental" one
check_pair src/vms/a dst/vms/a "-r incremental" one

# --- resume ---------------------------------------------------------------------------------------
# interrupt WHAT SIG MIN SYNCOID-ARGS...: start syncoid in the background; once its `zfs receive`
# has read MIN bytes, send SIG to the `zfs send` (WHAT=send) or the `zfs receive` (WHAT=receive)
# it started; wait for syncoid to end (it must fail). One TAP line.
interrupt() {
  local what=$1 sig=$2 min=$3 spid rp vp i rc probs=()
  shift 3
  syncoid "$@" >"$T/bg.out" 2>&1 &
  spid=$!
  rp='' vp=''
  for ((i = 0; i < 300; i++)); do   # at most 30 s
    [ -z "$rp" ] && rp=$(find_child "$spid" '^zfs receive ')
    [ -n "$rp" ] && [ "$(proc_rchar "$rp")" -ge "$min" ] && break
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$what" = send ]; then vp=$(find_child "$spid" '^zfs send '); else vp=$rp; fi
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
  _t_run printf '%s\n' "${probs[@]}" "--- syncoid printed:" "$(cat "$T/bg.out")"
  _t_result $((${#probs[@]} == 0)) "interrupt: SIG$sig to zfs $what after $min bytes received: syncoid $* fails (exit $rc)"
  [ ${#probs[@]} -eq 0 ] || t_diag "$T_OUT"
}
# resumed DESC SYNCOID-ARGS... SRC DST: the next syncoid resumes and completes
resumed() {
  local desc=$1 tok src dst
  shift
  src=${*: -2:1} dst=${*: -1}
  tok=$(token "$dst")
  t_ok "$desc: $dst has a receive_resume_token"   test -n "$tok" -a "$tok" != "-"
  sync_gap
  t_ok "$desc: syncoid $* (again)"                syncoid "$@"
  local re="^Resuming interrupted zfs send/receive from $src to $dst \(~ [0-9.]+ [KMG]B remaining\):\$" one=one
  t_match "$desc: it resumes"                     "$T_OUT" "$re"
  # without a resume, syncoid sends a full and an incremental (and leaves the full's snapshot)
  printf '%s\n' "$T_OUT" | grep -qE "$re" || one=''
  check_pair "$src" "$dst" "$desc: resumed" $one
  t_eq "$desc: no resume token left"              "$(token "$dst")" "-"
}

# each case has its own source (syncoid's first run sends the source's oldest snapshot)
head -c $((48 * MiB)) /dev/urandom >"$T/d48"
for c in a b; do
  t_ok "create src/big-$c (64M, sparse) with 48M" eval 'zfs create -s -V 64M src/big-$c && tarn volume write src/big-$c <"$T/d48"'
done
interrupt send TERM $((8 * MiB)) --source-bwlimit=16m src/big-a dst/big-a
resumed "sender died" src/big-a dst/big-a

interrupt receive TERM $((8 * MiB)) --source-bwlimit=16m src/big-b dst/big-b
resumed "receive got SIGTERM" src/big-b dst/big-b

head -c $((112 * MiB)) /dev/urandom >"$T/d112"
t_ok "create src/huge (128M, sparse) with 112M"   eval 'zfs create -s -V 128M src/huge && tarn volume write src/huge <"$T/d112"'
rm -f "$T/d112"
interrupt receive KILL $((80 * MiB)) --source-bwlimit=40m src/huge dst/huge
resumed "receive got SIGKILL after 80M" src/huge dst/huge

t_done
