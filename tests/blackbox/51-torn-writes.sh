#!/usr/bin/env bash
# Torn writes: the vdev fault injector (src/pool/vdev.h) simulates a power cut at the k-th flush
# of a process: the writes issued since the previous flush land partially, in random order, some
# torn at 512-byte granularity, and the process exits 99.
#
# Two pools: "ta" on one file and "tb" striped over two files, each with a 32M sparse volume v0
# (compression=off) and v1 (lz4) holding some data. Each run does one command -- mostly a
# `volume write` of 64K..4M at an aligned or unaligned offset, sometimes a snapshot, a snapshot
# destroy or a rollback -- with TARN_TORN_AFTER=k TARN_TORN_SEED=s for random k (1 up to one past
# the largest k that has crashed a command so far, so every flush of a command is hit: e.g. the
# data flush and the uberblock flush of the commit, per vdev) and random s.
# After each run: the next command must open the pool, the volume's range (widened to 128K)
# must be the old or the new contents (never a mix, never corrupt), the scrub must be clean;
# every 10 runs the pool is exported and imported and everything is compared in full.
# Then `zpool export` and `zpool import` of each pool are torn at each of their flushes in turn:
# the pool must be left imported or importable (at most with -f), data intact.
#
# Runs: TORN_RUNS (default 80; 16 under TARN_SANITIZED=1, ~5x fewer as ASan is ~5x slower).
# TEST_SEED=n repeats a run's choices (the data differs).
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/fault.sh
. "$(dirname "$0")/../lib/fault.sh"

if [ "$TARN_SANITIZED" = 1 ]; then N=${TORN_RUNS:-16}; else N=${TORN_RUNS:-80}; fi
VOLSIZE=$((32 << 20))
KiB=1024 MiB=1048576
M=$T/m
mkdir -p "$T/da" "$T/db" "$M"
t_diag "seed $TEST_SEED (TEST_SEED=$TEST_SEED repeats the choices), $N torn-write runs"

declare -A DIR=([ta]=$T/da [tb]=$T/db)
declare -A SNAPS=()          # "pool/vol" -> live snapshots, oldest first
declare -A KMAX=([ta]=1 [tb]=1)   # largest k that has crashed a command (learned)
declare -A KHIST=()          # "k" -> "crashes/finishes"

t_ok "create pool ta on one 512M file"   zpool create ta "$(mkvdev da/a0 512M)"
t_ok "create pool tb on two 256M files"  zpool create tb "$(mkvdev db/b0 256M)" "$(mkvdev db/b1 256M)"
for p in ta tb; do
  t_ok "$p: create volume v0 (compression=off)" zfs create -V 32M -s -o compression=off "$p/v0"
  t_ok "$p: create volume v1 (compression=lz4)" zfs create -V 32M -s -o compression=lz4 "$p/v1"
  for v in v0 v1; do
    truncate -s $VOLSIZE "$M/$p.$v"
    if [ $v = v0 ]; then gen_random "$T/data" $((8 * MiB)); else gen_compressible "$T/data" $((8 * MiB)); fi
    t_ok "$p/$v: write 8M of data at 4M" tarn volume write "$p/$v" --offset $((4 * MiB)) <"$T/data"
    put_range "$M/$p.$v" $((4 * MiB)) "$T/data"
    SNAPS[$p/$v]=""
  done
done

# torn_run K SEED CMD...: run tarn CMD with the fault injector armed; RC, stderr in $T/cmd.err
IN=/dev/null
torn_run() {
  local k=$1 s=$2; shift 2
  # shellcheck disable=SC2086
  TARN_TORN_AFTER=$k TARN_TORN_SEED=$s timeout -k 5 "$X_TIMEOUT" $TARN_WRAP "$TARN" "$@" \
    <"$IN" >/dev/null 2>"$T/cmd.err"
  RC=$?
}

