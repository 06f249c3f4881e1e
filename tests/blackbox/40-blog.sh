#!/usr/bin/env bash
# The blog scenario (/work/shared/reference/zfs-behaviour.md sections 1 and 3) on a thick
# 300M/16K volume in a pool on a 1G file, once with compression=off and once with lz4. After
# every step it checks the RELATIONS of ZFS space accounting with `zfs get -Hp` (not exact sizes,
# except the refreservation, which is OpenZFS's zvol_volsize_to_reservation):
#   - for every dataset, always: used = usedbysnapshots + usedbydataset + usedbyrefreservation
#     + usedbychildren, and the pool root's usedbychildren = the sum of its children's used;
#     a thick volume's available = the pool root's available + its usedbyrefreservation
#   - before a snapshot: usedbyrefreservation = refreservation - written (the bytes unique to
#     the head; about refreservation - usedbydataset), so used = refreservation
#   - a snapshot charges the full refreservation again: usedbyrefreservation = refreservation,
#     used = usedbydataset + refreservation (the blog's 300M -> 503M)
#   - after overwriting 50M and snapshotting again, the older snapshot's used is the 50M it
#     alone holds (<= 2% more for indirect blocks) and usedbysnapshots is the sum of the
#     snapshots' used
#   - refreservation=none drops usedbyrefreservation to 0 and gives the space back to the pool
#   - destroying the older snapshot frees its space: usedbysnapshots 0, used = usedbydataset
# Data: 200M written, 50M overwritten at 100M (64M, 16M at 24M under TARN_SANITIZED=1). ~10 s.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

MiB=1048576
if [ "$TARN_SANITIZED" = 1 ]; then DATA=64 PATCH=16 AT=24; else DATA=200 PATCH=50 AT=100; fi   # sizes in MiB
REFRES_300M_16K=321650688      # 314572800 + 2 * 128K * (7 + 19 + 1)

head -c $((DATA * MiB)) /dev/urandom >"$T/disk.img"
head -c $((PATCH * MiB)) /dev/urandom >"$T/patch.img"

PROPS=used,usedbysnapshots,usedbydataset,usedbyrefreservation,usedbychildren,referenced,refreservation,available,written
declare -A V
# load DS...: V[ds:prop] = zfs get -Hp value, for the space properties of each DS
load() {
  local ds prop val
  for ds in "$@"; do
    while IFS=$'\t' read -r prop val; do V[$ds:$prop]=$val; done \
      < <(zfs get -Hp -o property,value "$PROPS" "$ds")
  done
}
# num DESC VALUE: VALUE is a number (else the later arithmetic would be meaningless)
num() { t_match "$1" "$2" '^[0-9]+$'; }
# approx A B PCT: |A - B| <= PCT% of B;  within A B N: |A - B| <= N
approx() { local d=$(($1 - $2)); [ "${d#-}" -le $(($2 * $3 / 100)) ]; }
within() { local d=$(($1 - $2)); [ "${d#-}" -le "$3" ]; }

# invariants POOL STEP: the sum rule for every dataset, usedchild of the root, avail of the volume
invariants() {
  local pool=$1 step=$2 ds sum=0 name used
  load "$pool" "$pool/vm"
  for ds in "$pool" "$pool/vm"; do
    num "$step: $ds used is a number" "${V[$ds:used]}"
    t_eq "$step: $ds used = usedsnap + usedds + usedrefreserv + usedchild" "${V[$ds:used]}" \
         "$((${V[$ds:usedbysnapshots]} + ${V[$ds:usedbydataset]} + ${V[$ds:usedbyrefreservation]} + ${V[$ds:usedbychildren]}))"
  done
  while IFS=$'\t' read -r name used; do
    [ "$name" = "$pool" ] || sum=$((sum + used))
  done < <(zfs list -H -p -o name,used -d 1 "$pool")
  t_eq "$step: $pool usedchild = sum of its children's used" "${V[$pool:usedbychildren]}" "$sum"
  t_eq "$step: $pool/vm avail = $pool avail + its usedrefreserv" "${V[$pool/vm:available]}" \
       "$((${V[$pool:available]} + ${V[$pool/vm:usedbyrefreservation]}))"
}

