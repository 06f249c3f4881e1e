#!/usr/bin/env bash
# Crash consistency by SIGKILL.
#
# One pool (a 1G sparse file) with two 64M sparse volumes, v0 (compression=off) and v1 (lz4).
# A random workload -- volume writes of 1..8 MiB (random, compressible for v1, sometimes zeros)
# at aligned and unaligned offsets, snapshots, snapshot destroys, rollbacks to the latest
# snapshot, the odd scrub -- where every command is started in the background and killed with
# SIGKILL after a random delay (some finish first; see pick_delay for how the delay is drawn:
# mostly within the measured duration of such a command, some 0..300 ms). Each command is a
# crash point.
#
# A model of each volume (head and every live snapshot, as files in $T/m) is kept. After each
# crash point the next command must open the pool, and what is on disk must be the state before
# or the state after the command (never a mix): a command that exited 0 must have left the new
# state; for a killed one the test finds out which of the two it was and adopts it. Writes are
# checked on their range widened to 128K boundaries (so a read-modify-write of a neighbouring
# block that went wrong is seen too); every VERIFY_EVERY points (and at the end) the pool is
# scrubbed (status must be clean), exported and imported again every other time, and every
# volume and snapshot is read in full and compared with the model.
#
# Crash points: CRASH_POINTS (default 200; 40 under TARN_SANITIZED=1, as ASan+UBSan make every
# command ~5x slower and the point is the same). TEST_SEED=n repeats a run's choices (the seed is
# printed); the random data and kill timing still differ. Killed commands run the binary directly
# (not through TARN_WRAP), so that SIGKILL hits tarn itself; they are started and killed by a
# perl helper (killafter in tests/lib/fault.sh) for sub-millisecond aim.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/fault.sh
. "$(dirname "$0")/../lib/fault.sh"

if [ "$TARN_SANITIZED" = 1 ]; then N=${CRASH_POINTS:-40}; else N=${CRASH_POINTS:-200}; fi
VERIFY_EVERY=${VERIFY_EVERY:-25}
MAXSNAPS=3                      # live snapshots per volume (bounds the model's disk use)
VOLSIZE=$((64 << 20))
MiB=1048576
P=crash
D=$T/dev M=$T/m
mkdir -p "$D" "$M"

t_diag "seed $TEST_SEED (TEST_SEED=$TEST_SEED repeats the choices), $N crash points"

# --- setup ------------------------------------------------------------------------------------
f=$(mkvdev dev/pool.img 1G)
t_ok "create pool $P on a 1G file"                 zpool create "$P" "$f"
t_ok "create 64M sparse volume v0 (compression=off)" zfs create -V 64M -s -o compression=off "$P/v0"
t_ok "create 64M sparse volume v1 (compression=lz4)" zfs create -V 64M -s -o compression=lz4 "$P/v1"
for v in v0 v1; do truncate -s $VOLSIZE "$M/$v"; done
declare -A SNAPS=([v0]="" [v1]="")   # live snapshots per volume, oldest first
nextsnap=1

