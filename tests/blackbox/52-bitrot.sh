#!/usr/bin/env bash
# Bit rot: flip bits in an exported pool file and check that tarn never returns wrong bytes.
#
# Setup: pool "rot" on a 256M file with two 16M sparse volumes, v0 (compression=off) and v1
# (lz4), 6M of data each, snapshots v0@a and v1@a, then 1M of each head overwritten; export.
# The state after every setup command is remembered (what each of v0, v0@a, v1, v1@a holds), so
# that an import that falls back to an older uberblock can be told apart from wrong data.
#
# Each case works on a fresh sparse copy of the pristine pool file and flips one bit, then:
#   - `zpool import` either succeeds or fails cleanly with a one-line error (no crash, no
#     sanitizer report, no hang);
#   - if it succeeds, every volume and snapshot read either returns exactly the bytes of one
#     consistent state (the final one; or that of the newest uberblock left valid; or, if the
#     import says it rewound, one at most 2 txgs older -- see check_pool) or
#     fails with a clean non-zero exit and a message naming the dataset, having printed only a
#     correct prefix of the contents (never wrong bytes);
#   - `zpool scrub` exits 0, and if some read failed, `zpool status` reports errors.
# Cases: the control (no flip); targeted flips in a data block of v0 that only the head holds
# and in one shared with @a (the reads that hold it must fail, scrub must count it); in the
# oldest space-log block (which every later txg's space log chains through); one byte in
# label copy 0 and in copy 1 (must import as if nothing happened); both copies (import fails);
# the newest uberblock (imports the txg before, which then takes new writes); all uberblocks of
# the last command (the state before it, or a refusal); every uberblock (import fails); then
# random flips: in the allocated data area (>= 1M), in the
# label area (0..8K: must import unchanged) and in the used uberblock slots (8K..520K).
# FLIPS (default 100; 20 under TARN_SANITIZED=1, ~5x fewer) counts the random flips.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/fault.sh
. "$(dirname "$0")/../lib/fault.sh"

build_pooltool || t_skip_all "cannot build tests/lib/pooltool.c (needs cc and libxxhash)"
if [ "$TARN_SANITIZED" = 1 ]; then NFLIPS=${FLIPS:-20}; else NFLIPS=${FLIPS:-100}; fi
MiB=1048576
P=rot
DS=(v0 v0@a v1 v1@a)
M=$T/m SRC=$T/src W=$T/w
mkdir -p "$M" "$SRC"
t_diag "seed $TEST_SEED (TEST_SEED=$TEST_SEED repeats the choices), $NFLIPS random flips"

# --- setup, remembering each state ----------------------------------------------------------
# content files are kept by md5 in $M/c.MD5; state S (0..NST-1) maps each dataset to an md5 or "-"
declare -A ST=() CUR=([v0]=- [v0@a]=- [v1]=- [v1@a]=-)
NST=0
keep() { local m; m=$(md5 "$1"); [ -e "$M/c.$m" ] || cp "$1" "$M/c.$m"; echo "$m"; }
declare -a TXG=()   # TXG[S]: the newest txg once state S was committed
f=$(mkvdev src/pool.img 256M)
save_state() {
  local d
  for d in "${DS[@]}"; do ST[$NST,$d]=${CUR[$d]}; done
  TXG[NST]=$("$POOLTOOL" newest "$f" | cut -d' ' -f2)
  NST=$((NST + 1))
}
t_ok "create pool $P on a 256M file" zpool create "$P" "$f"
save_state
truncate -s 16M "$M/v0" "$M/v1"
t_ok "create volume v0 (16M, compression=off)" zfs create -V 16M -s -o compression=off "$P/v0"
CUR[v0]=$(keep "$M/v0"); save_state
t_ok "create volume v1 (16M, compression=lz4)" zfs create -V 16M -s -o compression=lz4 "$P/v1"
CUR[v1]=$(keep "$M/v1"); save_state
gen_random "$T/d0" $((6 * MiB)); gen_compressible "$T/d1" $((6 * MiB))
t_ok "write 6M to v0" tarn volume write "$P/v0" --offset $MiB <"$T/d0"
put_range "$M/v0" $MiB "$T/d0"; CUR[v0]=$(keep "$M/v0"); save_state
t_ok "write 6M to v1" tarn volume write "$P/v1" --offset $MiB <"$T/d1"
put_range "$M/v1" $MiB "$T/d1"; CUR[v1]=$(keep "$M/v1"); save_state
t_ok "snapshot v0@a" zfs snapshot "$P/v0@a"
CUR[v0@a]=${CUR[v0]}; save_state
t_ok "snapshot v1@a" zfs snapshot "$P/v1@a"
CUR[v1@a]=${CUR[v1]}; save_state
gen_random "$T/o0" $MiB; gen_compressible "$T/o1" $MiB
t_ok "overwrite 1M of v0 at 2M" tarn volume write "$P/v0" --offset $((2 * MiB)) <"$T/o0"
put_range "$M/v0" $((2 * MiB)) "$T/o0"; CUR[v0]=$(keep "$M/v0"); save_state
t_ok "overwrite 1M of v1 at 2M" tarn volume write "$P/v1" --offset $((2 * MiB)) <"$T/o1"
put_range "$M/v1" $((2 * MiB)) "$T/o1"; CUR[v1]=$(keep "$M/v1"); save_state
FINAL=$((NST - 1))
t_ok "export" zpool export "$P"
txg_exp=$("$POOLTOOL" newest "$f" | cut -d' ' -f2)
txg_prev=${TXG[FINAL - 1]}
PRISTINE=$T/pristine.img
cp --sparse=always "$f" "$PRISTINE"
t_diag "$NST states; newest txg after each: ${TXG[*]}; after the export: $txg_exp"

