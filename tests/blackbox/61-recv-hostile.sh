#!/usr/bin/env bash
# zfs receive of corrupt, truncated and hostile streams, and resumable receives (-s, -t, -A).
#
# Streams (tiny, so that every record can be visited): F, a full stream of a 64K volume with
# 4K blocks (BEGIN, 3 WRITE, END); I, an incremental (BEGIN, WRITE, FREE, END); P, a -R
# package of a container with a volume, two snapshots each (PKG_BEGIN, 4 substreams, PKG_END).
# Receive targets on pool bp: F into a new bp/f and with -F over bp/r (a volume without
# snapshots: the replace path); I onto bp/i (holds @a) and with -F onto bp/m (holds @a and a
# modified head: the rollback path); P into a new bp/p.
#
# 1. Corruption sweep: for every record, one byte flipped in its header (the field rotates with
#    the record) and one in its payload; and truncations at every record boundary, inside every
#    header and inside every payload. Each variant must exit 1 with one line of error that says
#    what is wrong (contains "stream", "checksum", "truncated" or "invalid"), print no sanitizer
#    report, and leave the pool exactly as before: `zfs list -Hp -t all -o
#    name,guid,used,referenced -r bp`, every volume's md5, and the space relations (a leftover
#    hidden partial dataset would still be charged to its parent). For P, each substream is its
#    own atomic step (as in OpenZFS): the pool must be exactly in the state the substreams before
#    the damaged record give, computed independently by receiving those substreams one by one.
# 2. Hostile streams with a valid running checksum (edited by tests/lib/streamedit.py, re-sealed
#    by tests/lib/streamtool.c): writes beyond volsize, unaligned, of absurd lengths, with bad
#    compression; frees past the end; records out of order or repeated; unknown or misplaced
#    record types; END mismatches; BEGIN with a newer version, unknown feature bits, bad types and
#    sizes, guids, names with /../ or %, over-long names and properties; -R packages whose paths
#    escape the target or leave the package. Each is refused with a clear error and no change.
# 3. Resumable receive: a 40M full stream cut after 12M with TARN_DIRTY_MAX=4 MiB leaves a
#    receive_resume_token; `zfs send -t` resumes it (byte-identical, guid kept; -nvP exact);
#    a second interrupted receive (an incremental) is discarded by `zfs receive -A` (token back
#    to -, the pool as before); a receive without the token into a target with partial state
#    fails with "contains partially-complete state"; a `receive -s` killed (SIGKILL) after some
#    MiB still leaves a token that resumes.
# ~40 s (fewer variants and a 16M volume under TARN_SANITIZED=1). TEST_SEED repeats the choices.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/fault.sh
. "$(dirname "$0")/../lib/fault.sh"

MiB=1048576
STREAMTOOL=$T/streamtool
# shellcheck disable=SC2046
${CC:-cc} -O2 -o "$STREAMTOOL" "$TARN_SRC/tests/lib/streamtool.c" \
  $(pkg-config --cflags --libs libxxhash 2>/dev/null || echo -lxxhash) >"$T/.st.log" 2>&1 ||
  t_skip_all "cannot build tests/lib/streamtool.c (needs cc and libxxhash)"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || t_skip_all "no python3"
SE=$TARN_SRC/tests/lib/streamedit.py
if [ "$TARN_SANITIZED" = 1 ]; then FULL=0 BIG=16; else FULL=1 BIG=40; fi
t_diag "seed $TEST_SEED (TEST_SEED=$TEST_SEED repeats the choices)"

t_ok "zpool create sp, bp (256M files)" \
  eval 'zpool create sp "$(mkvdev sp.img 256M)" && zpool create bp "$(mkvdev bp.img 256M)"'