md5_of() {  # md5_of POOL NAME: SUM of the whole volume/snapshot (empty + problem on failure)
  # shellcheck disable=SC2086
  SUM=$(timeout -k 5 "$X_TIMEOUT" $TARN_WRAP "$TARN" volume read "$1/$2" 2>"$X_ERR" | md5sum)
  X_RC=${PIPESTATUS[0]}
  SUM=${SUM%% *}
  x_ok || { prob "volume read $1/$2: $(x_desc)"; SUM=; return 1; }
}

full_verify() {  # full_verify POOL WHAT
  local p=$1 what=$2 v s want
  want=$( { echo "$p"; for v in v0 v1; do echo "$p/$v"; for s in ${SNAPS[$p/$v]}; do echo "$p/$v@$s"; done; done; } | LC_ALL=C sort)
  x zfs list -H -o name -t all -r "$p"
  if ! x_ok; then prob "$what: zfs list: $(x_desc)"
  elif [ "$(LC_ALL=C sort "$X_OUT")" != "$want" ]; then prob "$what: datasets are [$(tr '\n' ' ' <"$X_OUT")], expected [$(tr '\n' ' ' <<<"$want")]"
  fi
  for v in v0 v1; do
    md5_of "$p" "$v" && [ "$SUM" != "$(md5 "$M/$p.$v")" ] && prob "$what: $p/$v differs from the model"
    for s in ${SNAPS[$p/$v]}; do
      md5_of "$p" "$v@$s" && [ "$SUM" != "$(md5 "$M/$p.$v@$s")" ] && prob "$what: $p/$v@$s differs from the model"
    done
  done
  return 0
}

for p in ta tb; do full_verify "$p" "initial"; scrub_check "$p" "initial"; done
t_check "initial state of both pools"