# --- one case -------------------------------------------------------------------------------
outcome() {  # what the last check_pool saw, for test descriptions
  if [ "$IMPORTED" = 0 ]; then printf 'import refused (%s)' "$(head -n 1 <<<"$IMPORT_ERR")"
  else printf 'imported state %s of 0..%s, %s reads failed' "$MATCH" "$FINAL" "$NERR"
  fi
}
fresh() {  # a fresh copy of the pristine pool in $W/pool.img and an empty TARN_HOME
  rm -rf "$W" "$TARN_HOME"
  mkdir -p "$W" "$TARN_HOME"
  cp --sparse=always "$PRISTINE" "$W/pool.img"
}

# check_pool WHAT [FINAL_ONLY]: import the (damaged) copy and check everything listed above.
# Sets IMPORTED (0/1), MATCH (state the data matched, or -1), NERR (reads that failed),
# IMPORT_ERR (what the import printed on stderr).
# FINAL_ONLY=1: the import must succeed and the data must be the final state, no read may fail.
# Which older state may come back: the newest uberblock that is still valid after the damage
# (txg TNV) belongs to some command; its state (or, for a txg in the middle of a command, the
# state before that command) may come back without a word -- exactly what a power cut during
# the uberblock write leaves. Going back further means the import skipped valid uberblocks
# because what they point to is damaged: it must say so, and may go back at most 2 txgs (only
# those are kept intact: frees are deferred 2 txgs, src/pool/alloc.h); beyond that blocks may
# have been reused, and everything committed since is dropped without the user being asked --
# refusing the import is the right answer there.
check_pool() {
  local what=$1 final_only=${2:-0} d s ok rewound=0
  local -A out=()
  IMPORTED=0 MATCH=-1 NERR=0
  local tnv snv=$FINAL
  tnv=$("$POOLTOOL" newest "$W/pool.img" | cut -d' ' -f2)
  for ((s = 0; s <= FINAL; s++)); do
    if [ -n "$tnv" ] && [ "${TXG[s]}" -ge "$tnv" ]; then snv=$s; break; fi
  done
  x zpool import -d "$W" "$P"
  IMPORT_ERR=$(cat "$X_ERR")
  if ! x_ok; then
    if [ "$final_only" = 1 ]; then prob "$what: import failed: $(x_desc)"; return; fi
    if ! x_clean_fail; then prob "$what: import did not fail cleanly: $(x_desc)"; return; fi
    [ "$(wc -l <"$X_ERR")" -eq 1 ] || prob "$what: import error is not one line: $(tr '\n' '|' <"$X_ERR")"
    grep -qE "$P|pool\.img" "$X_ERR" || prob "$what: import error names neither the pool nor the file: $(x_errline)"
    return
  fi
  IMPORTED=1
  grep -qiE 'previous|rewound|rewind|older' "$X_ERR" && rewound=1
  for d in "${DS[@]}"; do
    x volume read "$P/$d"
    if x_ok; then
      out[$d]=$(md5 "$X_OUT")
    elif ! x_clean_fail; then
      prob "$what: volume read $P/$d did not fail cleanly: $(x_desc)"; out[$d]=ERR
    elif grep -q 'does not exist' "$X_ERR"; then
      out[$d]=-
    else
      out[$d]=ERR NERR=$((NERR + 1))
      grep -qF "$P/$d" "$X_ERR" || grep -qF "'$d'" "$X_ERR" ||
        prob "$what: the error reading $P/$d does not name the dataset: $(x_errline)"
      cp "$X_OUT" "$T/prefix.$d"   # what it printed before failing
    fi
  done
  for ((s = FINAL; s >= 0; s--)); do
    ok=1
    for d in "${DS[@]}"; do
      if [ "${out[$d]}" = ERR ]; then
        # only a correct prefix of the contents may have been printed
        if [ -s "$T/prefix.$d" ] && { [ "${ST[$s,$d]}" = - ] ||
             ! cmp -s -n "$(stat -c %s "$T/prefix.$d")" "$T/prefix.$d" "$M/c.${ST[$s,$d]}"; }; then ok=0; fi
      elif [ "${out[$d]}" != "${ST[$s,$d]}" ]; then ok=0
      fi
    done
    [ $ok = 1 ] && { MATCH=$s; break; }
  done
  rm -f "$T"/prefix.*
  if [ "$MATCH" -lt 0 ]; then
    prob "$what: WRONG DATA: the volumes match no state the pool has been in (reads: $(for d in "${DS[@]}"; do printf '%s=%s ' "$d" "${out[$d]:0:8}"; done))"
  elif [ "$MATCH" -lt $((snv - 1)) ]; then
    # skipped valid uberblocks: at least TNV - TXG[MATCH] txgs back
    [ "$rewound" = 1 ] || prob "$what: the data is that of an older state ($MATCH of 0..$FINAL) than the newest valid uberblock (txg $tnv, state $snv), but the import did not say it rewound"
    [ $((tnv - TXG[MATCH])) -le 2 ] ||
      prob "$what: the import went back at least $((tnv - TXG[MATCH])) txgs from the newest valid uberblock (txg $tnv) to state $MATCH of 0..$FINAL (newest txg ${TXG[MATCH]}), dropping what was committed since; import said: $(head -n 1 <<<"$IMPORT_ERR")"
  fi
  if [ "$final_only" = 1 ]; then
    [ "$MATCH" -eq "$FINAL" ] && [ "$NERR" -eq 0 ] || prob "$what: expected the final state with no read errors (state $MATCH, $NERR read errors)"
  fi
  x zpool scrub "$P"
  x_ok || prob "$what: zpool scrub should exit 0 even when it finds errors: $(x_desc)"
  status_summary "$P"
  [ "$ST_RC" -eq 0 ] || prob "$what: zpool status: exit $ST_RC"
  if [ "$NERR" -gt 0 ] && ! status_has_errors; then
    prob "$what: $NERR reads failed, but status after the scrub shows no errors ($(status_brief))"
  fi
  if [ "$final_only" = 1 ] && ! status_is_clean; then prob "$what: status not clean: $(status_brief)"; fi
}