# ---- helpers -----------------------------------------------------------------------------
vmd5() { tarn volume read "$1" 2>/dev/null | md5sum | cut -d' ' -f1; }
state() {
  local n
  zfs list -Hp -t all -o name,guid,used,referenced -r "$1"
  for n in $(zfs list -H -o name -t volume -r "$1"); do printf '%s %s\n' "$n" "$(vmd5 "$n")"; done
}
# nohead: the state without the guids of heads (a received head gets a new guid; snapshots keep theirs)
nohead() { awk -F'\t' -v OFS='\t' 'NF > 1 && $1 !~ /@/ { $2 = "-" } 1'; }
# acct POOL: used = the four parts for every dataset; the root's usedchild = its children's used
acct() {
  local n u us ud ur uc sum=0 root_uc=
  while IFS=$'\t' read -r n u us ud ur uc; do
    [ "$u" = $((us + ud + ur + uc)) ] || prob "$n: used $u != $us + $ud + $ur + $uc"
    [ "$n" = "$1" ] && root_uc=$uc
    case $n in */*/*) ;; */*) sum=$((sum + u)) ;; esac
  done < <(zfs list -Hp -r -o name,used,usedbysnapshots,usedbydataset,usedbyrefreservation,usedbychildren "$1")
  [ "$root_uc" = "$sum" ] || prob "$1: usedchild $root_uc != its children's used $sum (hidden datasets left?)"
}
# recs FILE: "OFFSET TYPE LEN" of every record
recs() { "$STREAMTOOL" dump "$1" | awk '{print $1, $2, $4}'; }
# flip FILE OFF: xor the byte at OFF with a random non-zero value
flip() {
  perl -e 'open(my $f, "+<", $ARGV[0]) or die; binmode $f; seek($f, $ARGV[1], 0); read($f, my $c, 1);
           seek($f, $ARGV[1], 0); print $f chr(ord($c) ^ $ARGV[2]); close $f' "$1" "$2" $((1 + $(rnd 255)))
}
# mk OUT IN OP ARGS...: OUT = IN edited by streamedit.py, re-sealed (a valid running checksum)
mk() { local out=$1 in=$2; shift 2; "$PY" "$SE" "$in" "$out" "$@" && "$STREAMTOOL" reseal "$out"; }
# mkraw OUT IN OP ARGS...: the same without re-sealing (for framing that cannot be re-sealed)
mkraw() { local out=$1 in=$2; shift 2; "$PY" "$SE" "$in" "$out" "$@"; }
rnd_at()  { head -c "$3" /dev/urandom | tarn volume write "$1" --offset "$2"; }
zero_at() { head -c "$3" /dev/zero | tarn volume write "$1" --offset "$2"; }

# ---- the streams and the targets ----------------------------------------------------------
t_ok "sp/v (64K, 4K blocks): 12K of data, @a; 4K rewritten, 4K zeroed, @b" \
  eval 'zfs create -s -V 64K -b 4K sp/v && rnd_at sp/v 0 12288 && zfs snapshot sp/v@a &&
        rnd_at sp/v 4096 4096 && zero_at sp/v 8192 4096 && zfs snapshot sp/v@b'
t_ok "sp/pk (container) and sp/pk/v (64K, 4K blocks); @1; change v; @2" \
  eval 'zfs create sp/pk && zfs create -s -V 64K -b 4K sp/pk/v && rnd_at sp/pk/v 0 12288 &&
        zfs snapshot -r sp/pk@1 && rnd_at sp/pk/v 4096 4096 && zero_at sp/pk/v 8192 4096 && zfs snapshot -r sp/pk@2'
t_ok "send the streams F, I, P" \
  eval 'zfs send sp/v@a >"$T/F" && zfs send -i @a sp/v@b >"$T/I" && zfs send -R sp/pk@2 >"$T/P"'
