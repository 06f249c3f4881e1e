#!/usr/bin/env bash
# zfs send / zfs receive round trips between two pools on files, "sp" (sender) and "bp" (backup).
# Every round trip checks, for each received snapshot: the same guid as the sender's, the same
# bytes (`tarn volume read | md5sum`) and the same referenced (same data, same compression); that
# the received head reads as its newest snapshot; and the ZFS space relations on the whole backup
# pool (used = usedsnap + usedds + usedrefreserv + usedchild for every dataset, the root's
# usedchild = the sum of its children's used, usedsnap >= the sum of the snapshots' used). Where
# the backup holds exactly the sender's snapshots, the snapshots' used and the heads' space
# (usedbysnapshots, usedbydataset, usedbyrefreservation) must be equal too.
#
# Cases: full; -i @a; -i pool/ds@b; -i pool/ds#bookmark after the snapshot is gone; -I (every
# intermediate arrives); an incremental into a target modified since its snapshot (refused, then
# -F rolls the change back) and one with a newer snapshot (refused, -F destroys it); a wrong base;
# a full stream onto an existing dataset; receive -n; zeroed ranges, volsize shrink / grow / both
# across incrementals; -c with lz4 / zstd / off data; -p with -x and -o; received compression
# applies to the received data; -R full, -R -i, -R -I with a new child, -R -I -F pruning, of a
# container with two volumes and a nested container; -d and -e; a clone sent with -i origin; the
# blog's backup cycle (send -Ri, receive -Fu, destroy the old snapshot) three times; `send -nvP`
# (last line size<TAB>bytes) = the real stream size for every kind of stream; send to a terminal.
# ~15 s (smaller data under TARN_SANITIZED=1).
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/fault.sh
. "$(dirname "$0")/../lib/fault.sh"

MiB=1048576
if [ "$TARN_SANITIZED" = 1 ]; then BLOG=16 PATCH=2; else BLOG=48 PATCH=4; fi   # MiB

t_ok "zpool create sp (1G file)" zpool create sp "$(mkvdev sp.img 1G)"
t_ok "zpool create bp (1G file)" zpool create bp "$(mkvdev bp.img 1G)"

# ---- helpers ------------------------------------------------------------------------------
vmd5()  { tarn volume read "$1" 2>/dev/null | md5sum | cut -d' ' -f1; }
prop()  { zfs get -Hp -o value "$2" "$1" 2>/dev/null; }
snaps() { zfs list -H -o name -t snapshot "$1" 2>/dev/null | sed 's/.*@//' | paste -sd' '; }
# rnd_at DS OFF LEN / zero_at DS OFF LEN / comp_at DS OFF LEN: write random, zero, compressible bytes
rnd_at()  { head -c "$3" /dev/urandom | tarn volume write "$1" --offset "$2"; }
zero_at() { head -c "$3" /dev/zero | tarn volume write "$1" --offset "$2"; }
comp_at() { gen_compressible "$T/comp.tmp" "$3" && tarn volume write "$1" --offset "$2" <"$T/comp.tmp"; }
# text_at DS OFF LEN: random hex text (zstd's entropy coding shrinks it by ~1/3, lz4 not at all)
text_at() { head -c $(($3 / 2)) /dev/urandom | xxd -p | tr -d '\n' | tarn volume write "$1" --offset "$2"; }
# state POOL: everything a receive could change (names, guids, space) and every volume's bytes
state() {
  local n
  zfs list -Hp -t all -o name,guid,used,referenced -r "$1"
  for n in $(zfs list -H -o name -t volume -r "$1"); do printf '%s %s\n' "$n" "$(vmd5 "$n")"; done
}
# send_to NAME SENDARGS...: zfs send into $T/NAME.s
send_to() { local f=$T/$1.s; shift; zfs send "$@" >"$f"; }
# recv_from NAME RECVARGS...: zfs receive from $T/NAME.s
recv_from() { local f=$T/$1.s; shift; zfs receive "$@" <"$f"; }

# acct POOL: the space relations on every dataset of POOL (records problems)
acct() {
  local n u us ud ur uc sum=0 root_uc= ssum
  declare -A snapsum=()
  while IFS=$'\t' read -r n u; do
    snapsum[${n%@*}]=$(( ${snapsum[${n%@*}]:-0} + u ))
  done < <(zfs list -Hp -t snapshot -o name,used -r "$1" 2>/dev/null)
  while IFS=$'\t' read -r n u us ud ur uc; do
    [ "$u" = $((us + ud + ur + uc)) ] ||
      prob "$n: used $u != usedsnap $us + usedds $ud + usedrefreserv $ur + usedchild $uc"
    [ "$n" = "$1" ] && root_uc=$uc
    case $n in */*/*) ;; */*) sum=$((sum + u)) ;; esac
    ssum=${snapsum[$n]:-0}
    [ "$us" -ge "$ssum" ] || prob "$n: usedsnap $us < sum of its snapshots' used $ssum"
  done < <(zfs list -Hp -r -o name,used,usedbysnapshots,usedbydataset,usedbyrefreservation,usedbychildren "$1")
  [ "$root_uc" = "$sum" ] || prob "$1: usedchild ${root_uc:-?} != sum of its children's used $sum"
}