for comp in off lz4; do
  P=blog$comp vm=blog$comp/vm
  f=$(mkvdev "f-$comp" 1G)
  t_ok "[$comp] zpool create $P (1G file)"         zpool create "$P" "$f"
  t_ok "[$comp] zfs create -V 300M -o compression=$comp $vm" zfs create -V 300M -o compression="$comp" "$vm"

  # step 0: empty thick volume
  s="[$comp] empty"
  invariants "$P" "$s"
  t_eq "$s: refreservation (zvol_volsize_to_reservation)" "${V[$vm:refreservation]}" "$REFRES_300M_16K"
  t_eq "$s: usedds 0"                             "${V[$vm:usedbydataset]}" 0
  t_eq "$s: usedrefreserv = refreservation"       "${V[$vm:usedbyrefreservation]}" "$REFRES_300M_16K"
  t_eq "$s: used = refreservation"                "${V[$vm:used]}" "$REFRES_300M_16K"

  # step 1: 200M of data, no snapshot
  t_ok "[$comp] write ${DATA}M"                   tarn volume write "$vm" <"$T/disk.img"
  s="[$comp] ${DATA}M written"
  invariants "$P" "$s"
  ref1=${V[$vm:referenced]} used1=${V[$vm:used]} rr1=${V[$vm:usedbyrefreservation]} pavail1=${V[$P:available]}
  t_ok "$s: referenced >= ${DATA}M"               test "$ref1" -ge $((DATA * MiB))
  t_ok "$s: referenced <= ${DATA}M + 2%"          test "$ref1" -le $((DATA * MiB * 102 / 100))
  t_eq "$s: usedds = referenced (no snapshots)"   "${V[$vm:usedbydataset]}" "$ref1"
  t_eq "$s: written = referenced"                 "${V[$vm:written]}" "$ref1"
  t_eq "$s: usedrefreserv = refreservation - written" "$rr1" "$((REFRES_300M_16K - ${V[$vm:written]}))"
  t_ok "$s: usedrefreserv ~ refreservation - usedds (1%)" approx "$rr1" "$((REFRES_300M_16K - ${V[$vm:usedbydataset]}))" 1
  t_eq "$s: used = refreservation (the data fills the reservation)" "$used1" "$REFRES_300M_16K"
  t_eq "$s: usedsnap 0"                           "${V[$vm:usedbysnapshots]}" 0

  # step 2: the first snapshot charges the whole refreservation again
  t_ok "[$comp] zfs snapshot $vm@1"               zfs snapshot "$vm@1"
  s="[$comp] after @1"
  invariants "$P" "$s"
  used2=${V[$vm:used]}
  t_eq "$s: usedrefreserv = refreservation"       "${V[$vm:usedbyrefreservation]}" "$REFRES_300M_16K"
  t_eq "$s: used = usedds + refreservation"       "$used2" "$((${V[$vm:usedbydataset]} + REFRES_300M_16K))"
  t_eq "$s: used jumped by what the data had consumed of the reservation" \
       "$((used2 - used1))" "$((REFRES_300M_16K - rr1))"
  t_ok "$s: used ~ ${DATA}M + refreservation (2%)" approx "$used2" $((DATA * MiB + REFRES_300M_16K)) 2
  # (pool space also moves by a few K of metadata per transaction, hence "about")
  t_ok "$s: pool root avail dropped by the same (+- 1M)" within "$((pavail1 - ${V[$P:available]}))" "$((used2 - used1))" 1048576
  t_eq "$s: written 0"                            "${V[$vm:written]}" 0
  t_eq "$s: usedsnap 0"                           "${V[$vm:usedbysnapshots]}" 0
  t_eq "$s: @1 used 0"                            "$(zfs get -Hp -o value used "$vm@1")" 0
  t_eq "$s: @1 referenced = the volume's"         "$(zfs get -Hp -o value referenced "$vm@1")" "${V[$vm:referenced]}"

  # step 3: overwrite 50M at 100M, snapshot again
  t_ok "[$comp] overwrite ${PATCH}M at offset ${AT}M" tarn volume write "$vm" --offset ${AT}M <"$T/patch.img"
  s="[$comp] ${PATCH}M overwritten"
  invariants "$P" "$s"
  t_ok "$s: usedrefreserv = refreservation - written" test "${V[$vm:usedbyrefreservation]}" -eq "$((REFRES_300M_16K - ${V[$vm:written]}))"
  t_ok "$s: written >= ${PATCH}M"                 test "${V[$vm:written]}" -ge $((PATCH * MiB))
  t_ok "[$comp] zfs snapshot $vm@2"               zfs snapshot "$vm@2"
  s="[$comp] after @2"
  invariants "$P" "$s"
  su1=$(zfs get -Hp -o value used "$vm@1") su2=$(zfs get -Hp -o value used "$vm@2")
  num "$s: @1 used is a number" "$su1"
  t_ok "$s: @1 used >= ${PATCH}M ($su1)"          test "$su1" -ge $((PATCH * MiB))
  t_ok "$s: @1 used <= ${PATCH}M + 2% (indirect blocks)" test "$su1" -le $((PATCH * MiB * 102 / 100))
  t_eq "$s: @2 used 0"                            "$su2" 0
  t_eq "$s: usedsnap = @1 used + @2 used"         "${V[$vm:usedbysnapshots]}" "$((su1 + su2))"
  t_eq "$s: usedrefreserv = refreservation"       "${V[$vm:usedbyrefreservation]}" "$REFRES_300M_16K"
  t_ok "$s: referenced about the same (1%)"       approx "${V[$vm:referenced]}" "$ref1" 1
  t_eq "$s: used = usedsnap + usedds + refreservation" "${V[$vm:used]}" \
       "$((su1 + ${V[$vm:usedbydataset]} + REFRES_300M_16K))"
  t_ok "[$comp] @1 still reads the old data at ${AT}M" \
       eval "tarn volume read $vm@1 --offset ${AT}M --length ${PATCH}M | cmp - <(tail -c +$((AT * MiB + 1)) \"\$T/disk.img\" | head -c $((PATCH * MiB)))"
  t_ok "[$comp] the volume reads the patch there" \
       eval "tarn volume read $vm --offset ${AT}M --length ${PATCH}M | cmp - \"\$T/patch.img\""

  # step 4: refreservation=none
  load "$P" "$vm"
  pavail4=${V[$P:available]} rr4=${V[$vm:usedbyrefreservation]}
  t_ok "[$comp] zfs set refreservation=none"      zfs set refreservation=none "$vm"
  s="[$comp] refreservation=none"
  invariants "$P" "$s"
  t_eq "$s: refreservation none"                  "$(zfs get -H -o value,source refreservation "$vm")" $'none\tlocal'
  t_eq "$s: -p 0"                                 "${V[$vm:refreservation]}" 0
  t_eq "$s: usedrefreserv 0"                      "${V[$vm:usedbyrefreservation]}" 0
  t_eq "$s: used = usedsnap + usedds"             "${V[$vm:used]}" "$((${V[$vm:usedbysnapshots]} + ${V[$vm:usedbydataset]}))"
  t_ok "$s: the pool got the reservation back (+- 1M)" within "$((${V[$P:available]} - pavail4))" "$rr4" 1048576
  t_eq "$s: the volume's avail is the pool's"     "${V[$vm:available]}" "${V[$P:available]}"

  # step 5: destroy the older snapshot
  alloc5=$(zpool list -Hp -o alloc "$P")
  t_ok "[$comp] zfs destroy $vm@1"                zfs destroy "$vm@1"
  s="[$comp] @1 destroyed"
  invariants "$P" "$s"
  t_eq "$s: usedsnap 0"                           "${V[$vm:usedbysnapshots]}" 0
  t_eq "$s: used = usedds"                        "${V[$vm:used]}" "${V[$vm:usedbydataset]}"
  t_eq "$s: only @2 left"                         "$(zfs list -H -o name -t snapshot -r "$vm")" "$vm@2"
  # freed blocks stay allocated until the frees are no longer deferred (two txgs in OpenZFS,
  # metaslab_sync_done); three more transactions are enough
  t_ok "[$comp] three more transactions"          eval "zfs set user:tick=1 $P && zfs set user:tick=2 $P && zfs set user:tick=3 $P"
  t_ok "$s: then pool ALLOC is down by >= ${PATCH}M" test $((alloc5 - $(zpool list -Hp -o alloc "$P"))) -ge $((PATCH * MiB))
  t_ok "[$comp] @2 reads as the volume"           eval "tarn volume read $vm@2 >\"\$T/a\" && tarn volume read $vm >\"\$T/b\" && cmp \"\$T/a\" \"\$T/b\""
  t_ok "[$comp] zpool destroy $P"                 zpool destroy "$P"
  rm -f "$f" "$T/a" "$T/b"
done

t_done