t_eq "F is BEGIN WRITE WRITE WRITE END" "$(recs "$T/F" | awk '{print $2}' | paste -sd' ')" "1 2 2 2 4"
t_eq "I is BEGIN WRITE FREE END" "$(recs "$T/I" | awk '{print $2}' | paste -sd' ')" "1 2 3 4"
t_eq "P is PKG_BEGIN, 4 substreams, PKG_END" "$(recs "$T/P" | awk '{print $2}' | paste -sd' ')" \
  "5 1 4 1 4 1 2 2 2 4 1 2 3 4 6"

# the targets: bp/i and bp/m hold @a (bp/m's head modified), bp/r has no snapshots; bp/dd, bp/ee
# for -d / -e
setup_targets() {
  zfs receive bp/i <"$T/F" && zfs receive bp/m <"$T/F" && rnd_at bp/m 0 4096 &&
    zfs create -s -V 64K -b 4K bp/r && rnd_at bp/r 0 8192 && zfs create bp/dd && zfs create bp/ee
}
t_ok "set up targets bp/i, bp/m, bp/r, bp/dd, bp/ee" setup_targets
# reset: back to the pristine targets (after a variant that changed something)
reset_targets() {
  local d
  for d in i m r f p dd ee; do zfs destroy -r "bp/$d" >/dev/null 2>&1; done
  setup_targets >/dev/null 2>&1
  BASE=$(state bp)
}

# P's prefix states: PFX[k] = the pool after the first k substreams, received one by one
declare -a PFX
BASE=$(state bp)
PFX[0]=$(nohead <<<"$BASE")
k=0
while IFS=$'\t' read -r kind a b _; do
  case $kind in
    full) args=(-p "$a") snap=$a ;;
    incremental) args=(-p -i "$a" "$b") snap=$b ;;
    *) continue ;;
  esac
  k=$((k + 1))
  ds=${snap%@*}
  zfs send "${args[@]}" | zfs receive "bp/p${ds#sp/pk}" >/dev/null || prob "prefix $k: cannot receive ${args[*]}"
  PFX[$k]=$(state bp | nohead)
done < <(zfs send -nvP -R sp/pk@2)
NSUB=$k
t_eq "P has 4 substreams" "$NSUB" 4
t_ok "the 4 substreams one by one make the same bp/p as P itself" \
  eval 'zfs destroy -r bp/p && zfs receive bp/p <"$T/P" && [ "$(state bp | nohead)" = "${PFX[4]}" ]'
t_ok "destroy bp/p" zfs destroy -r bp/p
t_eq "the pool is as before" "$(state bp)" "$BASE"
t_check "prefix states"

# try KIND FILE WANT_STATE WHAT [ERR]: receive FILE as KIND and check a clean refusal (records
# problems). KIND: F (into new bp/f), FF (-F over bp/r), I (onto bp/i), IF (-F onto bp/m),
# P (into new bp/p), D / E (-d bp/dd / -e bp/ee). ERR: a regex the error must match.
try() {
  local kind=$1 file=$2 want=$3 what=$4 err=${5:-stream|checksum|truncated|invalid} lines now
  NTRY=$((NTRY + 1))
  case $kind in
    F) x zfs receive bp/f <"$file" ;;
    FF) x zfs receive -F bp/r <"$file" ;;
    I) x zfs receive bp/i <"$file" ;;
    IF) x zfs receive -F bp/m <"$file" ;;
    P) x zfs receive bp/p <"$file" ;;
    D) x zfs receive -d bp/dd <"$file" ;;
    E) x zfs receive -e bp/ee <"$file" ;;
  esac
  lines=$(wc -l <"$X_ERR")
  if [ "$X_RC" != 1 ] || x_sanitizer; then
    prob "$what: $(x_desc) (want exit 1)"
  elif [ "$lines" != 1 ]; then
    prob "$what: $lines lines of error: $(head -c 300 "$X_ERR" | tr '\n' '|')"
  elif ! grep -qE "$err" "$X_ERR"; then
    prob "$what: the error does not say what is wrong (/$err/): $(x_errline)"
  fi
  now=$(state bp)
  acct bp
  [ "$kind" = P ] && now=$(nohead <<<"$now")
  if [ "$now" != "$want" ]; then
    prob "$what: the pool changed: $(diff <(printf '%s\n' "$want") <(printf '%s\n' "$now") | grep '^[<>]' | head -n 8 | tr '\n' '|')"
  fi
  if [ "$kind" = P ] && [ "$now" != "${PFX[0]}" ]; then
    zfs destroy -r bp/p >/dev/null 2>&1
    [ "$(state bp)" = "$BASE" ] || reset_targets
  elif [ "$now" != "$want" ]; then
    reset_targets
  fi
}