# --- control and targeted cases ---------------------------------------------------------------
fresh
check_pool "no flip" 1
t_check "control: the untouched copy imports, reads back exactly, scrubs clean"

# a data block of v0 on disk, found by its bytes (v0 is not compressed): one only the head
# holds (the overwritten 1M at 2M) and one shared with @a (at 5M)
targeted() {  # targeted WHAT VOLOFF EXPECT_FAIL...
  local what=$1 voff=$2 d; shift 2
  range_of "$M/c.${ST[$FINAL,v0]}" "$voff" 4096 >"$T/pat"
  local where
  where=$("$POOLTOOL" find "$PRISTINE" "$T/pat" | head -n 1)
  if [ -z "$where" ]; then prob "$what: could not find the block of v0 at $voff in the pool file"; t_check "$what"; return; fi
  fresh
  "$POOLTOOL" flip "$W/pool.img" $((where + 1000)) 3
  check_pool "$what"
  [ "$IMPORTED" = 1 ] || prob "$what: import failed (only a data block was damaged)"
  for d in "$@"; do
    x volume read "$P/$d" --offset "$voff" --length 4096
    if x_ok; then prob "$what: reading $P/$d at $voff succeeded although its block is damaged"
    else
      x_clean_fail || prob "$what: read of $P/$d did not fail cleanly: $(x_desc)"
      [ -s "$X_OUT" ] && prob "$what: the failed read printed $(stat -c %s "$X_OUT") bytes"
      grep -qE 'offset' "$X_ERR" || prob "$what: the error does not name an offset: $(x_errline)"
    fi
  done
  [ "$MATCH" -eq "$FINAL" ] || prob "$what: data matched state $MATCH, expected the final one"
  status_has_errors || prob "$what: scrub did not report the damaged block ($(status_brief))"
  t_check "$what (pool offset $where)"
}
targeted "flip in a block only v0's head holds: v0 read fails, v0@a and v1 intact, scrub reports it" \
  $((2 * MiB + 65536)) v0