ncrash=0 nfinish=0 nafter=0 nbefore=0 snapn=1
start=$SECONDS
for ((i = 1; i <= N; i++)); do
  p=ta; [ $((RANDOM % 2)) -eq 0 ] && p=tb
  v=v$((RANDOM % 2))
  pv=$p/$v
  # shellcheck disable=SC2086
  set -- ${SNAPS[$pv]}
  nsn=$#; last=; [ $nsn -gt 0 ] && last=${!#}
  k=$((1 + RANDOM % (KMAX[$p] + 1)))
  seed=$(rnd 1000000)
  roll=$((RANDOM % 100)) op=write
  if [ $roll -ge 82 ]; then
    if [ $nsn -eq 0 ]; then op=snapshot
    else case $((roll % 3)) in 0) op=snapshot ;; 1) op=destroy ;; 2) op=rollback ;; esac
    fi
    [ $op = snapshot ] && [ $nsn -ge 2 ] && op=destroy
  fi
  IN=/dev/null
  case $op in
  write)
    len=$((64 * KiB + $(rnd $((4 * MiB - 64 * KiB + 1)))))
    case $((RANDOM % 3)) in
      0) align=131072; len=$(( (len + align - 1) / align * align )) ;;
      1) align=4096;   len=$(( (len + align - 1) / align * align )) ;;
      2) align=1 ;;
    esac
    off=$(( $(rnd $((VOLSIZE - len + 1))) / align * align ))
    if [ $v = v0 ]; then gen_random "$T/data" "$len"; else gen_compressible "$T/data" "$len"; fi
    IN=$T/data
    desc="write $pv off=$off len=$len"
    torn_run "$k" "$seed" volume write "$pv" --offset "$off"
    ;;
  snapshot) s=s$snapn; snapn=$((snapn + 1)); desc="snapshot $pv@$s"; torn_run "$k" "$seed" zfs snapshot "$pv@$s" ;;
  destroy)  s=$1; desc="destroy $pv@$s"; torn_run "$k" "$seed" zfs destroy "$pv@$s" ;;
  rollback) s=$last; desc="rollback $pv@$s"; torn_run "$k" "$seed" zfs rollback "$pv@$s" ;;
  esac
  case $RC in
    99) ncrash=$((ncrash + 1)); how="torn at flush $k"; [ "$k" -gt "${KMAX[$p]}" ] && KMAX[$p]=$k ;;
    0)  nfinish=$((nfinish + 1)); how="finished (fewer than $k flushes)" ;;
    *)  how="exit $RC"; prob "$desc with TARN_TORN_AFTER=$k: exit status $RC (expected 99 or 0): $(head -n 3 "$T/cmd.err" | tr '\n' ' ')" ;;
  esac
  grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error: ' "$T/cmd.err" && prob "sanitizer report: $(head -n 5 "$T/cmd.err")"
  h=${KHIST[$k]:-0/0}
  if [ "$RC" = 99 ]; then KHIST[$k]="$(( ${h%/*} + 1 ))/${h#*/}"; else KHIST[$k]="${h%/*}/$(( ${h#*/} + 1 ))"; fi

  state='?'
  case $op in
  write)
    a=$(( off / 131072 * 131072 ))
    b=$(( (off + len + 131071) / 131072 * 131072 )); [ "$b" -gt $VOLSIZE ] && b=$VOLSIZE
    range_of "$M/$p.$v" "$a" $((b - a)) >"$T/old"
    cp "$T/old" "$T/new"; put_range "$T/new" $((off - a)) "$T/data"
    x volume read "$pv" --offset "$a" --length $((b - a))
    if ! x_ok; then prob "the next command: volume read $pv --offset $a --length $((b - a)): $(x_desc)"
    elif cmp -s "$X_OUT" "$T/new"; then state=after; put_range "$M/$p.$v" "$off" "$T/data"
    elif cmp -s "$X_OUT" "$T/old"; then state=before
    else
      state=MIXED
      prob "$pv bytes $a..$b are neither the old nor the new contents ($(cmp "$X_OUT" "$T/new" 2>&1 | head -n 1 | sed 's/.*differ: //'))"
      cp "$X_OUT" "$T/new"; put_range "$M/$p.$v" "$a" "$T/new"
    fi
    ;;
  snapshot|destroy)
    x zfs list -H -o name -t snapshot -r "$pv"
    if ! x_ok; then x zfs list -H -o name -t all -r "$p"; fi   # in case -t snapshot is not there
    if ! x_ok; then prob "the next command: zfs list: $(x_desc)"
    elif grep -qxF "$pv@$s" "$X_OUT"; then
      if [ $op = snapshot ]; then state=after; cp "$M/$p.$v" "$M/$p.$v@$s"; SNAPS[$pv]="${SNAPS[$pv]} $s"; SNAPS[$pv]=${SNAPS[$pv]# }
      else state=before; fi
    else
      if [ $op = snapshot ]; then state=before
      else state=after; rm -f "$M/$p.$v@$s"; SNAPS[$pv]=$(for x_ in ${SNAPS[$pv]}; do [ "$x_" = "$s" ] || printf '%s ' "$x_"; done); SNAPS[$pv]=${SNAPS[$pv]% }; fi
    fi
    ;;
  rollback)
    if md5_of "$p" "$v"; then
      if [ "$SUM" = "$(md5 "$M/$p.$v@$s")" ]; then state=after; cp "$M/$p.$v@$s" "$M/$p.$v"
      elif [ "$SUM" = "$(md5 "$M/$p.$v")" ]; then state=before
      else state=MIXED; prob "$pv is neither its old contents nor those of @$s"
      fi
    fi
    ;;
  esac
  [ "$RC" = 0 ] && [ "$state" = before ] && prob "the command exited 0 but its change is not on disk"
  case $state in after) nafter=$((nafter + 1)) ;; before) nbefore=$((nbefore + 1)) ;; esac
  scrub_check "$p" "scrub after the torn write"
  if [ $((i % 10)) -eq 0 ] || [ "$i" -eq "$N" ]; then
    x zpool export "$p"; x_ok || prob "zpool export $p: $(x_desc)"
    x zpool import -d "${DIR[$p]}" "$p"; x_ok || prob "zpool import -d ${DIR[$p]} $p: $(x_desc)"
    full_verify "$p" "full compare after export/import"
    desc="$desc; then export/import + full compare"
  fi
  t_check "torn run $i/$N: $desc, TARN_TORN_AFTER=$k TARN_TORN_SEED=$seed, $how -> state $state; scrub clean"