NTRY=0
# ---- 1. corruption sweep -------------------------------------------------------------------
FIELDS=("0 4 magic" "4 2 type" "6 2 flags" "8 8 len" "16 8 arg0" "24 8 arg1" "32 16 checksum")
# sweep NAME KINDS...: every record of stream NAME, against each target kind
sweep() {
  local name=$1 src=$T/$1 kinds=("${@:2}") size r=0 off typ len f fo fl fname tp nend want kind v
  size=$(stat -c %s "$src")
  local -a ends=()   # end offsets of END records (for the package prefix states)
  while read -r off typ len; do [ "$typ" = 4 ] && ends+=($((off + 48 + len))); done < <(recs "$src")
  while read -r off typ len; do
    # the package state for damage at offset $1: the substreams whose END ends at or before it
    nend=0; for e in "${ends[@]}"; do [ "$e" -le "$off" ] && nend=$((nend + 1)); done
    read -r fo fl fname <<<"${FIELDS[$(( (r + ${#name}) % 7 ))]}"
    v=$T/var
    for kind in "${kinds[@]}"; do
      [ "$kind" = P ] && want=${PFX[$nend]} || want=$BASE
      if [ "$FULL" = 1 ] || [ $((r % 2)) = 0 ] || [ "$len" = 0 ]; then
        cp "$src" "$v" && flip "$v" $((off + fo + $(rnd "$fl")))
        try "$kind" "$v" "$want" "$name record $r (type $typ) $fname byte flipped"
      fi
      if [ "$len" -gt 0 ] && { [ "$FULL" = 1 ] || [ $((r % 2)) = 1 ]; }; then
        cp "$src" "$v" && flip "$v" $((off + 48 + $(rnd "$len")))
        try "$kind" "$v" "$want" "$name record $r (type $typ) payload byte flipped"
      fi
      # cuts: at the record boundary, inside the header, inside the payload (sanitized: no header cut)
      local -a cuts=("$off" $((off + 1 + $(rnd 47))) $((off + 48 + $(rnd $((len + 1))))))
      [ "$FULL" = 1 ] || cuts=("${cuts[0]}" "${cuts[2]}")
      for tp in "${cuts[@]}"; do
        [ "$tp" -ge "$size" ] && continue
        local tn=0; for e in "${ends[@]}"; do [ "$e" -le "$tp" ] && tn=$((tn + 1)); done
        [ "$kind" = P ] && want=${PFX[$tn]} || want=$BASE
        head -c "$tp" "$src" >"$v"
        try "$kind" "$v" "$want" "$name truncated at byte $tp of $size (record $r)"
      done
    done
    t_check "$name record $r (type $typ, $len bytes of payload): flips and truncations refused, nothing changed (${kinds[*]})"
    r=$((r + 1))
  done < <(recs "$src")
}
if [ "$FULL" = 1 ]; then
  sweep F F FF
  sweep I I IF
else
  sweep F F
  sweep I I
fi
sweep P P