targeted "flip in a block v0 shares with v0@a: both reads fail, scrub reports it" \
  $((5 * MiB)) v0 v0@a

# the oldest space-log block (magic "TSLG"): every later txg's space-log chain runs through it
printf 'TSLG' >"$T/pat"
slog=$("$POOLTOOL" find "$PRISTINE" "$T/pat" | awk -v m=$MiB '$1 >= m' | head -n 1)
if [ -n "$slog" ]; then
  fresh
  "$POOLTOOL" flip "$W/pool.img" $((slog + 100)) 0
  check_pool "oldest space-log block damaged"
  t_check "flip in the oldest space-log block (offset $slog): import refuses or falls back at most 2 txgs, never wrong data: $(outcome)"
else
  t_ok "found a space-log block in the pool file" false
fi

# --- labels and uberblocks ------------------------------------------------------------------
fresh
"$POOLTOOL" flip "$W/pool.img" 100 0
check_pool "label copy 0 damaged" 1
t_check "one byte of label copy 0 flipped: imports from copy 1, data intact, scrub clean"

fresh
"$POOLTOOL" flip "$W/pool.img" $((4096 + 60)) 5
check_pool "label copy 1 damaged" 1
t_check "one byte of label copy 1 flipped: imports from copy 0, data intact, scrub clean"

fresh
"$POOLTOOL" flip "$W/pool.img" 100 0
"$POOLTOOL" flip "$W/pool.img" $((4096 + 100)) 0
md5a=$(md5 "$W/pool.img")
check_pool "both labels damaged"
[ "$IMPORTED" = 0 ] || prob "import succeeded with both labels damaged"
[ "$(md5 "$W/pool.img")" = "$md5a" ] || prob "the failed import changed the file"
t_check "both label copies damaged: import fails cleanly with one line, file unchanged"

# after_fallback WHAT: the imported (older) state MATCH takes a new write that survives
# export/import
after_fallback() {
  gen_random "$T/n0" $MiB
  cp "$M/c.${ST[$MATCH,v1]}" "$T/exp.v1"; put_range "$T/exp.v1" $((9 * MiB)) "$T/n0"
  x volume write "$P/v1" --offset $((9 * MiB)) <"$T/n0"; x_ok || prob "write after the fallback: $(x_desc)"
  x zpool export "$P"; x_ok || prob "export after the fallback: $(x_desc)"
  x zpool import -d "$W" "$P"; x_ok || prob "import after the fallback: $(x_desc)"
  grep -qiE 'previous|rewound' "$X_ERR" && prob "the second import rewound again: $(x_errline)"
  x volume read "$P/v1"; x_ok || prob "read after the fallback: $(x_desc)"
  cmp -s "$X_OUT" "$T/exp.v1" || prob "v1 is not the imported state plus the new write"
  x volume read "$P/v1@a"; cmp -s "$X_OUT" "$M/c.${ST[$FINAL,v1@a]}" || prob "v1@a changed"
  scrub_check "$P" "after the fallback and a new write"
  t_check "$1: a new write on top commits, survives export/import, scrub clean"
}

# the newest uberblock damaged: the import falls back to the one before (whatever state that
# txg holds: the final one if the last txgs changed nothing, else the one before)
fresh
read -r slot _ <<<"$("$POOLTOOL" newest "$W/pool.img")"
"$POOLTOOL" flip "$W/pool.img" $((8192 + slot * 4096 + 40)) 1
check_pool "newest uberblock damaged"
[ "$IMPORTED" = 1 ] && [ "$MATCH" -ge $((FINAL - 1)) ] && [ "$NERR" -eq 0 ] ||
  prob "expected an import of the previous txg (state $((FINAL - 1)) or $FINAL) without read errors; got imported=$IMPORTED state=$MATCH read errors=$NERR"
status_is_clean || prob "status not clean after the fallback: $(status_brief)"
t_check "newest uberblock (slot $slot) damaged: import falls back to the txg before (state $MATCH of 0..$FINAL)"
[ "$IMPORTED" = 1 ] && after_fallback "after the fallback"

# the newest state's catalog root damaged (its uberblock is fine): the import must fall back
# to the txg before, say so, and name the txg it imported
fresh
read -r _ tnew cat <<<"$("$POOLTOOL" newest "$W/pool.img")"
"$POOLTOOL" flip "$W/pool.img" $((cat + 200)) 2
check_pool "newest catalog root damaged"
if [ "$IMPORTED" = 1 ]; then
  [ "$MATCH" -ge $((FINAL - 1)) ] && [ "$NERR" -eq 0 ] ||
    prob "expected the state of txg $((tnew - 1)) (state $((FINAL - 1)) or $FINAL) without read errors; got state $MATCH, $NERR read errors"
  grep -qiE 'previous|rewound|rewind' <<<"$IMPORT_ERR" || prob "the import fell back without saying so"
