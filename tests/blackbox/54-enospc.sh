#!/usr/bin/env bash
# Out of space: fill a small pool (a 128M file) through a sparse volume bigger than the pool
# until a write fails with "out of space" (exit 1). The failed write must change nothing (a
# command commits all of its transaction group or none of it), the pool must still import and
# scrub clean, and freeing space -- destroying the snapshot that holds the overwritten blocks,
# later the volume itself -- must make writes work again. (With ZFS's slop space -- half of
# such a small pool -- about 63M of the 128M are usable.)
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/fault.sh
. "$(dirname "$0")/../lib/fault.sh"

MiB=1048576 CH=$((8 * 1048576))
P=full D=$T/dev M=$T/m
mkdir -p "$D" "$M"
f=$(mkvdev dev/pool.img 128M)
t_ok "create pool $P on a 128M file"                 zpool create "$P" "$f"
t_fail_with "a thick 256M volume does not fit"      1 "out of space" zfs create -V 256M "$P/thick"
t_ok "create a sparse 512M volume (bigger than the pool)" zfs create -V 512M -s -o compression=off "$P/v"
truncate -s 512M "$M/v"

# fill OFF: write 8M chunks of random data from OFF on until one fails (at most 40 tries).
# Sets NEXT (offset of the failed chunk) and NW (chunks written); the model follows.
fill() {
  local off=$1 i
  NW=0
  for ((i = 0; i < 40; i++)); do
    gen_random "$T/chunk" $CH
    x volume write "$P/v" --offset "$off" <"$T/chunk"
    if x_ok; then
      put_range "$M/v" "$off" "$T/chunk"
      NW=$((NW + 1)) off=$((off + CH))
      [ $((off + CH)) -le $((512 * MiB)) ] || off=0   # wrap around (overwrites)
      continue
    fi
    NEXT=$off
    [ "$X_RC" -eq 1 ] || prob "the failing write should exit 1: $(x_desc)"
    x_sanitizer && prob "sanitizer report: $(head -n 5 "$X_ERR")"
    grep -q "out of space" "$X_ERR" || prob "the failing write should say 'out of space': $(x_errline)"
    return
  done
  prob "40 writes of 8M fit into a 128M pool"
}

# verify_model WHAT LEN: the first LEN bytes of the volume are the model's
verify_model() {
  x volume read "$P/v" --length "$2"
  if ! x_ok; then prob "$1: volume read: $(x_desc)"
  else range_of "$M/v" 0 "$2" | cmp -s - "$X_OUT" || prob "$1: the volume differs from the model"
  fi
}

# 1. some data and a snapshot that will hold it
gen_random "$T/chunk" $((3 * CH))
t_ok "write 24M"            tarn volume write "$P/v" <"$T/chunk"
put_range "$M/v" 0 "$T/chunk"
t_ok "snapshot v@s1"        zfs snapshot "$P/v@s1"
cp "$M/v" "$M/s1"

# 2. overwrite it and go on until the pool is full
fill 0
t_check "fill: overwriting and extending v runs out of space after $NW writes of 8M (exit 1, 'out of space')"
verify_model "after the failed write" $((NEXT + CH > 3 * CH ? NEXT + CH : 3 * CH))
t_check "the failed write changed nothing: v matches the successful writes"
x volume read "$P/v@s1" --length $((3 * CH))
x_ok && range_of "$M/s1" 0 $((3 * CH)) | cmp -s - "$X_OUT" || prob "v@s1: $(x_desc), or it differs"
t_check "v@s1 still reads back its data"
t_ok "zfs list works on the full pool"     zfs list -H -o name -t all -r "$P"
t_ok "zpool list works on the full pool"   zpool list "$P"
t_ok "export the full pool"                zpool export "$P"
t_ok "import it again"                     zpool import -d "$D" "$P"
scrub_check "$P" "full pool"
t_check "the full pool scrubs clean"
t_fail_with "still out of space after the re-import" 1 "out of space" \
  eval 'head -c $CH /dev/urandom | tarn volume write "$P/v" --offset "$NEXT"'

# 3. destroying the snapshot frees the overwritten blocks
t_ok "destroy v@s1 on the full pool"       zfs destroy "$P/v@s1"
gen_random "$T/chunk" $CH
t_ok "a write works again after the snapshot is gone" tarn volume write "$P/v" --offset "$NEXT" <"$T/chunk"
[ "$T_RC" -eq 0 ] && put_range "$M/v" "$NEXT" "$T/chunk"
verify_model "after destroying the snapshot" $((NEXT + CH))
t_check "v matches the model after the snapshot destroy and the new write"

# 4. fill up again, then destroy the volume: the space comes back for a new one
fill $((NEXT + CH))
t_check "fill again: out of space after $NW more writes"
scrub_check "$P" "full again"
t_check "the full pool scrubs clean again"
t_ok "destroy the volume on the full pool"  zfs destroy "$P/v"
t_ok "create a new sparse volume"          zfs create -V 512M -s "$P/w"
gen_random "$T/chunk" $((32 * MiB))
t_ok "32M fit into the new volume"         tarn volume write "$P/w" <"$T/chunk"
t_ok "and read back"                       eval 'tarn volume read "$P/w" --length $((32 * MiB)) | cmp - "$T/chunk"'
scrub_check "$P" "after destroying the volume"
t_check "the pool scrubs clean at the end"

t_done