# ---- 2. hostile streams with a valid running checksum ---------------------------------------
# host DESC KIND[:BASE] ERR-REGEX OP ARGS...: make the variant of F/I/P (by KIND, or of $T/BASE)
# and check the refusal
host() {
  local desc=$1 kind=${2%%:*} err=$3 src
  case $kind in F|FF|D|E) src=$T/F ;; I|IF) src=$T/I ;; P) src=$T/P ;; esac
  [[ $2 == *:* ]] && src=$T/${2#*:}
  shift 3
  if mk "$T/h" "$src" "$@" 2>"$T/.mk.err"; then
    if [ "$kind" = P ]; then try P "$T/h" "${PFX[0]}" "$desc" "$err"; else try "$kind" "$T/h" "$BASE" "$desc" "$err"; fi
  else
    prob "(test) cannot make the variant: $(head -n 2 "$T/.mk.err")"
  fi
  t_check "hostile: $desc"
}
E64=2**64
host "WRITE at volsize"                    F "invalid" hdr 1 arg0 65536
host "WRITE at 2^64-4K (offset+length overflows)" F "invalid" hdr 1 arg0 "$E64-4096"
host "WRITE at an unaligned offset"        F "invalid" hdr 2 arg0 4608
host "WRITE of 8K logical (block is 4K)"   F "invalid" hdr 1 arg1 8192
host "WRITE of 2^63 logical bytes"         F "invalid" hdr 1 arg1 "2**63"
host "WRITE payload shorter than its length" F "invalid" cut 1 100
host "WRITE of 16 MiB payload (the limit)" F "invalid" insert 1 2 0 0 4096 "16*2**20"
host "WRITE with compression 7"            F "invalid" hdr 1 flags 7
host "WRITE lz4-flagged in a stream without the compressed feature" F "invalid" hdr 1 flags 1
t_ok "(make) F with the compressed feature" mk "$T/Fc" "$T/F" begin 0 features 3
host "WRITE zstd-flagged with garbage data" F "invalid" hdr 1 flags 2
host "WRITE zstd-flagged with garbage data, compressed feature on" F:Fc "invalid" hdr 1 flags 2
host "WRITE lz4-flagged with garbage data, compressed feature on" F:Fc "invalid" hdr 1 flags 1
host "FREE past the end"                   I "invalid" hdr 2 arg1 65536
host "FREE of 2^64-4K bytes (overflows)"   I "invalid" hdr 2 arg1 "$E64-4096"
host "FREE of 0 bytes"                     I "invalid" hdr 2 arg1 0
host "FREE with a payload"                 I "invalid" pay 2 16
host "FREE at an offset before the last WRITE (out of order)" I "invalid" swap 1 2
host "WRITEs out of order"                 F "invalid" swap 1 3
host "the same WRITE twice"                F "invalid" dup 1
host "record type 99"                      F "invalid|unknown" hdr 2 type 99
host "record type 0"                       F "invalid|unknown" hdr 2 type 0
host "PKG_BEGIN inside a substream"        F "invalid" hdr 2 type 5
host "BEGIN inside a substream"            F "invalid" hdr 2 type 1
host "END with the wrong record count"     F "invalid" hdr 4 arg1 99
host "END with the wrong guid"             F "invalid" hdr 4 arg0 12345
host "END with a payload"                  F "invalid" pay 4 8
host "no END"                              F "truncated|invalid" del 4
host "a WRITE dropped"                     F "invalid" del 2
host "PKG_END alone"                       F "invalid" insert 0 6 0 0 0 0
host "BEGIN version 2"                     F "version" begin 0 version 2
host "BEGIN with unknown feature bits"     F "feature" begin 0 features "2|0x100"
host "BEGIN dstype 3"                      F "invalid" begin 0 dstype 3
host "BEGIN filesystem with WRITEs"        F "invalid" begin 0 dstype 1
host "BEGIN volblocksize 3000"             F "invalid" begin 0 volblocksize 3000
host "BEGIN volblocksize 0"                F "invalid" begin 0 volblocksize 0
host "BEGIN volblocksize 1M"               F "invalid" begin 0 volblocksize "2**20"
host "BEGIN volsize 0"                     F "invalid" begin 0 volsize 0
host "BEGIN volsize not a multiple of the block" F "invalid" begin 0 volsize 65537
host "BEGIN to-guid 0"                     F "invalid" hdr 0 arg0 0
host "BEGIN to-guid = from-guid"           I "invalid" hdr 0 arg1 "$(zfs get -Hp -o value guid sp/v@b)"
host "BEGIN name without @"                F "invalid" begin 0 toname sp/v
host "BEGIN snapshot name with %"          F "invalid" begin 0 toname "sp/v@a%b"
host "BEGIN snapshot name with /"          F "invalid" begin 0 toname "sp/v@a/b"
host "BEGIN name with /../ (-d)"           D "invalid" begin 0 toname "sp/../../evil@a"
host "BEGIN name with a .. component (-e)" E "invalid" begin 0 toname "sp/v/..@a"
host "BEGIN name with % (-e)"              E "invalid" begin 0 toname "sp/v%recv@a"
host "BEGIN name with % (-d)"              D "invalid" begin 0 toname "sp/x%recv@a"
host "BEGIN name of 300 characters (-d)"   D "invalid|long" begin 0 toname "sp/$(printf 'n%.0s' $(seq 300))@a"
host "BEGIN name of 600 characters"        F "invalid|long" begin 0 toname "sp/$(printf 'n%.0s' $(seq 600))@a"
host "BEGIN resume flag without partial state" F "resum|partial" begin 0 features "2|4"
t_ok "(make) I with the resume flag" mk "$T/Ir" "$T/I" begin 0 features "2|4"
host "BEGIN resume flag and offset 8K, no partial state (incremental)" I:Ir "resum|partial" begin 0 resume_offset 8192
host "BEGIN resume_offset 8K without the resume flag" I "invalid" begin 0 resume_offset 8192
t_ok "(make) F with a property of 9000 bytes" mk "$T/h" "$T/F" begin_prop 0 user:big "$(head -c 9000 /dev/zero | tr '\0' x)"
try F "$T/h" "$BASE" "a property value of 9000 bytes"; t_check "hostile: BEGIN with a property value of 9000 bytes"
t_ok "(make) F claiming volsize 4K as a property" eval 'mk "$T/h0" "$T/F" begin 0 features 2 && mk "$T/h" "$T/h0" begin_prop 0 volsize 4096'
x zfs receive bp/f <"$T/h"
if [ "$X_RC" = 0 ]; then   # accepted: then the snapshot must be what the records say
  t_eq "volsize as a property: accepted, bp/f@a is still sp/v@a (64K)" \
    "$(zfs get -Hp -o value volsize bp/f@a) $(vmd5 bp/f@a)" "65536 $(vmd5 sp/v@a)"
  zfs destroy -r bp/f >/dev/null 2>&1