fi
t_check "newest catalog root (txg $tnew, offset $cat) damaged: $(outcome)"
if [ "$IMPORTED" = 1 ] && grep -qiE 'previous|rewound|rewind' <<<"$IMPORT_ERR"; then
  t_match "  ...and the message names the txg it imported ($((tnew - 1)))" "$IMPORT_ERR" "txg $((tnew - 1))([^0-9]|$)"
fi

# every uberblock of the last command (and of the export) damaged: the state before the last
# command must come back -- or the import must refuse; never an older one
fresh
n=0
for slot in $("$POOLTOOL" ubs "$W/pool.img" | awk -v t="$txg_prev" '$2 > t { print $1 }'); do
  "$POOLTOOL" flip "$W/pool.img" $((8192 + slot * 4096 + 40)) 1
  n=$((n + 1))
done
check_pool "uberblocks of the last command damaged"
if [ "$IMPORTED" = 1 ]; then
  [ "$MATCH" -eq $((FINAL - 1)) ] && [ "$NERR" -eq 0 ] ||
    prob "expected the state before the last command (state $((FINAL - 1))) without read errors; got state $MATCH, $NERR read errors"
  status_is_clean || prob "status not clean after the fallback: $(status_brief)"
fi
t_check "the $n uberblocks newer than txg $txg_prev damaged: imports the state before the last command, or refuses: $(outcome)"
[ "$IMPORTED" = 1 ] && [ "$MATCH" -eq $((FINAL - 1)) ] && after_fallback "after falling back one command"

fresh
for line in $("$POOLTOOL" ubs "$W/pool.img" | awk '{ print $1 }'); do
  "$POOLTOOL" flip "$W/pool.img" $((8192 + line * 4096 + 40)) 1
done
check_pool "every uberblock damaged"
[ "$IMPORTED" = 0 ] || prob "import succeeded with every uberblock damaged"
t_check "every uberblock damaged: import fails cleanly with one line"

# --- random flips -----------------------------------------------------------------------------
# allocated extents of the pristine file at or after 1M (the data area), and the used ring slots
mapfile -t EXT < <("$POOLTOOL" extents "$PRISTINE" $MiB)
mapfile -t SLOTS < <("$POOLTOOL" ubs "$PRISTINE" | awk '{ print $1 }')
total=0
for e in "${EXT[@]}"; do set -- $e; total=$((total + $2 - $1)); done
t_diag "allocated data area: $((total / 1024))K in ${#EXT[@]} extents; ${#SLOTS[@]} uberblocks"
data_offset() {  # a random byte offset inside the allocated extents
  local r e
  r=$(rnd "$total")
  for e in "${EXT[@]}"; do
    set -- $e
    if [ "$r" -lt $(($2 - $1)) ]; then echo $(($1 + r)); return; fi
    r=$((r - ($2 - $1)))
  done
}
declare -A tally=()
for ((i = 1; i <= NFLIPS; i++)); do
  r=$((RANDOM % 100)) bit=$((RANDOM % 8))
  if [ $r -lt 10 ]; then region=label off=$(rnd 8192)
  elif [ $r -lt 22 ]; then region=uberblock off=$((8192 + SLOTS[RANDOM % ${#SLOTS[@]}] * 4096 + $(rnd 4096)))
  else region=data off=$(data_offset)
  fi
  fresh
  "$POOLTOOL" flip "$W/pool.img" "$off" "$bit"
  if [ $region = label ]; then
    check_pool "label flip" 1          # the other copy is intact: nothing may change
  else
    check_pool "$region flip"
  fi
  if [ "$IMPORTED" = 0 ]; then res="import refused: $(x_errline)"
  elif [ "$MATCH" -eq "$FINAL" ] && [ "$NERR" -eq 0 ]; then res="no visible effect"
  elif [ "$MATCH" -eq "$FINAL" ]; then res="$NERR reads failed cleanly, scrub reported"
  else res="rewound to state $MATCH, $NERR reads failed"
  fi
  tally[${res%%:*}]=$(( ${tally[${res%%:*}]:-0} + 1 ))
  t_check "random flip $i/$NFLIPS: $region, offset $off bit $bit: $res"
done
t_diag "outcomes: $(for k in "${!tally[@]}"; do printf '%s: %s; ' "$k" "${tally[$k]}"; done)"

t_done