done
hist=$(for k in $(printf '%s\n' "${!KHIST[@]}" | sort -n); do printf 'k=%s: %s  ' "$k" "${KHIST[$k]}"; done)
t_diag "$N runs in $((SECONDS - start))s: $ncrash torn, $nfinish finished; on disk $nafter new, $nbefore old state"
t_diag "crashes/finishes by k: $hist"
t_ok "the injector fired in most runs ($ncrash of $N)" test "$ncrash" -ge $((N / 2))

for p in ta tb; do
  x zpool export "$p"; x_ok || prob "zpool export $p: $(x_desc)"
  x zpool import -d "${DIR[$p]}" "$p"; x_ok || prob "zpool import $p: $(x_desc)"
  scrub_check "$p" "final"
  full_verify "$p" "final"
done
t_check "final: both pools import, scrub clean and match the model"

# --- torn export and import ------------------------------------------------------------------
# An export or import cut short by a power cut must leave the pool either still imported (its
# datasets usable) or exported (importable with `zpool import -d`, with -f at most), with its
# data intact. Every flush of each command is hit in turn (k = 1, 2, ... until the command
# finishes), on each pool. Every run starts from a fresh TARN_HOME, so that a pool one run
# leaves stuck does not spoil the next.
HOME0=$TARN_HOME
for p in ta tb; do
  for cmd in export import; do
    for ((k = 1; k <= 16; k++)); do
      seed=$(rnd 1000000)
      export TARN_HOME=$T/home.$p.$cmd.$k
      mkdir -p "$TARN_HOME"
      # bring the pool into the state the command starts from (imported for export, exported
      # for import), whatever the run before left
      x zpool import -f -d "${DIR[$p]}" "$p"
      x_ok || prob "setting up: zpool import -f $p: $(x_desc)"
      if [ $cmd = import ]; then
        x zpool export "$p"; x_ok || prob "setting up: zpool export $p: $(x_desc)"
        torn_run "$k" "$seed" zpool import -d "${DIR[$p]}" "$p"
      else
        torn_run "$k" "$seed" zpool export "$p"
      fi
      [ "$RC" = 0 ] || [ "$RC" = 99 ] || prob "zpool $cmd $p with TARN_TORN_AFTER=$k: exit $RC: $(head -n 2 "$T/cmd.err" | tr '\n' ' ')"
      x zfs list -H -o name -t all -r "$p"
      if x_ok; then how="still imported"
      else
        x zpool import -d "${DIR[$p]}" "$p"
        if x_ok; then how="exported (imports again)"
        else
          x zpool import -f -d "${DIR[$p]}" "$p"
          if x_ok; then how="needs import -f"
          else how="UNUSABLE"; prob "after the torn zpool $cmd, $p is neither imported nor importable: $(x_desc)"
          fi
        fi
      fi
      [ "$how" = UNUSABLE ] || { scrub_check "$p" "after the torn $cmd"; full_verify "$p" "after the torn $cmd"; }
      if [ "$RC" = 0 ]; then what="finished (it has fewer than $k flushes)"; else what="torn at flush $k"; fi
      t_check "zpool $cmd $p, TARN_TORN_AFTER=$k TARN_TORN_SEED=$seed: $what; then: $how$([ "$how" = UNUSABLE ] || echo ', scrub clean, data intact')"
      # leave the pool exported for the next run's fresh TARN_HOME
      x zfs list -H -o name -r "$p" && x_ok && x zpool export "$p"
      [ "$RC" = 0 ] && break
    done
  done
done
export TARN_HOME=$HOME0

t_done