else
  t_ok "volsize as a property: refused cleanly ($(x_errline))" x_clean_fail
fi
t_eq "... the pool is as before" "$(state bp)" "$BASE"
t_ok "(make) F plus 8 bytes of garbage after END" eval 'cp "$T/F" "$T/h" && printf "garbage!" >>"$T/h"'
x zfs receive bp/f <"$T/h"
t_ok "garbage after END: exit 1 ($(x_errline))" test "$X_RC" = 1
t_ok "... and bp/f@a either arrived complete or not at all" \
  eval '[ "$(state bp)" = "$BASE" ] || [ "$(vmd5 bp/f@a) $(zfs get -Hp -o value guid bp/f@a)" = "$(vmd5 sp/v@a) $(zfs get -Hp -o value guid sp/v@a)" ]'
zfs destroy -r bp/f >/dev/null 2>&1; [ "$(state bp)" = "$BASE" ] || reset_targets

host "incremental claiming a filesystem"   I "invalid|type" begin 0 dstype 1
host "incremental with another block size" I "invalid|block size" begin 0 volblocksize 8192
t_ok "(make) I from an unknown guid" mk "$T/h" "$T/I" hdr 0 arg1 12345
t_fail_with "hostile: incremental from an unknown guid: does not match incremental source" 1 \
  "match incremental source" zfs receive bp/i <"$T/h"