# snaptab DS: "SNAP GUID REFERENCED USED" for every snapshot of DS (one zfs get)
snaptab() {
  zfs get -Hp -o name,property,value -t snapshot -d 1 guid,referenced,used "$1" 2>/dev/null |
    awk -F'\t' -v ds="$1" 'index($1, ds "@") == 1 {
        s = substr($1, length(ds) + 2); if (!(s in seen)) { seen[s] = 1; order[++n] = s }; v[s, $2] = $3 }
      END { for (i = 1; i <= n; i++) { s = order[i]; print s, v[s, "guid"], v[s, "referenced"], v[s, "used"] } }'
}
# field TAB SNAP N: field N of SNAP's line in a snaptab
field() { awk -v s="$2" -v f="$3" '$1 == s { print $f }' <<<"$1"; }

# check_recv DESC SRC DST "SNAPS" ["CMP"] [nospace|mirror]: one TAP line. DST has exactly the
# snapshots SNAPS (short names, oldest first); those in CMP (default SNAPS) have SRC's guid,
# bytes and referenced (not with nospace); DST's head reads as its newest snapshot and has SRC's
# volsize; the space relations hold on DST's pool. mirror: SRC has exactly these snapshots too,
# so every snapshot's used and the heads' usedsnap, usedds and usedrefreserv must be equal too.
# near A B: equal within 16 KiB. Data blocks are identical on both sides, but the indirect
# blocks above them hold each pool's own addresses and birth txgs, so their compressed (and
# allocated) sizes may differ by a sector or a few.
near() { [ -n "$1" ] && [ -n "$2" ] && [ $(($1 > $2 ? $1 - $2 : $2 - $1)) -le 16384 ]; }
# space_near "p1 v1 p2 v2 ..." "same with other values": the same properties, values near
space_near() {
  local -a x=($1) y=($2) i
  [ ${#x[@]} = ${#y[@]} ] || return 1
  for ((i = 0; i < ${#x[@]}; i += 2)); do
    [ "${x[i]}" = "${y[i]}" ] && near "${x[i + 1]}" "${y[i + 1]}" || return 1
  done
}
check_recv() {
  local desc=$1 s=$2 d=$3 want=$4 cmp=${5:-$4} opt=${6:-} got sn last stab dtab a b type lastmd5=
  got=$(snaps "$d")
  [ "$got" = "$want" ] || prob "$d has snapshots '$got', want '$want'"
  stab=$(snaptab "$s") dtab=$(snaptab "$d") type=$(prop "$s" type)
  last=${want##* }
  for sn in $cmp; do
    a=$(field "$stab" "$sn" 2) b=$(field "$dtab" "$sn" 2)
    [ -n "$a" ] && [ "$a" = "$b" ] || prob "$d@$sn: guid '$b', $s@$sn has '$a'"
    if [ "$type" = volume ]; then
      a=$(vmd5 "$s@$sn") b=$(vmd5 "$d@$sn")
      [ "$a" = "$b" ] || prob "$d@$sn: bytes differ from $s@$sn (md5 $b, want $a)"
      [ "$sn" = "$last" ] && lastmd5=$b
    fi
    if [ "$opt" != nospace ]; then
      a=$(field "$stab" "$sn" 3) b=$(field "$dtab" "$sn" 3)
      near "$a" "$b" || prob "$d@$sn: referenced $b, $s@$sn has $a"
    fi
  done
  if [ "$type" = volume ]; then
    [ -n "$lastmd5" ] || lastmd5=$(vmd5 "$d@$last")
    [ "$(vmd5 "$d")" = "$lastmd5" ] || prob "$d: head does not read as $d@$last"
    a=$(prop "$s@$last" volsize) b=$(prop "$d" volsize)
    [ "$a" = "$b" ] || prob "$d: volsize $b, $s@$last has $a"
  fi
  if [ "$opt" = mirror ]; then
    [ "$(snaps "$s")" = "$want" ] || prob "(test) $s has snapshots '$(snaps "$s")', not '$want'"
    for sn in $want; do
      a=$(field "$stab" "$sn" 4) b=$(field "$dtab" "$sn" 4)
      near "$a" "$b" || prob "$d@$sn: used $b, $s@$sn has $a"
    done
    a=$(zfs get -Hp -o property,value usedbysnapshots,usedbydataset,usedbyrefreservation "$s" | paste -sd' ')
    b=$(zfs get -Hp -o property,value usedbysnapshots,usedbydataset,usedbyrefreservation "$d" | paste -sd' ')
    space_near "$a" "$b" || prob "$d: space '$b', $s has '$a'"
  fi
  acct "${d%%/*}"
  t_check "$desc"
}

# sized DESC SENDARGS...: the last line of `send -nvP ARGS` is size<TAB>N and N is the exact
# size of `send ARGS`
sized() {
  local desc=$1 est real; shift
  est=$(zfs send -nvP "$@" | tail -n 1)
  real=$(zfs send "$@" | wc -c)
  t_eq "send -nvP = real size: $desc" "$est" "$(printf 'size\t%s' "$real")"
}

# unchanged DESC POOL BEFORE: the pool's state is BEFORE (from `state POOL`)
unchanged() { t_eq "$1" "$(state "$2")" "$3"; }

# ---- full and incrementals of one volume -----------------------------------------------------
t_ok "create sp/vm (8M, 16K blocks)" zfs create -V 8M -b 16K sp/vm
t_ok "write 3M" rnd_at sp/vm 0 $((3 * MiB))
t_ok "snapshot @a" zfs snapshot sp/vm@a
t_ok "send sp/vm@a (full)" send_to full sp/vm@a
t_ok "receive bp/vm (full)" recv_from full bp/vm
check_recv "full: bp/vm@a is sp/vm@a" sp/vm bp/vm "a"
t_eq "full: no properties travel without -p (refreservation)" "$(zfs get -H -o value,source refreservation bp/vm)" $'none\tdefault'
sized "full" sp/vm@a

t_ok "write 256K at 1M, zero 512K at 2M (holes)" eval 'rnd_at sp/vm $((1 * MiB)) 262144 && zero_at sp/vm $((2 * MiB)) 524288'
t_ok "snapshot @b" zfs snapshot sp/vm@b
t_ok "send -i @a sp/vm@b" send_to ib -i @a sp/vm@b
t_ok "receive the incremental (target's newest snapshot matches, no -F)" recv_from ib bp/vm
check_recv "-i @a: a b" sp/vm bp/vm "a b"
sized "-i @a" -i @a sp/vm@b

t_ok "write 64K at 5M, snapshot @c" eval 'rnd_at sp/vm $((5 * MiB)) 65536 && zfs snapshot sp/vm@c'
t_ok "send -i sp/vm@b sp/vm@c | receive" eval 'zfs send -i sp/vm@b sp/vm@c | zfs receive bp/vm'
check_recv "-i pool/ds@b: a b c" sp/vm bp/vm "a b c"
sized "-i pool/ds@b" -i sp/vm@b sp/vm@c

# bookmark as the source after the snapshot is destroyed on the sender
t_ok "bookmark sp/vm@c sp/vm#c" zfs bookmark sp/vm@c sp/vm#c
guid_c=$(prop sp/vm@c guid) md5_c=$(vmd5 sp/vm@c)
t_ok "write 64K at 6M, snapshot @d, destroy @c" \
  eval 'rnd_at sp/vm $((6 * MiB)) 65536 && zfs snapshot sp/vm@d && zfs destroy sp/vm@c'
sized "-i pool/ds#bookmark" -i sp/vm#c sp/vm@d
t_ok "send -i sp/vm#c sp/vm@d | receive" eval 'zfs send -i sp/vm#c sp/vm@d | zfs receive bp/vm'
check_recv "-i bookmark: a b c d" sp/vm bp/vm "a b c d" "a b d"
t_eq "bp/vm@c kept its guid and bytes" "$(prop bp/vm@c guid) $(vmd5 bp/vm@c)" "$guid_c $md5_c"

# -I: every intermediate arrives
for s in e f g; do
  t_ok "write 32K, snapshot @$s" eval "rnd_at sp/vm \$((RANDOM % 256 * 32768)) 32768 && zfs snapshot sp/vm@$s"
done
sized "-I @d" -I @d sp/vm@g
t_ok "send -I @d sp/vm@g | receive" eval 'zfs send -I @d sp/vm@g | zfs receive bp/vm'
check_recv "-I @d: every intermediate (e f g)" sp/vm bp/vm "a b c d e f g" "a b d e f g"
if [ "$(snaps bp/vm)" != "a b c d e f g" ]; then   # so that what follows tests what it says
  t_diag "(bp/vm lacks some of e f g: receiving them one by one with -i)"
  for s in d:e e:f f:g; do zfs send -i "@${s%:*}" "sp/vm@${s#*:}" 2>/dev/null | zfs receive bp/vm >/dev/null 2>&1; done
fi

# ---- refusals: modified target, newer snapshot, wrong base, full onto existing ----------------
t_ok "modify bp/vm's head (64K at 7M)" rnd_at bp/vm $((7 * MiB)) 65536
t_ok "write, snapshot sp/vm@h, send -i @g" eval 'rnd_at sp/vm 0 65536 && zfs snapshot sp/vm@h && send_to ih -i @g sp/vm@h'
before=$(state bp)
t_fail_with "incremental into a modified target is refused" 1 "has been modified" recv_from ih bp/vm
t_match "... with a one-line-per-fact message" "$T_ERR" "^cannot receive: destination bp/vm has been modified$"
unchanged "... and changes nothing" bp "$before"
t_ok "with -F it is accepted" recv_from ih -F bp/vm
check_recv "-F: the change is rolled back, @h arrived" sp/vm bp/vm "a b c d e f g h" "a b d e f g h"

t_ok "snapshot bp/vm@extra (newer than the stream's source)" zfs snapshot bp/vm@extra
t_ok "snapshot sp/vm@i, send -i @h" eval 'rnd_at sp/vm 65536 65536 && zfs snapshot sp/vm@i && send_to ii -i @h sp/vm@i'
before=$(state bp)
t_fail_with "incremental onto a target with a newer snapshot is refused" 1 "has been modified" recv_from ii bp/vm
unchanged "... and changes nothing" bp "$before"
t_ok "with -F it is accepted" recv_from ii -F bp/vm
check_recv "-F: @extra destroyed, @i arrived" sp/vm bp/vm "a b c d e f g h i" "a b d e f g h i"

t_ok "snapshots sp/vm@j, @k (bp/vm never gets @j)" eval 'zfs snapshot sp/vm@j && rnd_at sp/vm 0 4096 && zfs snapshot sp/vm@k'
before=$(state bp)
t_fail_with "wrong base: refused" 1 $'does not\nmatch incremental source' eval 'zfs send -i @j sp/vm@k | zfs receive bp/vm'
unchanged "... and changes nothing" bp "$before"
t_fail_with "wrong base with -F: refused too" 1 "match incremental source" eval 'zfs send -i @j sp/vm@k | zfs receive -F bp/vm'
unchanged "... and changes nothing" bp "$before"

t_fail_with "full stream onto an existing dataset without -F" 1 "exists" recv_from full bp/vm
t_match "... says: must specify -F" "$T_ERR" "must specify -F"
unchanged "... and changes nothing" bp "$before"
t_fail_with "full stream with -F onto a dataset with snapshots" 1 "destination has snapshots" recv_from full -F bp/vm
unchanged "... and changes nothing" bp "$before"
t_ok "create bp/plain (8M, 16K blocks, no snapshots) with junk" \
  eval 'zfs create -V 8M -b 16K bp/plain && rnd_at bp/plain 0 $((4 * MiB))'
t_ok "full stream with -F replaces a dataset without snapshots" recv_from full -F bp/plain
check_recv "-F full: bp/plain is sp/vm@a" sp/vm bp/plain "a"

# ---- receive -n changes nothing ----------------------------------------------------------------
before=$(state bp)
t_ok "receive -n of a full stream into a new name" recv_from full -n bp/nn
t_ok "receive -n of an incremental" eval 'zfs send -i @i sp/vm@k | zfs receive -n bp/vm'
unchanged "receive -n changed nothing" bp "$before"
t_ok "modify bp/plain" rnd_at bp/plain 0 4096
before=$(state bp)
t_ok "receive -n -F of an incremental onto a modified target" eval 'zfs send -i @a sp/vm@b | zfs receive -n -F bp/plain'
unchanged "receive -n -F changed nothing" bp "$before"

# ---- holes: zeroed ranges, volsize shrink / grow ---------------------------------------------
t_ok "create sp/hv (4M, 4K blocks, sparse), fill it, @h1" \
  eval 'zfs create -s -V 4M -b 4K sp/hv && rnd_at sp/hv 0 $((4 * MiB)) && zfs snapshot sp/hv@h1'
t_ok "full send to bp/hv" eval 'zfs send sp/hv@h1 | zfs receive bp/hv'
t_ok "zero 1M at 1M, 4K at 3M; @h2" eval 'zero_at sp/hv $MiB $MiB && zero_at sp/hv $((3 * MiB)) 4096 && zfs snapshot sp/hv@h2'
t_ok "send -i @h1 @h2 | receive" eval 'zfs send -i @h1 sp/hv@h2 | zfs receive bp/hv'
check_recv "zeroed ranges arrive as holes" sp/hv bp/hv "h1 h2"
t_ok "volsize=2M; @h3" eval 'zfs set volsize=2M sp/hv && zfs snapshot sp/hv@h3'
t_ok "send -i @h2 @h3 | receive" eval 'zfs send -i @h2 sp/hv@h3 | zfs receive bp/hv'
check_recv "volsize shrink arrives" sp/hv bp/hv "h1 h2 h3"
t_ok "volsize=6M, 4K at 5M; @h4" eval 'zfs set volsize=6M sp/hv && rnd_at sp/hv $((5 * MiB)) 4096 && zfs snapshot sp/hv@h4'
t_ok "send -i @h3 @h4 | receive" eval 'zfs send -i @h3 sp/hv@h4 | zfs receive bp/hv'
check_recv "volsize grow arrives (2M..5M reads zeros)" sp/hv bp/hv "h1 h2 h3 h4"
t_eq "bp/hv 2M..5M is zeros" "$(tarn volume read bp/hv --offset 2M --length 3M | md5sum)" "$(head -c $((3 * MiB)) /dev/zero | md5sum)"
t_ok "volsize=1M then 6M in one incremental; @h5" eval 'zfs set volsize=1M sp/hv && zfs set volsize=6M sp/hv && zfs snapshot sp/hv@h5'
sized "shrink+grow incremental" -i @h4 sp/hv@h5
t_ok "send -i @h4 @h5 | receive" eval 'zfs send -i @h4 sp/hv@h5 | zfs receive bp/hv'
check_recv "shrink then grow in one incremental: the old data does not come back" sp/hv bp/hv "h1 h2 h3 h4 h5" "" mirror

# ---- -c: blocks as stored -------------------------------------------------------------------
for c in lz4 zstd off; do
  t_ok "[$c] create sp/c$c, 2M compressible data, 2M hex text, @a" \
    eval "zfs create -s -V 8M -o compression=$c sp/c$c && comp_at sp/c$c 0 \$((2 * MiB)) &&
          text_at sp/c$c \$((2 * MiB)) \$((2 * MiB)) && zfs snapshot sp/c$c@a"
  sized "-c full ($c)" -c sp/c$c@a
  t_ok "[$c] send -c sp/c$c@a" send_to c$c -c sp/c$c@a
  t_ok "[$c] send sp/c$c@a (not -c)" send_to p$c sp/c$c@a
  cs=$(stat -c %s "$T/c$c.s") ps=$(stat -c %s "$T/p$c.s")
  if [ $c = off ]; then
    t_eq "[$c] -c of uncompressed blocks: the same size" "$cs" "$ps"
  else
    t_ok "[$c] -c stream ($cs) is under 2/3 of the plain one ($ps)" test $((cs * 3)) -lt $((ps * 2))
    # OpenZFS writes a -c stream's compressed blocks as they are (the sender's algorithm): the
    # received zstd blocks must not be re-compressed with the receiver's default lz4
  fi
  t_ok "[$c] receive the -c stream" recv_from c$c bp/c$c
  # (-c of uncompressed blocks sends them uncompressed: the receiver compresses them with its own
  # compression, here the default lz4, as OpenZFS does: no space comparison for "off")
  [ $c = off ] && sp=nospace || sp=mirror
  check_recv "[$c] -c full" sp/c$c bp/c$c "a" "a" $sp
  t_ok "[$c] 1M more, @b, send -c -i @a | receive" \
    eval "comp_at sp/c$c \$((4 * MiB)) \$MiB && zfs snapshot sp/c$c@b && zfs send -c -i @a sp/c$c@b | zfs receive bp/c$c"
  check_recv "[$c] -c incremental" sp/c$c bp/c$c "a b" "a b" $sp
  sized "-c incremental ($c)" -c -i @a sp/c$c@b
done

# ---- -p: properties as received; -x; -o ------------------------------------------------------
t_ok "create sp/pv (4M thick, compression=lz4, user:tag=blue), 2M compressible, @a" \
  eval 'zfs create -V 4M -o compression=lz4 -o user:tag=blue sp/pv && comp_at sp/pv 0 $((2 * MiB)) && zfs snapshot sp/pv@a'
refres=$(prop sp/pv refreservation)
sized "-p" -p sp/pv@a
t_ok "send -p sp/pv@a" send_to pv -p sp/pv@a
t_ok "receive bp/pv1" recv_from pv bp/pv1
t_eq "-p: refreservation, compression, user:tag arrive as received" \
  "$(zfs get -Hp -o property,value,source refreservation,compression,user:tag bp/pv1)" \
  "$(printf 'refreservation\t%s\treceived\ncompression\tlz4\treceived\nuser:tag\tblue\treceived' "$refres")"
check_recv "-p: bp/pv1 is sp/pv (space too: the same refreservation)" sp/pv bp/pv1 "a" "a" mirror
t_eq "-p: usedrefreserv = refreservation (nothing written since @a)" "$(prop bp/pv1 usedbyrefreservation)" "$refres"
t_ok "receive -x compression bp/pv2" recv_from pv -x compression bp/pv2
t_eq "-x compression: compression is not received; the others are" \
  "$(zfs get -Hp -o property,value,source refreservation,compression,user:tag bp/pv2)" \
  "$(printf 'refreservation\t%s\treceived\ncompression\ton\tdefault\nuser:tag\tblue\treceived' "$refres")"
t_ok "receive -o compression=zstd bp/pv3" recv_from pv -o compression=zstd bp/pv3
t_eq "-o compression=zstd: set locally; the others received" \
  "$(zfs get -Hp -o property,value,source refreservation,compression,user:tag bp/pv3)" \
  "$(printf 'refreservation\t%s\treceived\ncompression\tzstd\tlocal\nuser:tag\tblue\treceived' "$refres")"
acct bp; t_check "space relations on bp after -p/-x/-o"
t_ok "zfs set refreservation=none bp/pv1" zfs set refreservation=none bp/pv1
t_eq "... now local; usedrefreserv 0" "$(zfs get -H -o value,source refreservation bp/pv1) $(prop bp/pv1 usedbyrefreservation)" $'none\tlocal 0'

# OpenZFS sets the received properties before it writes the data ("so that they are applied to
# the new data", zfs_ioc_recv_impl): received / -o compression decides how the data is stored.
t_ok "create sp/pc (compression=off), 2M compressible, @a" \
  eval 'zfs create -s -V 4M -o compression=off sp/pc && comp_at sp/pc 0 $((2 * MiB)) && zfs snapshot sp/pc@a'
t_ok "send -p sp/pc@a | receive bp/pc (compression=off received)" eval 'zfs send -p sp/pc@a | zfs receive bp/pc'
t_eq "received compression=off applies to the received data (referenced = the sender's)" \
  "$(prop bp/pc referenced) $(prop bp/pc compressratio)" "$(prop sp/pc referenced) $(prop sp/pc compressratio)"
t_ok "send sp/pc@a | receive -o compression=off bp/pc2" eval 'zfs send sp/pc@a | zfs receive -o compression=off bp/pc2'
t_eq "-o compression=off applies to the received data" \
  "$(prop bp/pc2 referenced) $(prop bp/pc2 compressratio)" "$(prop sp/pc referenced) $(prop sp/pc compressratio)"
# an incremental's data is written with the target's compression (here off, set locally)
t_ok "sp/pc: 1M more compressible data, @b" eval 'comp_at sp/pc $((2 * MiB)) $MiB && zfs snapshot sp/pc@b'
t_ok "zfs set compression=off bp/pc2 (local); send -i @a @b | receive bp/pc2" \
  eval 'zfs set compression=off bp/pc2 && zfs send -i @a sp/pc@b | zfs receive bp/pc2'
t_eq "an incremental's data is written with the target's compression=off" \
  "$(prop bp/pc2@b written) $(prop bp/pc2 compressratio)" "$(prop sp/pc@b written) $(prop sp/pc compressratio)"

# ---- -R: a container with two volumes and a nested container ---------------------------------
t_ok "create sp/ct (user:ct=top), sp/ct/v1 (4M thick, lz4, user:tag=v1), sp/ct/v2, sp/ct/sub, sp/ct/sub/v3" \
  eval 'zfs create -o user:ct=top sp/ct && zfs create -V 4M -o compression=lz4 -o user:tag=v1 sp/ct/v1 &&
        zfs create -s -V 4M sp/ct/v2 && zfs create sp/ct/sub && zfs create -s -V 4M -b 8K sp/ct/sub/v3'
t_ok "write data into the three volumes" \
  eval 'comp_at sp/ct/v1 0 $MiB && rnd_at sp/ct/v2 $MiB $MiB && rnd_at sp/ct/sub/v3 0 $((3 * MiB))'
t_ok "snapshot -r sp/ct@r1" zfs snapshot -r sp/ct@r1
CT="ct ct/v1 ct/v2 ct/sub ct/sub/v3"
sized "-R full" -R sp/ct@r1
t_ok "send -R sp/ct@r1 | receive bp/ct" eval 'zfs send -R sp/ct@r1 | zfs receive -u bp/ct'
for ds in $CT; do check_recv "-R full: bp/$ds" "sp/$ds" "bp/${ds}" "r1" "r1" mirror; done
t_eq "-R: properties received (v1)" \
  "$(zfs get -Hp -o property,value,source refreservation,compression,user:tag bp/ct/v1)" \
  "$(printf 'refreservation\t%s\treceived\ncompression\tlz4\treceived\nuser:tag\tv1\treceived' "$(prop sp/ct/v1 refreservation)")"
t_eq "-R: properties received (the container)" "$(zfs get -H -o value,source user:ct bp/ct)" $'top\treceived'
t_eq "-R: a sparse volume stays sparse" "$(zfs get -H -o value,source refreservation bp/ct/v2)" $'none\tdefault'

t_ok "modify v1, v3; snapshot -r @r2" \
  eval 'rnd_at sp/ct/v1 $((2 * MiB)) 65536 && zero_at sp/ct/sub/v3 0 $MiB && zfs snapshot -r sp/ct@r2'
sized "-R -i" -R -i @r1 sp/ct@r2
t_ok "send -R -i @r1 sp/ct@r2 | receive bp/ct" eval 'zfs send -R -i @r1 sp/ct@r2 | zfs receive -u bp/ct'
for ds in $CT; do check_recv "-R -i: bp/$ds" "sp/$ds" "bp/$ds" "r1 r2" "r1 r2" mirror; done

t_ok "modify v2, create sp/ct/v4, snapshot -r @r3; modify v4, v1; snapshot -r @r4" \
  eval 'rnd_at sp/ct/v2 0 65536 && zfs create -s -V 2M sp/ct/v4 && rnd_at sp/ct/v4 0 65536 && zfs snapshot -r sp/ct@r3 &&
        rnd_at sp/ct/v4 $MiB 65536 && rnd_at sp/ct/v1 0 4096 && zfs snapshot -r sp/ct@r4'
sized "-R -I" -R -I @r2 sp/ct@r4
t_ok "send -R -I @r2 sp/ct@r4 | receive bp/ct" eval 'zfs send -R -I @r2 sp/ct@r4 | zfs receive -u bp/ct'
for ds in $CT; do check_recv "-R -I: bp/$ds (r3 r4 arrive)" "sp/$ds" "bp/$ds" "r1 r2 r3 r4" "r1 r2 r3 r4" mirror; done
check_recv "-R -I: the new child bp/ct/v4 arrives with its snapshots" sp/ct/v4 bp/ct/v4 "r3 r4" "r3 r4" mirror

t_ok "destroy -r sp/ct@r1; snapshot -r @r5" eval 'zfs destroy -r sp/ct@r1 && zfs snapshot -r sp/ct@r5'
t_ok "send -R -I @r4 sp/ct@r5 | receive -F bp/ct (prunes @r1)" eval 'zfs send -R -I @r4 sp/ct@r5 | zfs receive -Fu bp/ct'
for ds in $CT; do check_recv "-R -F: bp/$ds mirrors sp/$ds" "sp/$ds" "bp/$ds" "r2 r3 r4 r5" "r2 r3 r4 r5" mirror; done
t_ok "modify v2; snapshot -r @r6" eval 'rnd_at sp/ct/v2 $MiB 4096 && zfs snapshot -r sp/ct@r6'
before=$(state bp)
t_ok "receive -n of an incremental -R package" eval 'zfs send -R -I @r5 sp/ct@r6 | zfs receive -n bp/ct'
t_ok "receive -n of a full -R package (4 snapshots each) into a new name" eval 'zfs send -R sp/ct@r6 | zfs receive -n bp/ctn'
unchanged "... they change nothing" bp "$before"
# zfs-receive(8) -F: "If receiving an incremental replication stream (for example, one generated
# by zfs send -R [-i|-I]), destroy snapshots and file systems that do not exist on the sending side."
t_ok "send -R -I @r5 sp/ct@r6 | receive bp/ct" eval 'zfs send -R -I @r5 sp/ct@r6 | zfs receive -u bp/ct'
t_ok "zfs destroy -r sp/ct/v4; snapshot -r @r7" eval 'zfs destroy -r sp/ct/v4 && zfs snapshot -r sp/ct@r7'
t_ok "send -R -I @r6 sp/ct@r7 | receive -F bp/ct" eval 'zfs send -R -I @r6 sp/ct@r7 | zfs receive -Fu bp/ct'
t_eq "-R -F: bp/ct/v4, gone on the sender, is destroyed" "$(zfs list -H -o name -r bp/ct)" "$(zfs list -H -o name -r sp/ct | sed 's|^sp/|bp/|')"
for ds in $CT; do check_recv "-R -F: bp/$ds mirrors sp/$ds (r2..r7)" "sp/$ds" "bp/$ds" "r2 r3 r4 r5 r6 r7" "r2 r3 r4 r5 r6 r7" mirror; done

# ---- -d and -e -------------------------------------------------------------------------------
t_ok "create bp/dd, bp/ee" eval 'zfs create bp/dd && zfs create bp/ee'
t_ok "send sp/vm@a | receive -d bp/dd" eval 'zfs send sp/vm@a | zfs receive -d bp/dd'
check_recv "-d: sp/vm -> bp/dd/vm" sp/vm bp/dd/vm "a"
# zfs-receive(8): "all but the first element of the sent snapshot's file system path (usually the
# pool name) is used and any required intermediate file systems within the specified one are created"
t_ok "send sp/ct/sub/v3@r2 | receive -d bp/dd (creates bp/dd/ct/sub)" eval 'zfs send sp/ct/sub/v3@r2 | zfs receive -d bp/dd'
check_recv "-d: sp/ct/sub/v3 -> bp/dd/ct/sub/v3" sp/ct/sub/v3 bp/dd/ct/sub/v3 "r2"
t_ok "send sp/ct/sub/v3@r2 | receive -e bp/ee" eval 'zfs send sp/ct/sub/v3@r2 | zfs receive -e bp/ee'
check_recv "-e: sp/ct/sub/v3 -> bp/ee/v3" sp/ct/sub/v3 bp/ee/v3 "r2"

# ---- a clone, sent incrementally from its origin -----------------------------------------------
t_ok "zfs clone sp/vm@b sp/cl; write; snapshot sp/cl@c1" \
  eval 'zfs clone sp/vm@b sp/cl && rnd_at sp/cl $((4 * MiB)) 65536 && zfs snapshot sp/cl@c1'
sized "clone -i origin" -i sp/vm@b sp/cl@c1
t_ok "send -i sp/vm@b sp/cl@c1 | receive bp/cl (a clone of bp/vm@b)" eval 'zfs send -i sp/vm@b sp/cl@c1 | zfs receive bp/cl'
check_recv "clone: bp/cl@c1 is sp/cl@c1" sp/cl bp/cl "c1"
t_eq "clone: bp/cl's origin is bp/vm@b" "$(zfs get -H -o value origin bp/cl 2>&1)" "bp/vm@b"

# ---- the blog's backup cycle -----------------------------------------------------------------
t_ok "create sp/blog (64M thick), ${BLOG}M of data, @s0" \
  eval 'zfs create -V 64M sp/blog && rnd_at sp/blog 0 $((BLOG * MiB)) && zfs snapshot sp/blog@s0'
sized "-R (blog)" -R sp/blog@s0
t_ok "send -R sp/blog@s0 | receive -Fu bp/backup" eval 'zfs send -R sp/blog@s0 | zfs receive -Fu bp/backup'
check_recv "blog: initial backup" sp/blog bp/backup "s0" "s0" mirror
t_eq "blog: refreservation received" "$(zfs get -Hp -o value,source refreservation bp/backup)" "$(prop sp/blog refreservation)"$'\treceived'
t_eq "blog: used = usedds + refreservation (the blog's 503M)" "$(prop bp/backup used)" \
  "$(($(prop bp/backup usedbydataset) + $(prop bp/backup refreservation)))"
for i in 1 2 3; do
  p=$((i - 1))
  t_ok "[cycle $i] overwrite ${PATCH}M, snapshot @s$i" \
    eval "rnd_at sp/blog \$((i * PATCH * MiB)) \$((PATCH * MiB)) && zfs snapshot sp/blog@s$i"
  sized "-Ri (cycle $i)" -R -i "sp/blog@s$p" "sp/blog@s$i"
  t_ok "[cycle $i] send -Ri @s$p @s$i | receive -Fu bp/backup" \
    eval "zfs send -R -i sp/blog@s$p sp/blog@s$i | zfs receive -Fu bp/backup"
  check_recv "[cycle $i] backup mirrors sp/blog (s$p s$i)" sp/blog bp/backup "s$p s$i" "s$p s$i" mirror
  t_ok "[cycle $i] zfs destroy sp/blog@s$p" zfs destroy "sp/blog@s$p"
  check_recv "[cycle $i] after the destroy: backup still byte-identical" sp/blog bp/backup "s$p s$i" "s$i"
done

# ---- send to a terminal ---------------------------------------------------------------------
if command -v script >/dev/null 2>&1; then
  t_fail_with "send to a terminal is refused" 1 "can not be written to a terminal" \
    eval '(script -qec "$TARN zfs send sp/vm@a" /dev/null </dev/null >"$T/tty.out" 2>&1; rc=$?; cat "$T/tty.out" >&2; exit $rc)'
  t_ok "... and writes no stream bytes" eval '! grep -q TSR1 "$T/tty.out"'
else
  t_ok "# SKIP script(1) not available" true
fi

t_done