# expected `zfs list -H -o name -t all -r P`, sorted
model_list() {
  local v s
  { echo "$P"
    for v in v0 v1; do
      echo "$P/$v"
      for s in ${SNAPS[$v]}; do echo "$P/$v@$s"; done
    done; } | LC_ALL=C sort
}
# disk_list: LIST = what `zfs list` shows, sorted; returns 1 (with a problem) if it fails
disk_list() {
  x zfs list -H -o name -t all -r "$P"
  x_ok || { prob "zfs list: $(x_desc)"; LIST=; return 1; }
  LIST=$(LC_ALL=C sort "$X_OUT")
}
has_snap() { grep -qxF "$P/$1@$2" <<<"$3"; }
latest_snap() { local s l=; for s in ${SNAPS[$1]}; do l=$s; done; echo "$l"; }
nsnaps() { set -- ${SNAPS[$1]}; echo $#; }
del_snap() { local s out=; for s in ${SNAPS[$1]}; do [ "$s" = "$2" ] || out="$out $s"; done; SNAPS[$1]=${out# }; }

# read_md5 NAME: SUM = md5 of the whole volume/snapshot NAME (empty, with a problem, on failure)
read_md5() {
  # shellcheck disable=SC2086
  SUM=$(timeout -k 5 "$X_TIMEOUT" $TARN_WRAP "$TARN" volume read "$P/$1" 2>"$X_ERR" | md5sum)
  X_RC=${PIPESTATUS[0]}
  SUM=${SUM%% *}
  if ! x_ok; then
    prob "volume read $P/$1: $(x_desc)"
    SUM=
    return 1
  fi
}

# full_verify WHAT: scrub + clean status, dataset list, every volume and snapshot vs the model
full_verify() {
  local what=$1 v s
  scrub_check "$P" "$what"
  disk_list && [ "$LIST" != "$(model_list)" ] &&
    prob "$what: datasets are [$(tr '\n' ' ' <<<"$LIST")], model has [$(model_list | tr '\n' ' ')]"
  for v in v0 v1; do
    read_md5 "$v" && [ "$SUM" != "$(md5 "$M/$v")" ] && prob "$what: $P/$v differs from the model"
    for s in ${SNAPS[$v]}; do
      read_md5 "$v@$s" && [ "$SUM" != "$(md5 "$M/$v@$s")" ] && prob "$what: $P/$v@$s differs from the model"
    done
  done
  return 0
}

full_verify "initial state"
t_check "initial state: scrub clean, volumes read as zeros"

# run_killed USEC CMD...: run tarn CMD (stdin from $IN, stderr to $T/cmd.err) and SIGKILL it
# USEC microseconds after its start unless it ended first. Sets RC (exit status; 137 = killed),
# KILLED (1 if the kill came first) and EL (microseconds it ran).
IN=/dev/null
run_killed() {
  local us=$1; shift
  killafter "$us" "$T/cmd.stat" "$TARN" "$@" <"$IN" >/dev/null 2>"$T/cmd.err"
  read -r RC EL <"$T/cmd.stat"
  KILLED=0
  [ "$RC" -eq 137 ] && KILLED=1
  return 0
}

# Kill delays. tarn commands take ~2..40 ms, so a delay drawn from 0..300 ms would nearly
# always come after the command ended. Most delays are drawn from 0..1.2x the duration of the
# same kind of command (a running estimate, from the ones that finished), the rest (1 in 5)
# from 0..300 ms as a cross-check that finished commands left their new state.
declare -A DUR=([write]=30000 [snapshot]=8000 [destroy]=8000 [rollback]=8000 [scrub]=15000)
pick_delay() {
  if [ $((RANDOM % 5)) -eq 0 ]; then rnd 300001; else rnd $(( DUR[$1] * 12 / 10 + 1 )); fi
}
learn_duration() {  # learn_duration OP: after a command that finished: move the estimate
  [ "$KILLED" = 0 ] && [ "$RC" -eq 0 ] && DUR[$1]=$(( (DUR[$1] * 3 + EL) / 4 ))
  return 0
}

# check_rc WHAT: the command either finished (exit 0) or was killed; anything else is a bug
check_rc() {
  if [ "$RC" -ne 0 ] && [ "$RC" -ne 137 ]; then
    prob "$1: exit status $RC (expected 0, or 137 when killed): $(head -n 3 "$T/cmd.err" | tr '\n' ' ')"
  fi
  grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error: ' "$T/cmd.err" && prob "$1: sanitizer report: $(head -n 5 "$T/cmd.err")"
}

nkilled=0 nfinished=0 nafter=0 nbefore=0
start=$SECONDS
for ((i = 1; i <= N; i++)); do
  v=v$((RANDOM % 2))
  ns=$(nsnaps "$v")
  roll=$((RANDOM % 100))
  if [ "$roll" -lt 68 ]; then op="write"
  elif [ "$roll" -lt 80 ]; then op=snapshot
  elif [ "$roll" -lt 89 ]; then op=destroy
  elif [ "$roll" -lt 97 ]; then op=rollback
  else op=scrub
  fi
  [ "$op" = snapshot ] && [ "$ns" -ge $MAXSNAPS ] && op=destroy
  [ "$op" = destroy ] && [ "$ns" -eq 0 ] && op=snapshot
  [ "$op" = rollback ] && [ "$ns" -eq 0 ] && op="write"
  us=$(pick_delay "$op")
  IN=/dev/null
  case $op in
  write)
    len=$((MiB + $(rnd $((7 * MiB + 1)))))
    case $((RANDOM % 3)) in
      0) len=$(( (len + 131071) / 131072 * 131072 )); align=131072 ;;  # block aligned
      1) len=$(( (len + 4095) / 4096 * 4096 )); align=4096 ;;          # sector aligned
      2) align=1 ;;                                                     # unaligned
    esac
    [ "$len" -gt $((8 * MiB)) ] && len=$((8 * MiB))
    off=$(( $(rnd $((VOLSIZE - len + 1))) / align * align ))
    kind=random
    if [ $((RANDOM % 12)) -eq 0 ]; then kind=zeros; head -c "$len" /dev/zero >"$T/data"
    elif [ "$v" = v1 ]; then kind=compressible; gen_compressible "$T/data" "$len"
    else gen_random "$T/data" "$len"
    fi
    desc="write $P/$v off=$off len=$len ($kind)"
    IN=$T/data
    run_killed "$us" volume write "$P/$v" --offset "$off"
    ;;
  snapshot)
    s=s$nextsnap; nextsnap=$((nextsnap + 1))
    desc="snapshot $P/$v@$s"
    run_killed "$us" zfs snapshot "$P/$v@$s"
    ;;
  destroy)
    set -- ${SNAPS[$v]}
    shift $((RANDOM % $#))
    s=$1
    desc="destroy $P/$v@$s"
    run_killed "$us" zfs destroy "$P/$v@$s"
    ;;
  rollback)
    s=$(latest_snap "$v")
    desc="rollback $P/$v@$s"
    run_killed "$us" zfs rollback "$P/$v@$s"
    ;;
  scrub)
    desc="scrub $P"
    run_killed "$us" zpool scrub "$P"
    ;;
  esac
  if [ "$KILLED" = 1 ]; then nkilled=$((nkilled + 1)); how="killed after $((EL / 1000)).$(printf %03d $((EL % 1000)))ms"
  else nfinished=$((nfinished + 1)); how="finished (exit $RC) in $((EL / 1000))ms, before the kill at $((us / 1000))ms"
  fi
  learn_duration "$op"
  check_rc "$desc"

  # which state is on disk? (the first command after the crash also proves the pool opens)
  state='?'
  case $op in
  write)
    a=$(( off / 131072 * 131072 ))
    b=$(( (off + len + 131071) / 131072 * 131072 )); [ "$b" -gt $VOLSIZE ] && b=$VOLSIZE
    range_of "$M/$v" "$a" $((b - a)) >"$T/old"
    cp "$T/old" "$T/new"; put_range "$T/new" $((off - a)) "$T/data"
    x volume read "$P/$v" --offset "$a" --length $((b - a))
    if ! x_ok; then
      prob "after the crash: volume read $P/$v --offset $a --length $((b - a)): $(x_desc)"
    elif cmp -s "$X_OUT" "$T/new"; then
      state=after; put_range "$M/$v" "$off" "$T/data"
    elif cmp -s "$X_OUT" "$T/old"; then
      state=before
    else
      state=MIXED
      prob "$P/$v bytes $a..$b are neither the old nor the new contents: $(cmp "$X_OUT" "$T/new" | head -n 1)"
      cp "$X_OUT" "$T/new"; put_range "$M/$v" "$a" "$T/new"   # adopt what is there and go on
    fi
    ;;
  snapshot|destroy)
    if disk_list; then
      if has_snap "$v" "$s" "$LIST"; then
        if [ "$op" = snapshot ]; then state=after; cp "$M/$v" "$M/$v@$s"; SNAPS[$v]="${SNAPS[$v]} $s"; SNAPS[$v]=${SNAPS[$v]# }
        else state=before; fi
      else
        if [ "$op" = snapshot ]; then state=before
        else state=after; del_snap "$v" "$s"; rm -f "$M/$v@$s"; fi
      fi
      [ "$LIST" != "$(model_list)" ] && prob "datasets are [$(tr '\n' ' ' <<<"$LIST")], model has [$(model_list | tr '\n' ' ')]"
    fi
    ;;
  rollback)
    if read_md5 "$v"; then
      if [ "$SUM" = "$(md5 "$M/$v@$s")" ]; then state=after; cp "$M/$v@$s" "$M/$v"
      elif [ "$SUM" = "$(md5 "$M/$v")" ]; then state=before
      else state=MIXED; prob "$P/$v is neither its old contents nor those of @$s"
      fi
    fi
    ;;
  scrub)
    x zfs list -H -o name -t all -r "$P"   # the pool opens
    x_ok && state=n/a || prob "after the crash: zfs list: $(x_desc)"
    ;;
  esac
  # exit 0 means committed ("after" is checked first, so old == new counts as after)
  [ "$RC" -eq 0 ] && [ "$state" = before ] && prob "the command exited 0 but its change is not on disk"
  case $state in after) nafter=$((nafter + 1)) ;; before) nbefore=$((nbefore + 1)) ;; esac
  if [ $((i % VERIFY_EVERY)) -eq 0 ] || [ "$i" -eq "$N" ]; then
    if [ $((i / VERIFY_EVERY % 2)) -eq 0 ]; then
      x zpool export "$P"; x_ok || prob "zpool export: $(x_desc)"
      x zpool import -d "$D" "$P"; x_ok || prob "zpool import -d: $(x_desc)"
      full_verify "full check after export/import"
    else
      full_verify "full check"
    fi
    desc="$desc; then scrub + full compare"
  fi
  t_check "crash point $i/$N: $desc, $how -> state $state"
done
t_diag "$N crash points in $((SECONDS - start))s: $nkilled killed, $nfinished finished first;" \
  "on disk: $nafter new state, $nbefore old state"

# The kills must really have landed in the middle of commands, or this test proves little.
t_ok "some commands were killed ($nkilled of $N)" test "$nkilled" -gt $((N / 10))

# --- after the last crash: export/import and a last full check ----------------------------
x zpool export "$P"; x_ok || prob "zpool export: $(x_desc)"
x zpool import -d "$D" "$P"; x_ok || prob "zpool import -d: $(x_desc)"
full_verify "final"
t_check "final: export, import, scrub clean, every volume and snapshot matches the model"

t_done