t_eq "... the pool is as before" "$(state bp)" "$BASE"
# packages
host "package path /../../evil"            P "invalid" pkg 0 rel1 /../../evil
host "package path without a leading /"    P "invalid" pkg 0 rel1 v
host "package version 2"                   P "version|invalid" pkg 0 version 2
host "package top empty"                   P "invalid|outside" pkg 0 top ""
host "package substream escaping with /../" P "invalid" begin 1 toname "sp/pk/../../evil@1"
host "package substream of a sibling (sp/pkx)" P "invalid|outside" begin 1 toname "sp/pkx@1"
host "package substream of the pool root" P "invalid|outside" begin 1 toname "sp@1"
host "package with a WRITE between substreams" P "invalid" insert 1 2 0 0 4096 4096
host "package with a PKG_BEGIN inside"     P "invalid" insert 1 5 0 0 0 0
# damage after some substreams: those stay (each substream is atomic), the rest must not arrive
mk "$T/h" "$T/P" begin 5 toname "sp/pk/../../evil@1" && try P "$T/h" "${PFX[2]}" "third substream escapes" invalid
t_check "hostile: package whose third substream escapes with /../ (the first two arrive, nothing else)"
mk "$T/h" "$T/P" hdr 14 arg0 9 && try P "$T/h" "${PFX[4]}" "PKG_END count wrong" invalid
t_check "hostile: PKG_END with the wrong substream count"
t_eq "after all hostile streams the pool is as set up" "$(state bp)" "$BASE"
t_diag "$NTRY damaged or hostile streams refused"

# ---- 3. resumable receive ---------------------------------------------------------------------
DM=$((4 * MiB))
t_ok "sp/big: ${BIG}M of data, @a; the first half rewritten, @b" \
  eval 'zfs create -s -V ${BIG}M sp/big && rnd_at sp/big 0 $((BIG * MiB)) && zfs snapshot sp/big@a &&
        rnd_at sp/big 0 $((BIG * MiB / 2)) && zfs snapshot sp/big@b'
t_ok "send sp/big@a (full), -i @a @b" eval 'zfs send sp/big@a >"$T/B" && zfs send -i @a sp/big@b >"$T/BI"'
CUT=$((BIG * MiB * 3 / 10))
t_fail_with "receive -s of the full stream cut after $((CUT / MiB))M (TARN_DIRTY_MAX=$DM) fails" 1 "truncated" \
  eval 'head -c $CUT "$T/B" | TARN_DIRTY_MAX=$DM zfs receive -s bp/big'
tok=$(zfs get -H -o value receive_resume_token bp/big 2>&1)
t_match "receive_resume_token is set" "$tok" '^1-[0-9a-f]+$'
t_eq "the partial volume has no snapshot" "$(zfs list -H -o name -t snapshot -r bp/big 2>&1)" ""
t_fail_with "a plain full receive into it: partially-complete state" 1 "contains partially-complete state" \
  eval 'zfs send sp/big@a | zfs receive bp/big'
t_eq "... the token stays" "$(zfs get -H -o value receive_resume_token bp/big 2>&1)" "$tok"
est=$(zfs send -nvP -t "$tok" 2>&1 | tail -n 1)
t_ok "send -t TOKEN" eval 'zfs send -t "$tok" >"$T/BR"'
t_eq "send -nvP -t: size = the resumed stream's" "$est" "$(printf 'size\t%s' "$(stat -c %s "$T/BR")")"
t_ok "the resumed stream is smaller than the full one" test "$(stat -c %s "$T/BR")" -lt "$(stat -c %s "$T/B")"
t_ok "receive -s of the resumed stream" eval 'TARN_DIRTY_MAX=$DM zfs receive -s bp/big <"$T/BR"'
t_eq "resumed: token -" "$(zfs get -H -o value receive_resume_token bp/big)" "-"
t_eq "resumed: bp/big@a is byte-identical, same guid" \
  "$(vmd5 bp/big@a) $(zfs get -Hp -o value guid bp/big@a)" "$(vmd5 sp/big@a) $(zfs get -Hp -o value guid sp/big@a)"
t_eq "resumed: the head reads as @a" "$(vmd5 bp/big)" "$(vmd5 sp/big@a)"
acct bp; t_check "resumed: space relations"

before=$(state bp)
t_fail_with "receive -s of the incremental cut after $((CUT / MiB / 2))M fails" 1 "truncated" \
  eval 'head -c $((CUT / 2)) "$T/BI" | TARN_DIRTY_MAX=$DM zfs receive -s bp/big'
t_match "receive_resume_token is set" "$(zfs get -H -o value receive_resume_token bp/big 2>&1)" '^1-[0-9a-f]+$'
# (the hidden partial's space is charged above bp/big, so compare all but the pool root's line)
t_eq "bp/big still reads as @a and lists as before" "$(state bp | sed 1d)" "$(sed 1d <<<"$before")"
t_fail_with "a plain incremental receive: partially-complete state" 1 "contains partially-complete state" \
  eval 'zfs receive bp/big <"$T/BI"'
t_ok "zfs receive -A bp/big" zfs receive -A bp/big
t_eq "-A: token -" "$(zfs get -H -o value receive_resume_token bp/big)" "-"
t_eq "-A: the pool is as before the interrupted receive" "$(state bp)" "$before"
acct bp; t_check "-A: space relations (no hidden partial left)"
t_fail_with "-A again: nothing to abort" 1 "does not have any resumable receive state" zfs receive -A bp/big
t_ok "the incremental now arrives in one go" eval 'zfs receive bp/big <"$T/BI"'
t_eq "bp/big@b is byte-identical" "$(vmd5 bp/big@b)" "$(vmd5 sp/big@b)"

# a `receive -s` killed after some MiB: its committed progress stays resumable
t_ok "sp/big: the second half rewritten, @c; send -i @b @c" \
  eval 'rnd_at sp/big $((BIG * MiB / 2)) $((BIG * MiB / 2)) && zfs snapshot sp/big@c && zfs send -i @b sp/big@c >"$T/BC"'
before=$(state bp)
KF=$(( $(stat -c %s "$T/BC") * 3 / 4 ))   # fed before the kill: more than TARN_DIRTY_MAX, so commits happened
mkfifo "$T/fifo"
( TARN_DIRTY_MAX=$DM exec $TARN_WRAP "$TARN" zfs receive -s bp/big <"$T/fifo" >"$T/kill.out" 2>&1 ) &
rpid=$!
{ head -c "$KF" "$T/BC"; touch "$T/fed"; exec sleep 60; } >"$T/fifo" &
wpid=$!
for _ in $(seq 200); do [ -e "$T/fed" ] && break; sleep 0.1; done
sleep 1   # the receiver takes the last 64K in the pipe
kill -9 "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null
kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null
tok=$(zfs get -H -o value receive_resume_token bp/big 2>&1)
t_match "receive -s killed (SIGKILL) after $((KF / MiB))M: receive_resume_token is set" "$tok" '^1-[0-9a-f]+$'
if [[ $tok == 1-* ]]; then
  t_ok "send -t | receive -s completes it" eval 'zfs send -t "$tok" | zfs receive -s bp/big'
  t_eq "bp/big@c is byte-identical" "$(vmd5 bp/big@c)" "$(vmd5 sp/big@c)"
else
  zfs receive -A bp/big >/dev/null 2>&1
  t_eq "(no token) the pool is as before the killed receive" "$(state bp)" "$before"
  t_ok "(no token) the incremental arrives in one go" eval 'zfs receive bp/big <"$T/BC"'
fi
acct bp; t_check "space relations at the end"

t_done
