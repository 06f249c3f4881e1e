#!/usr/bin/env bash
# zfs/zpool beyond 20-zfs.sh: bookmarks, holds, rename, promote (with space accounting and data
# checks), JSON output (-j, --json-int), list ordering (-s/-S), written / written@snap,
# logical space and compressratio, zpool history, zpool get feature@...
#
# Expected messages, exit codes and layouts are those of OpenZFS 2.x; where a check follows a
# specific piece of OpenZFS source it says so:
#   cmd/zfs/zfs_main.c  zfs_do_bookmark (short '#b' name; the source is zfs_open()ed first and a
#                       missing one goes to usage: exit 2; "cannot create bookmark '%s': bookmark
#                       exists"), zfs_do_destroy ("bookmark '%s' does not exist."),
#                       zfs_do_hold_rele_impl / zfs_do_holds ("'%s' is not a snapshot";
#                       print_holds: NAME TAG TIMESTAMP, "%a %b %e %H:%M %Y", header even when
#                       there are no holds), zfs_do_get (types = ZFS_TYPE_DATASET |
#                       ZFS_TYPE_BOOKMARK: a bookmark can be named), zfs_do_rename ("source
#                       dataset for recursive rename must be a snapshot", exit 2)
#   lib/libzfs/libzfs_dataset.c  zfs_rename (same name: success; short snapshot names '@b' and
#                       'b'; "cannot rename to '%s'" for the checks made before the ioctl:
#                       parents, same pool, same dataset, descendant; "cannot rename '%s'" with
#                       the source name for what the kernel refuses, e.g. an existing target;
#                       rename -r: "a child dataset already has a snapshot with the new name"),
#                       zfs_promote ("conflicting snapshot '%s' from parent '%s'"), zfs_hold /
#                       zfs_release ("tag already exists on this dataset", "no such tag on this
#                       dataset"), zfs_destroy_snaps_nvl ("cannot destroy snapshot %s: dataset
#                       is busy" for a held snapshot; atomic over the whole list)
#   cmd/zfs/zfs_iter.c  zfs_sort (-s/-S; a row whose property does not apply sorts to the
#                       bottom whatever the direction; -s name is strcmp of the full name),
#                       zfs_compare (default order)
#   man/man8/zfs-list.8 (2.3)  the -j layout: output_version {command, vers_major 0,
#                       vers_minor 1}, datasets keyed by name with name, type, pool, createtxg,
#                       properties.<p>.{value, source {type, data}}; snapshots add dataset and
#                       snapshot_name; --json-int prints numbers as integers
# Checks of OpenZFS behaviour that tarn does not meet yet can be TAP TODO items (t_todo): they are
# reported as "not ok ... # TODO" without failing the script.
# Runs in ~5 s.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

# t_todo REASON CHECK ARGS...: run a t_* check as a TAP TODO (a failure is reported, not counted)
t_todo() {
  local reason=$1 fn=$2 desc=$3 nfail=$_t_nfail
  shift 3
  "$fn" "${desc//#/\\#} # TODO ${reason//#/\\#}" "$@"   # a '#' in the text would end it early
  _t_nfail=$nfail
}
# t_skip DESC REASON: a skipped test
t_skip() { _t_result 1 "$1 # SKIP $2"; }
fields() { printf '%s\n' "$1" | awk '{$1=$1; print}'; }
getp() { zfs get -Hp -o value "$1" "$2"; }
# guids DS...: the guid of each, one a line, in argument order (zfs get itself sorts by name)
guids() { local d; for d in "$@"; do getp guid "$d" || return 1; done; }
# near GOT WANT PCT: GOT is within PCT percent of WANT
near() { awk -v g="$1" -v w="$2" -v p="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(g != "" && d * 100 <= w * p) }'; }
# ratio_gt A B R: A / B > R
ratio_gt() { awk -v a="$1" -v b="$2" -v r="$3" 'BEGIN { exit !(b > 0 && a / b > r) }'; }
# space_bad POOL: every filesystem/volume whose used is not usedsnap + usedds + usedrefreserv +
# usedchild, or whose usedchild is not the sum of its children's used (empty when all hold)
space_bad() {
  zfs list -Hp -t filesystem,volume -o name,used,usedsnap,usedds,usedrefreserv,usedchild -r "$1" |
    awk -F'\t' '
      { child[$1] = $6
        if ($2 != $3 + $4 + $5 + $6) print "used != usedsnap+usedds+usedrefreserv+usedchild: " $0
        n = $1; sub(/\/[^\/]*$/, "", n); if (n != $1) sum[n] += $2 }
      END { for (d in child) { s = (d in sum) ? sum[d] : 0
            if (s != child[d]) print "usedchild of " d " is " child[d] ", its children use " s } }'
}
PY=/usr/bin/python3
# jv FILE EXPR: the Python expression EXPR over d = the JSON document in FILE (strings bare,
# anything else as JSON; "<error: ...>" when it cannot be evaluated)
jv() {
  "$PY" -c 'import json, sys
try:
    d = json.load(open(sys.argv[1]))
    v = eval(sys.argv[2], {"d": d})
    print(v if isinstance(v, str) else json.dumps(v))
except Exception as e:
    print("<error: %r>" % (e,))' "$1" "$2"
}
start=$(date +%s)

f1=$(mkvdev f1 1G)
f2=$(mkvdev f2 128M)
t_ok "pool p on a 1G file"   zpool create p "$f1"
t_ok "pool q on a 128M file" zpool create q "$f2"

# --- zpool history (pool q: nothing else happens there before this section) ---------------------
hist() { zpool history "$1" | sed -n 's/^[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]\.[0-9][0-9]:[0-9][0-9]:[0-9][0-9] //p'; }
t_ok    "q: create a volume, snapshot it, destroy the snapshot" \
        eval 'zfs create -s -V 1M q/v && zfs snapshot q/v@h1 && zfs destroy q/v@h1'
t_fail  "q: failing destroy of a missing dataset"  zfs destroy q/nope
t_fail  "q: failing snapshot of a missing dataset" zfs snapshot q/nope@x
t_fail  "q: failing create over an existing name"  zfs create -s -V 1M q/v
t_ok    "q: read-only commands"                    eval 'zfs list -r q && zfs get all q/v && zpool status q'
t_ok    "zpool history q"                          zpool history q
h=$T_OUT
t_eq    "  ...first line"                          "$(sed -n 1p <<<"$h")" "History for 'q':"
t_eq    "  ...every entry 'YYYY-MM-DD.HH:MM:SS command'" \
        "$(sed '1d; /^$/d' <<<"$h" | grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}\.[0-2][0-9]:[0-5][0-9]:[0-5][0-9] (zpool|zfs) ')" 0
t_eq    "  ...the successful commands, in order (failed and read-only ones are not logged)" \
        "$(hist q)" "$(printf '%s\n' "zpool create q $f2" "zfs create -s -V 1M q/v" "zfs snapshot q/v@h1" "zfs destroy q/v@h1")"
ts=$(sed '1d; /^$/d' <<<"$h" | cut -d' ' -f1)
t_eq    "  ...timestamps in order"                 "$ts" "$(sort <<<"$ts")"
first=$(date -d "$(head -n1 <<<"$ts" | tr . ' ')" +%s 2>/dev/null || echo 0)
last=$(date -d "$(tail -n1 <<<"$ts" | tr . ' ')" +%s 2>/dev/null || echo 0)
t_ok    "  ...local times of this run"             test "$first" -ge $((start - 2)) -a "$last" -le $(($(date +%s) + 2))
t_ok    "zpool export q; zpool import -d DIR q"    eval 'zpool export q && zpool import -d "$T" q'
t_ok    "zpool history q after export/import"      zpool history q
t_eq    "  ...kept, plus export and import"        "$(hist q)" \
        "$(printf '%s\n' "zpool create q $f2" "zfs create -s -V 1M q/v" "zfs snapshot q/v@h1" "zfs destroy q/v@h1" \
           "zpool export q" "zpool import -d $T q")"
t_fail  "zpool history of a missing pool"         zpool history nopool

# --- zpool get feature@... -------------------------------------------------------------------------
t_ok    "zpool get all q"                          zpool get all q
t_match "  ...lists feature@bookmarks active"      "$T_OUT" '^q +feature@bookmarks +active +local$'
t_match "  ...and feature@lz4_compress"            "$T_OUT" '^q +feature@lz4_compress +(active|enabled) +local$'
t_ok    "  ...at least 10 feature@ properties"     test "$(grep -cE '^q +feature@[a-z0-9_]+ +(active|enabled|disabled) ' <<<"$T_OUT")" -ge 10
t_eq    "zpool get -H -o value feature@bookmarks q" "$(zpool get -H -o value feature@bookmarks q)" "active"
t_eq    "zpool get -H feature@bookmarks q (all fields)" "$(zpool get -H feature@bookmarks q)" $'q\tfeature@bookmarks\tactive\tlocal'

# --- bookmarks ----------------------------------------------------------------------------------
head -c 256K /dev/urandom >"$T/bv"
t_ok    "volume p/bv with 256K, snapshot @s"       eval 'zfs create -V 4M p/bv && tarn volume write p/bv <"$T/bv" && zfs snapshot p/bv@s'
snapvals=$(zfs get -Hp -o value guid,createtxg,creation p/bv@s)
t_ok    "zfs bookmark p/bv@s p/bv#b"               zfs bookmark p/bv@s 'p/bv#b'
t_eq    "  ...prints nothing"                      "$T_OUT$T_ERR" ""
t_ok    "zfs bookmark p/bv@s '#b2' (short form: same dataset)" zfs bookmark p/bv@s '#b2'
t_ok    "zfs list -t bookmark"                     zfs list -t bookmark
t_eq    "  ...header"                              "$(fields "$(head -n1 <<<"$T_OUT")")" "NAME USED AVAIL REFER MOUNTPOINT"
t_eq    "  ...both bookmarks, nothing else"        "$(sed 1d <<<"$T_OUT" | awk '{print $1}')" $'p/bv#b\np/bv#b2'
t_eq    "zfs list -H -o name,type -t bookmark -r p" "$(zfs list -H -o name,type -t bookmark -r p)" $'p/bv#b\tbookmark\np/bv#b2\tbookmark'
t_eq    "zfs list -Hp -o guid,createtxg,creation -t bookmark p/bv#b: the snapshot's" \
        "$(zfs list -Hp -o guid,createtxg,creation -t bookmark 'p/bv#b' | tr '\t' '\n')" "$snapvals"
t_ok    "zfs get -Hp -o value guid,createtxg,creation p/bv#b (zfs_do_get: DATASET|BOOKMARK)" \
        zfs get -Hp -o value guid,createtxg,creation 'p/bv#b'
t_eq    "  ...equal the snapshot's"                "$T_OUT" "$snapvals"
t_match "zfs get all p/bv#b: type bookmark"        "$(zfs get -H -o property,value all 'p/bv#b' 2>&1)" $'^type\tbookmark$'
g=$(sed -n 1p <<<"$snapvals") c=$(sed -n 3p <<<"$snapvals")
t_ok    "zfs get -Hpd 1 -t bookmark guid,creation p/bv (syncoid)" zfs get -Hpd 1 -t bookmark guid,creation p/bv
t_eq    "  ...guid and creation of each bookmark"  "$T_OUT" \
        "$(printf 'p/bv#b\tguid\t%s\t-\np/bv#b\tcreation\t%s\t-\np/bv#b2\tguid\t%s\t-\np/bv#b2\tcreation\t%s\t-' "$g" "$c" "$g" "$c")"
t_eq    "zfs list -t all -r p/bv: snapshot, then bookmarks (zfs_compare)" \
        "$(zfs list -H -o name -t all -r p/bv)" $'p/bv\np/bv@s\np/bv#b\np/bv#b2'
t_fail_with "duplicate bookmark" 1 "cannot create bookmark 'p/bv#b': bookmark exists" zfs bookmark p/bv@s 'p/bv#b'
t_fail  "bookmark of a missing snapshot"           zfs bookmark p/bv@nope 'p/bv#n'
t_match "  ...dataset does not exist"              "$T_ERR" 'dataset does not exist'
t_fail_with "  ...zfs_open of the source fails first, then usage (exit 2)" 2 \
        "cannot open 'p/bv@nope': dataset does not exist" zfs bookmark p/bv@nope 'p/bv#n'
t_fail  "  ...no bookmark p/bv#n"                  zfs list -t bookmark 'p/bv#n'
t_fail_with "bookmark name without '#': usage, exit 2" 2 "invalid bookmark name 'p/bv': must contain a '#'" \
        zfs bookmark p/bv@s p/bv
t_ok    "bookmark of a bookmark: zfs bookmark p/bv#b p/bv#b3" zfs bookmark 'p/bv#b' 'p/bv#b3'
t_eq    "  ...same guid"                           "$(zfs list -Hp -o guid -t bookmark 'p/bv#b3')" "$g"
t_ok    "zfs bookmark @s p/bv#b4 (short source, zfs_do_bookmark expands it)" zfs bookmark @s 'p/bv#b4'
t_ok    "destroy the snapshot p/bv@s"              zfs destroy p/bv@s
t_fail  "  ...gone"                                zfs list -t snapshot p/bv@s
t_eq    "  ...the bookmarks survive"               "$(zfs list -H -o name -t bookmark -r p/bv | grep -v '#b4$')" $'p/bv#b\np/bv#b2\np/bv#b3'
t_eq    "  ...with the snapshot's guid, createtxg, creation" \
        "$(zfs list -Hp -o guid,createtxg,creation -t bookmark 'p/bv#b' | tr '\t' '\n')" "$snapvals"
t_ok    "  ...zfs get -Hpd 1 -t bookmark still answers" zfs get -Hpd 1 -t bookmark guid p/bv
t_match "  ...p/bv#b2 guid"                        "$T_OUT" "^p/bv#b2"$'\t'"guid"$'\t'"$g"$'\t'"-\$"
t_ok    "zfs destroy p/bv#b2"                      zfs destroy 'p/bv#b2'
t_eq    "  ...prints nothing"                      "$T_OUT$T_ERR" ""
t_eq    "  ...gone, the others stay"               "$(zfs list -H -o name -t bookmark -r p/bv | grep -v '#b4$')" $'p/bv#b\np/bv#b3'
t_fail  "destroy a missing bookmark"               zfs destroy 'p/bv#b2'
t_fail_with "  ...zfs_do_destroy's message" 1 "bookmark 'p/bv#b2' does not exist." zfs destroy 'p/bv#b2'
t_ok    "zfs destroy -r p/bv takes its bookmarks along" zfs destroy -r p/bv
t_eq    "  ...no bookmarks left"                   "$(zfs list -H -o name -t bookmark -r p 2>&1)" ""

# --- holds --------------------------------------------------------------------------------------
t_ok    "container p/hc with volumes v1 v2, snapshot -r @s" \
        eval 'zfs create p/hc && zfs create -s -V 1M p/hc/v1 && zfs create -s -V 1M p/hc/v2 && zfs snapshot -r p/hc@s'
hstart=$(date +%s)
t_ok    "zfs hold keep p/hc/v1@s"                  zfs hold keep p/hc/v1@s
t_eq    "  ...prints nothing"                      "$T_OUT$T_ERR" ""
t_ok    "zfs holds p/hc/v1@s"                      zfs holds p/hc/v1@s
t_eq    "  ...header"                              "$(fields "$(head -n1 <<<"$T_OUT")")" "NAME TAG TIMESTAMP"
t_match "  ...row: name, tag, '%a %b %e %H:%M %Y'" "$(sed -n 2p <<<"$T_OUT")" \
        '^p/hc/v1@s +keep +[A-Z][a-z]{2} [A-Z][a-z]{2} [ 1-3][0-9] [0-2][0-9]:[0-5][0-9] [0-9]{4}$'
t_eq    "  ...two lines"                           "$(wc -l <<<"$T_OUT")" 2
t_ok    "zfs holds -H p/hc/v1@s"                   zfs holds -H p/hc/v1@s
t_match "  ...TAB separated, no header"            "$T_OUT" $'^p/hc/v1@s\tkeep\t[A-Z][a-z]{2} [A-Z][a-z]{2} [ 1-3][0-9] [0-2][0-9]:[0-5][0-9] [0-9]{4}$'
t_ok    "zfs holds -Hp p/hc/v1@s"                  zfs holds -Hp p/hc/v1@s
ht=$(cut -f3 <<<"$T_OUT")
t_ok    "  ...timestamp in epoch seconds, now"     test "$ht" -ge "$hstart" -a "$ht" -le $(($(date +%s) + 1))
t_fail_with "hold the same tag again" 1 "cannot hold snapshot 'p/hc/v1@s': tag already exists on this dataset" \
        zfs hold keep p/hc/v1@s
t_ok    "a second tag: zfs hold other p/hc/v1@s"   zfs hold other p/hc/v1@s
t_eq    "  ...two holds"                           "$(zfs holds -H p/hc/v1@s | cut -f1,2 | sort)" $'p/hc/v1@s\tkeep\np/hc/v1@s\tother'
t_fail_with "destroy a held snapshot" 1 "cannot destroy snapshot p/hc/v1@s: dataset is busy" zfs destroy p/hc/v1@s
t_ok    "  ...still there"                         zfs list -t snapshot p/hc/v1@s
t_fail  "zfs destroy -r p/hc@s with one held"      zfs destroy -r p/hc@s
t_match "  ...dataset is busy"                     "$T_ERR" 'p/hc/v1@s: dataset is busy'
t_eq    "  ...none destroyed (atomic, as lzc_destroy_snaps)" \
        "$(zfs list -H -o name -t snapshot -r p/hc)" $'p/hc@s\np/hc/v1@s\np/hc/v2@s'
t_fail_with "release an unknown tag" 1 "cannot release hold from snapshot 'p/hc/v1@s': no such tag on this dataset" \
        zfs release nope p/hc/v1@s
t_ok    "zfs release keep p/hc/v1@s"               zfs release keep p/hc/v1@s
t_ok    "zfs release other p/hc/v1@s"              zfs release other p/hc/v1@s
t_ok    "zfs holds -H p/hc/v1@s: none"             zfs holds -H p/hc/v1@s
t_eq    "  ...empty"                               "$T_OUT" ""
t_ok    "zfs holds p/hc/v1@s with no holds"        zfs holds p/hc/v1@s
t_match "  ...print_holds prints the header anyway" "$T_OUT" '^NAME +TAG +TIMESTAMP$'
t_ok    "zfs hold -r rt p/hc@s (the container and both volumes)" zfs hold -r rt p/hc@s
t_eq    "zfs holds -rH p/hc@s"                     "$(zfs holds -rH p/hc@s | cut -f1,2)" $'p/hc@s\trt\np/hc/v1@s\trt\np/hc/v2@s\trt'
t_eq    "zfs holds -H p/hc@s (not recursive)"      "$(zfs holds -H p/hc@s | cut -f1,2)" $'p/hc@s\trt'
t_fail_with "destroy a volume's held snapshot" 1 "dataset is busy" zfs destroy p/hc/v2@s
t_ok    "zfs release -r rt p/hc@s"                 zfs release -r rt p/hc@s
t_ok    "  ...zfs holds -rH p/hc@s"                zfs holds -rH p/hc@s
t_eq    "  ...none left"                           "$T_OUT" ""
t_fail_with "release -r again: no such tag" 1 "no such tag on this dataset" zfs release -r rt p/hc@s
t_ok    "zfs destroy -r p/hc@s now works"          zfs destroy -r p/hc@s
t_eq    "  ...all three gone"                      "$(zfs list -H -o name -t snapshot -r p/hc)" ""
t_fail_with "hold of a missing snapshot" 1 "cannot hold snapshot 'p/hc/v1@nope': dataset does not exist" \
        zfs hold x p/hc/v1@nope
t_fail  "hold of a volume (not a snapshot)"        zfs hold x p/hc/v1
t_eq    "  ...zfs_do_hold_rele_impl's message"     "$T_ERR" "'p/hc/v1' is not a snapshot"
t_fail_with "holds of a volume (not a snapshot)" 1 "'p/hc/v1' is not a snapshot" zfs holds p/hc/v1
t_fail_with "hold without a snapshot: usage, exit 2" 2 "" zfs hold x

# --- rename -------------------------------------------------------------------------------------
head -c 128K /dev/urandom >"$T/r1"
head -c 64K /dev/urandom >"$T/r2"
t_ok    "volume p/rn: write, @a, write, @b"        eval 'zfs create -V 2M p/rn && tarn volume write p/rn <"$T/r1" && zfs snapshot p/rn@a &&
                                                         tarn volume write --offset 1M p/rn <"$T/r2" && zfs snapshot p/rn@b'
t_ok    "  ...read p/rn, p/rn@a"                   eval 'tarn volume read p/rn >"$T/rn.head" && tarn volume read p/rn@a >"$T/rn.a"'
t_ok    "  ...p/rn@a holds what was written"       eval 'head -c 128K "$T/rn.a" | cmp - "$T/r1"'
rn_guids=$(guids p/rn p/rn@a p/rn@b)
t_ok    "zfs rename p/rn p/rn2"                    zfs rename p/rn p/rn2
t_eq    "  ...prints nothing"                      "$T_OUT$T_ERR" ""
t_fail_with "  ...p/rn is gone" 1 "cannot open 'p/rn': dataset does not exist" zfs list p/rn
t_eq    "  ...snapshots moved along"               "$(zfs list -H -o name -t snapshot -r p/rn2)" $'p/rn2@a\np/rn2@b'
t_eq    "  ...guids unchanged"                     "$(guids p/rn2 p/rn2@a p/rn2@b)" "$rn_guids"
t_ok    "  ...data unchanged"                      eval 'tarn volume read p/rn2 | cmp - "$T/rn.head"'
t_ok    "zfs rename p/rn2@a p/rn2@a2 (snapshot, full name)" zfs rename p/rn2@a p/rn2@a2
t_eq    "  ...renamed, guid kept"                  "$(guids p/rn2@a2)" "$(sed -n 2p <<<"$rn_guids")"
t_fail  "  ...p/rn2@a is gone"                     zfs list -t snapshot p/rn2@a
t_ok    "zfs rename p/rn2@a2 @a3 (short form)"     zfs rename p/rn2@a2 @a3
t_eq    "  ...snapshots"                           "$(zfs list -H -o name -t snapshot -r p/rn2)" $'p/rn2@a3\np/rn2@b'
t_ok    "  ...p/rn2@a3 reads as p/rn@a did"        eval 'tarn volume read p/rn2@a3 | cmp - "$T/rn.a"'
t_ok    "zfs rename p/rn2@a3 a4 (zfs_rename: a name without '@' is a snapshot name)" zfs rename p/rn2@a3 a4
zfs rename p/rn2@a4 @a3 >/dev/null 2>&1   # undo it where it worked
t_ok    "zfs rename p/rn2 p/rn2 (same name: success)" zfs rename p/rn2 p/rn2
t_fail_with "snapshot into another dataset" 1 "cannot rename to 'p/hc/v1@x': snapshots must be part of same dataset" \
        zfs rename p/rn2@b p/hc/v1@x
t_fail  "snapshot onto an existing snapshot"       zfs rename p/rn2@b p/rn2@a3
t_match "  ...dataset already exists"              "$T_ERR" 'dataset already exists'
t_eq    "  ...the kernel's EEXIST, reported for the source (zfs_rename)" "$T_ERR" "cannot rename 'p/rn2@b': dataset already exists"
t_eq    "  ...both still there"                    "$(zfs list -H -o name -t snapshot -r p/rn2)" $'p/rn2@a3\np/rn2@b'

# rename -p, refusals
t_ok    "zfs rename -p p/rn2 p/new/deep/rn (creates the parents)" zfs rename -p p/rn2 p/new/deep/rn
t_eq    "  ...parents are filesystems"             "$(zfs list -H -o name,type -r p/new)" \
        $'p/new\tfilesystem\np/new/deep\tfilesystem\np/new/deep/rn\tvolume'
t_eq    "  ...guids unchanged"                     "$(guids p/new/deep/rn p/new/deep/rn@a3 p/new/deep/rn@b)" "$rn_guids"
t_ok    "  ...data unchanged"                      eval 'tarn volume read p/new/deep/rn | cmp - "$T/rn.head"'
t_fail_with "rename below a missing parent without -p" 1 "cannot rename to 'p/nope/rn': parent does not exist" \
        zfs rename p/new/deep/rn p/nope/rn
t_fail_with "rename into another pool" 1 "cannot rename to 'q/rn': datasets must be within same pool" \
        zfs rename p/new/deep/rn q/rn
t_fail  "rename onto an existing dataset"          zfs rename p/new/deep/rn p/hc
t_match "  ...dataset already exists"              "$T_ERR" 'dataset already exists'
t_eq    "  ...reported for the source (zfs_rename after the ioctl)" "$T_ERR" "cannot rename 'p/new/deep/rn': dataset already exists"
t_fail_with "rename into its own descendant" 1 \
        "cannot rename to 'p/new/sub': New dataset name cannot be a descendant of current dataset name" \
        zfs rename p/new p/new/sub
t_fail  "rename of a missing dataset"              zfs rename p/nope p/nope2
t_eq    "  ...zfs_open's message"                  "$T_ERR" "cannot open 'p/nope': dataset does not exist"
t_fail_with "rename -r of a filesystem: usage, exit 2" 2 "" zfs rename -r p/new p/new2
t_match "  ...zfs_do_rename's message"             "$T_ERR" '^source dataset for recursive rename must be a snapshot$'
t_eq    "  ...nothing moved by the refusals"       "$(zfs list -H -o name -t all -r p/new)" \
        $'p/new\np/new/deep\np/new/deep/rn\np/new/deep/rn@a3\np/new/deep/rn@b'
t_ok    "rename a container: its volumes and snapshots follow" zfs rename p/new p/moved
t_eq    "  ...names"                               "$(zfs list -H -o name -t all -r p/moved)" \
        $'p/moved\np/moved/deep\np/moved/deep/rn\np/moved/deep/rn@a3\np/moved/deep/rn@b'
t_ok    "  ...data unchanged"                      eval 'tarn volume read p/moved/deep/rn@a3 | cmp - "$T/rn.a"'

# rename -r
t_ok    "container p/rc with v1 v2, snapshot -r @x" \
        eval 'zfs create p/rc && zfs create -s -V 1M p/rc/v1 && zfs create -s -V 1M p/rc/v2 && zfs snapshot -r p/rc@x'
rg=$(guids p/rc@x p/rc/v1@x p/rc/v2@x)
t_ok    "zfs rename -r p/rc@x p/rc@y"              zfs rename -r p/rc@x p/rc@y
t_eq    "  ...every child's @x is now @y"          "$(zfs list -H -o name -t snapshot -r p/rc)" $'p/rc@y\np/rc/v1@y\np/rc/v2@y'
t_eq    "  ...guids unchanged"                     "$(guids p/rc@y p/rc/v1@y p/rc/v2@y)" "$rg"
t_ok    "p/rc/v1@z exists"                         zfs snapshot p/rc/v1@z
t_fail  "zfs rename -r p/rc@y p/rc@z: a child has @z already" zfs rename -r p/rc@y p/rc@z
t_eq    "  ...nothing renamed"                     "$(zfs list -H -o name -t snapshot -r p/rc)" $'p/rc@y\np/rc/v1@y\np/rc/v1@z\np/rc/v2@y'
t_eq    "  ...zfs_rename's message for -r"         "$T_ERR" "cannot rename 'p/rc@y': a child dataset already has a snapshot with the new name"
t_ok    "zfs rename -r p/rc@y @w (short form)"      zfs rename -r p/rc@y @w
t_eq    "  ...renamed"                             "$(zfs list -H -o name -t snapshot -r p/rc)" $'p/rc@w\np/rc/v1@w\np/rc/v1@z\np/rc/v2@w'

t_ok    "zpool history p"                          zpool history p
t_match "  ...zfs rename p/rn p/rn2"               "$T_OUT" ' zfs rename p/rn p/rn2$'
t_match "  ...zfs rename p/rn2@a2 @a3"             "$T_OUT" ' zfs rename p/rn2@a2 @a3$'
t_match "  ...zfs rename -p p/rn2 p/new/deep/rn"   "$T_OUT" ' zfs rename -p p/rn2 p/new/deep/rn$'
t_match "  ...zfs rename -r p/rc@x p/rc@y"         "$T_OUT" ' zfs rename -r p/rc@x p/rc@y$'
t_eq    "  ...the refused renames are not logged"  "$(grep -cE 'zfs rename .*(q/rn|p/nope|p/hc|p/new/sub|p/rc@z|p/new2)' <<<"$T_OUT")" 0

# --- promote ------------------------------------------------------------------------------------
head -c 1M /dev/urandom >"$T/A"
head -c 512K /dev/urandom >"$T/B"
head -c 256K /dev/urandom >"$T/C"
head -c 256K /dev/urandom >"$T/D"
t_ok    "p/o: A, @s1, B, @s2; clone p/cl of @s2; p/o: C, @s3; p/cl: D, @c1" \
        eval 'zfs create -V 4M p/o && tarn volume write p/o <"$T/A" && zfs snapshot p/o@s1 &&
              tarn volume write --offset 1M p/o <"$T/B" && zfs snapshot p/o@s2 && zfs clone p/o@s2 p/cl &&
              tarn volume write --offset 2M p/o <"$T/C" && zfs snapshot p/o@s3 &&
              tarn volume write --offset 512K p/cl <"$T/D" && zfs snapshot p/cl@c1'
t_eq    "  ...space accounting holds"              "$(space_bad p)" ""
t_ok    "  ...read every version"                  eval 'for v in p/o@s1 p/o@s2 p/o@s3 p/o p/cl p/cl@c1; do
                                                           tarn volume read "$v" >"$T/pre.${v//[\/@]/_}" || exit 1; done'
t_ok    "  ...p/o@s1 is A"                         eval 'head -c 1M "$T/pre.p_o_s1" | cmp - "$T/A"'
t_ok    "  ...p/cl has D at 512K and B at 1M"      eval 'cmp <(tail -c +524289 "$T/pre.p_cl" | head -c 256K) "$T/D" &&
                                                         cmp <(tail -c +1048577 "$T/pre.p_cl" | head -c 512K) "$T/B"'
sg=$(guids p/o@s1 p/o@s2 p/o@s3 p/cl@c1)
t_ok    "zfs promote p/cl"                         zfs promote p/cl
t_eq    "  ...prints nothing"                      "$T_OUT$T_ERR" ""
t_eq    "  ...p/cl has no origin"                  "$(zfs get -H -o value origin p/cl)" "-"
t_eq    "  ...p/o is a clone of p/cl@s2"           "$(zfs get -H -o value origin p/o)" "p/cl@s2"
t_eq    "  ...the snapshots up to the origin moved to p/cl, in creation order" \
        "$(zfs list -H -o name -t snapshot -r p/cl)" $'p/cl@s1\np/cl@s2\np/cl@c1'
t_eq    "  ...p/o keeps the later one"             "$(zfs list -H -o name -t snapshot -r p/o)" "p/o@s3"
t_eq    "  ...guids unchanged"                     "$(guids p/cl@s1 p/cl@s2 p/o@s3 p/cl@c1)" "$sg"
t_eq    "  ...space accounting holds"              "$(space_bad p)" ""
t_ok    "  ...every version reads as before"       eval 'for m in p/cl@s1:p_o_s1 p/cl@s2:p_o_s2 p/o@s3:p_o_s3 p/o:p_o p/cl:p_cl p/cl@c1:p_cl_c1; do
                                                           tarn volume read "${m%%:*}" | cmp - "$T/pre.${m#*:}" || exit 1; done'
t_fail_with "promote it again: not a clone now" 1 "cannot promote 'p/cl': not a cloned filesystem" zfs promote p/cl
t_fail_with "destroy p/cl@s2 while p/o is its clone" 1 "snapshot has dependent clones" zfs destroy p/cl@s2
t_ok    "the old origin can be destroyed: zfs destroy -r p/o" zfs destroy -r p/o
t_eq    "  ...space accounting holds"              "$(space_bad p)" ""
t_ok    "  ...p/cl and its snapshots read as before" eval 'for m in p/cl@s1:p_o_s1 p/cl@s2:p_o_s2 p/cl:p_cl p/cl@c1:p_cl_c1; do
                                                           tarn volume read "${m%%:*}" | cmp - "$T/pre.${m#*:}" || exit 1; done'
t_ok    "  ...now p/cl@s2 can go too"              zfs destroy p/cl@s2
t_eq    "  ...space accounting holds"              "$(space_bad p)" ""
t_ok    "  ...the rest reads as before"            eval 'for m in p/cl@s1:p_o_s1 p/cl:p_cl p/cl@c1:p_cl_c1; do
                                                           tarn volume read "${m%%:*}" | cmp - "$T/pre.${m#*:}" || exit 1; done'
t_ok    "zpool scrub p"                            zpool scrub p
t_ok    "zpool status p"                           zpool status p
t_match "  ...scrub found nothing"                 "$T_OUT" 'scrub repaired 0B in [0-9:]+ with 0 errors'
t_match "  ...no known data errors"                "$T_OUT" '^errors: No known data errors$'
t_ok    "p/po @s1, clone p/pc, p/pc@s1 (a name the origin also has)" \
        eval 'zfs create -s -V 1M p/po && zfs snapshot p/po@s1 && zfs clone p/po@s1 p/pc && zfs snapshot p/pc@s1'
t_fail_with "promote with a conflicting snapshot name" 1 "cannot promote 'p/pc'" zfs promote p/pc
t_eq    "  ...zfs_promote's message"               "$T_ERR" "cannot promote 'p/pc': conflicting snapshot 's1' from parent 'p/po@s1'"
t_eq    "  ...nothing changed"                     "$(zfs get -H -o value origin p/pc; zfs list -H -o name -t snapshot -r p/po p/pc)" \
        $'p/po@s1\np/pc@s1\np/po@s1'

# --- JSON ---------------------------------------------------------------------------------------
if [ -x "$PY" ]; then
  t_ok  "p/j (compression=zstd) with volume p/j/v and p/j/v@s1" \
        eval 'zfs create -o compression=zstd p/j && zfs create -s -V 1M p/j/v && zfs snapshot p/j/v@s1'
  t_ok  "zfs list -j -t all -r -o name,used,compression,checksum,volsize p/j" \
        zfs list -j -t all -r -o name,used,compression,checksum,volsize p/j
  cp "$T_OUT_FILE" "$T/list.json"
  j=$T/list.json
  t_eq  "  ...output_version.command"              "$(jv "$j" 'd["output_version"]["command"]')" "zfs list"
  t_eq  "  ...vers_major 0, vers_minor 1 (integers)" "$(jv "$j" '[d["output_version"]["vers_major"], d["output_version"]["vers_minor"]]')" "[0, 1]"
  t_eq  "  ...datasets keyed by name"              "$(jv "$j" 'sorted(d["datasets"])')" '["p/j", "p/j/v", "p/j/v@s1"]'
  t_eq  "  ...name = key"                          "$(jv "$j" 'all(v["name"] == k for k, v in d["datasets"].items())')" "true"
  t_eq  "  ...types"                               "$(jv "$j" '[d["datasets"][k]["type"] for k in ("p/j", "p/j/v", "p/j/v@s1")]')" \
        '["FILESYSTEM", "VOLUME", "SNAPSHOT"]'
  t_eq  "  ...pool"                                "$(jv "$j" 'sorted(set(v["pool"] for v in d["datasets"].values()))')" '["p"]'
  t_eq  "  ...createtxg: a string, the dataset's"  "$(jv "$j" 'd["datasets"]["p/j/v"]["createtxg"]')" "$(getp createtxg p/j/v)"
  t_eq  "  ...createtxg of the snapshot"           "$(jv "$j" 'd["datasets"]["p/j/v@s1"]["createtxg"]')" "$(getp createtxg p/j/v@s1)"
  t_eq  "  ...snapshot: dataset, snapshot_name"    "$(jv "$j" '[d["datasets"]["p/j/v@s1"][k] for k in ("dataset", "snapshot_name")]')" '["p/j/v", "s1"]'
  t_eq  "  ...no name among the properties"        "$(jv "$j" '[k for k in d["datasets"] if "name" in d["datasets"][k]["properties"]]')" "[]"
  t_eq  "  ...compression of p/j: zstd, LOCAL"     "$(jv "$j" 'd["datasets"]["p/j"]["properties"]["compression"]')" \
        '{"value": "zstd", "source": {"type": "LOCAL", "data": "-"}}'
  t_eq  "  ...of p/j/v: INHERITED, data = the parent" "$(jv "$j" 'd["datasets"]["p/j/v"]["properties"]["compression"]')" \
        '{"value": "zstd", "source": {"type": "INHERITED", "data": "p/j"}}'
  t_eq  "  ...checksum: DEFAULT"                   "$(jv "$j" 'd["datasets"]["p/j/v"]["properties"]["checksum"]')" \
        '{"value": "on", "source": {"type": "DEFAULT", "data": "-"}}'
  t_eq  "  ...used: NONE, a string as zfs list prints it" "$(jv "$j" '[d["datasets"]["p/j/v"]["properties"]["used"][k] for k in ("value", "source")]')" \
        "[\"$(zfs get -H -o value used p/j/v)\", {\"type\": \"NONE\", \"data\": \"-\"}]"
  t_eq  "  ...volsize of the volume"               "$(jv "$j" 'd["datasets"]["p/j/v"]["properties"]["volsize"]["value"]')" "1M"
  t_eq  "  ...volsize of the filesystem: -"        "$(jv "$j" 'd["datasets"]["p/j"]["properties"]["volsize"]["value"]')" "-"
  t_ok  "zfs list -j --json-int -o name,used,guid,createtxg,volsize,compression p/j/v" \
        zfs list -j --json-int -o name,used,guid,createtxg,volsize,compression p/j/v
  cp "$T_OUT_FILE" "$T/int.json"
  j=$T/int.json
  t_eq  "  ...only p/j/v"                          "$(jv "$j" 'list(d["datasets"])')" '["p/j/v"]'
  t_eq  "  ...createtxg an integer"                "$(jv "$j" 'd["datasets"]["p/j/v"]["createtxg"]')" "$(getp createtxg p/j/v)"
  t_eq  "  ...used, guid, volsize integers; compression a string" \
        "$(jv "$j" '[type(d["datasets"]["p/j/v"]["properties"][k]["value"]).__name__ for k in ("used", "guid", "volsize", "compression")]')" \
        '["int", "int", "int", "str"]'
  t_eq  "  ...guid = zfs get -Hp guid (no rounding)" "$(jv "$j" 'd["datasets"]["p/j/v"]["properties"]["guid"]["value"]')" "$(getp guid p/j/v)"
  t_eq  "  ...volsize exact"                       "$(jv "$j" 'd["datasets"]["p/j/v"]["properties"]["volsize"]["value"]')" 1048576
  t_eq  "  ...used = zfs get -Hp used"             "$(jv "$j" 'd["datasets"]["p/j/v"]["properties"]["used"]["value"]')" "$(getp used p/j/v)"
  t_ok  "zfs get -j compression,used p/j/v"        zfs get -j compression,used p/j/v
  cp "$T_OUT_FILE" "$T/get.json"
  j=$T/get.json
  t_eq  "  ...output_version"                      "$(jv "$j" 'd["output_version"]')" '{"command": "zfs get", "vers_major": 0, "vers_minor": 1}'
  t_eq  "  ...one dataset: p/j/v, a VOLUME of pool p" "$(jv "$j" '[(k, v["name"], v["type"], v["pool"]) for k, v in d["datasets"].items()]')" \
        '[["p/j/v", "p/j/v", "VOLUME", "p"]]'
  t_eq  "  ...compression INHERITED from p/j"      "$(jv "$j" 'd["datasets"]["p/j/v"]["properties"]["compression"]["source"]')" \
        '{"type": "INHERITED", "data": "p/j"}'
  t_eq  "  ...exactly the asked properties"        "$(jv "$j" 'sorted(d["datasets"]["p/j/v"]["properties"])')" '["compression", "used"]'
  t_ok  "zfs get -j --json-int used,creation,volsize -r p/j" zfs get -j --json-int used,creation,volsize -r p/j
  cp "$T_OUT_FILE" "$T/geti.json"
  j=$T/geti.json
  t_eq  "  ...p/j and p/j/v (and its snapshot: zfs get -r lists snapshots)" "$(jv "$j" 'sorted(d["datasets"])')" '["p/j", "p/j/v", "p/j/v@s1"]'
  t_eq  "  ...creation an integer, the dataset's"  "$(jv "$j" 'd["datasets"]["p/j/v"]["properties"]["creation"]["value"]')" "$(getp creation p/j/v)"
  t_eq  "  ...used an integer"                     "$(jv "$j" 'type(d["datasets"]["p/j"]["properties"]["used"]["value"]).__name__')" "int"
  t_eq  "  ...volsize LOCAL on the volume"         "$(jv "$j" 'd["datasets"]["p/j/v"]["properties"]["volsize"]')" \
        '{"value": 1048576, "source": {"type": "LOCAL", "data": "-"}}'
else
  t_skip "zfs list -j / zfs get -j" "no $PY"
fi

# --- list ordering --------------------------------------------------------------------------------
head -c 512K /dev/urandom >"$T/big"
head -c 256K /dev/urandom >"$T/mid"
head -c 64K /dev/urandom >"$T/small"
t_ok    "p/s with p/s/a (256K), p/s/b (64K), p/s/c (512K), compression=off" \
        eval 'zfs create -o compression=off p/s && for x in a:mid b:small c:big; do
                zfs create -s -V 1M "p/s/${x%%:*}" && tarn volume write "p/s/${x%%:*}" <"$T/${x#*:}" || exit 1; done'
t_ok    "snapshots p/s/a@z, then p/s/a@m"          eval 'zfs snapshot p/s/a@z && zfs snapshot p/s/a@m'
t_eq    "zfs list -s used"                         "$(zfs list -H -o name -s used -r p/s)" $'p/s/b\np/s/a\np/s/c\np/s'
t_eq    "zfs list -S used"                         "$(zfs list -H -o name -S used -r p/s)" $'p/s\np/s/c\np/s/a\np/s/b'
t_eq    "default order: by name, a dataset before its snapshots, snapshots by creation (zfs_compare)" \
        "$(zfs list -H -o name -t all -r p/s)" $'p/s\np/s/a\np/s/a@z\np/s/a@m\np/s/b\np/s/c'
t_eq    "-s name: strcmp of the whole name (zfs_sort)" \
        "$(zfs list -H -o name -s name -t all -r p/s)" $'p/s\np/s/a\np/s/a@m\np/s/a@z\np/s/b\np/s/c'
t_eq    "-S name"                                  "$(zfs list -H -o name -S name -t all -r p/s)" $'p/s/c\np/s/b\np/s/a@z\np/s/a@m\np/s/a\np/s'
t_eq    "-s volsize: the filesystem (no volsize) last" "$(zfs list -H -o name -s volsize -s name -r p/s)" $'p/s/a\np/s/b\np/s/c\np/s'
t_eq    "-S volsize: the filesystem still last (zfs_sort: 'to the literal bottom')" \
        "$(zfs list -H -o name -S volsize -r p/s)" $'p/s/a\np/s/b\np/s/c\np/s'
t_eq    "-s used -t snapshot: ties (0B) in default order" "$(zfs list -H -o name -s used -t snapshot -r p/s)" $'p/s/a@z\np/s/a@m'
t_fail_with "-s bogus: usage, exit 2" 2 "invalid property 'bogus'" zfs list -s bogus

# --- written, written@snap --------------------------------------------------------------------
head -c 1M /dev/urandom >"$T/w1"
head -c 512K /dev/urandom >"$T/w2"
head -c 256K /dev/urandom >"$T/w3"
t_ok    "p/w (compression=off): 1M, @w1"           eval 'zfs create -s -V 8M -o compression=off p/w && tarn volume write p/w <"$T/w1" && zfs snapshot p/w@w1'
t_eq    "  ...written 0 right after the snapshot"  "$(getp written p/w)" 0
t_ok    "write 512K at 2M"                         eval 'tarn volume write --offset 2M p/w <"$T/w2"'
w=$(getp written p/w) ws=$(getp written@w1 p/w)
t_ok    "  ...written ~512K ($w)"                  near "$w" 524288 5
t_ok    "  ...written@w1 ~512K ($ws)"              near "$ws" 524288 5
t_eq    "  ...written@p/w@w1 (full name) the same" "$(getp written@p/w@w1 p/w)" "$ws"
t_ok    "@w2; overwrite 256K at 0"                 eval 'zfs snapshot p/w@w2 && tarn volume write p/w <"$T/w3"'
w=$(getp written p/w) ws=$(getp written@w1 p/w)
t_ok    "  ...written (since @w2) ~256K ($w)"      near "$w" 262144 5
t_ok    "  ...written@w1 ~768K ($ws)"              near "$ws" 786432 5
t_ok    "  ...written@w2 = written"                test "$(getp written@w2 p/w)" = "$w"
t_ok    "  ...p/w@w1 written: all it references (~1M)" near "$(getp written p/w@w1)" 1048576 5
t_ok    "  ...p/w@w2 written: since @w1 (~512K)"   near "$(getp written p/w@w2)" 524288 5
t_ok    "  ...p/w@w2 written@w1 the same"          test "$(getp written@w1 p/w@w2)" = "$(getp written p/w@w2)"
t_eq    "written@nope: -"                          "$(zfs get -H -o value written@nope p/w)" "-"
t_ok    "  ...in zfs list too"                     zfs list -Hp -o name,written@w1 p/w
t_eq    "  ...value"                               "$T_OUT" "p/w"$'\t'"$ws"

# --- logical space, compressratio ---------------------------------------------------------------
"$PY" -c 'import sys; sys.stdout.buffer.write(b"".join(b"line %08d of some very compressible text, text, text\n" % i for i in range(40000))[:2097152])' \
  >"$T/text" 2>/dev/null || yes 'line of some very compressible text, text, text' | head -c 2M >"$T/text"
t_ok    "p/lz (compression=lz4) with 2M of text"   eval 'zfs create -s -V 8M -o compression=lz4 p/lz && tarn volume write p/lz <"$T/text"'
read -r u lu r lr cr <<<"$(zfs get -Hp -o value used,logicalused,referenced,logicalreferenced,compressratio p/lz | tr '\n' ' ')"
t_ok    "  ...logicalused ($lu) >= 2M"             test "$lu" -ge 2097152
t_ok    "  ...logicalused / used ($lu / $u) > 1.5" ratio_gt "$lu" "$u" 1.5
t_ok    "  ...logicalreferenced / referenced ($lr / $r) > 1.5" ratio_gt "$lr" "$r" 1.5
t_ok    "  ...compressratio ($cr) > 1.5"           ratio_gt "$cr" 1 1.5
t_ok    "  ...about logicalused / used"            awk -v c="$cr" -v a="$lu" -v b="$u" 'BEGIN { d = c - a / b; exit !(d < 0.02 && d > -0.02) }'
t_match "  ...printed like 2.50x"                  "$(zfs get -H -o value compressratio p/lz)" '^[0-9]+\.[0-9]{2}x$'
t_eq    "  ...refcompressratio the same here"      "$(getp refcompressratio p/lz)" "$cr"
t_ok    "  ...data reads back"                     eval 'tarn volume read p/lz --length 2M | cmp - "$T/text"'
t_ok    "p/off (compression=off) with the same text" eval 'zfs create -s -V 8M -o compression=off p/off && tarn volume write p/off <"$T/text"'
t_eq    "  ...compressratio 1.00x"                 "$(zfs get -H -o value compressratio p/off)" "1.00x"
t_eq    "  ...-p: 1.00"                            "$(getp compressratio p/off)" "1.00"
read -r u lu r lr <<<"$(zfs get -Hp -o value used,logicalused,referenced,logicalreferenced p/off | tr '\n' ' ')"
t_ok    "  ...referenced ($r) >= 2M"               test "$r" -ge 2097152
t_ok    "  ...logicalreferenced ~ referenced ($lr, $r)" near "$lr" "$r" 2
t_ok    "  ...logicalused ~ used ($lu, $u)"        near "$lu" "$u" 2
t_eq    "  ...zfs list -o ratio,lused,lrefer header" "$(fields "$(zfs list -o name,ratio,lused,lrefer p/off | head -n1)")" "NAME RATIO LUSED LREFER"

# create -p: missing parents become filesystems, in the same txg; an existing dataset is fine
t_fail_with "create without -p needs the parent" 1 "parent does not exist" zfs create -s -V 1M p/pa/pb/v
t_ok    "create -p makes the parents"           zfs create -p -s -V 1M p/pa/pb/v
t_eq    "  ...as filesystems"                   "$(zfs list -H -o name,type -r p/pa | tr '\t' ' ')" \
        "$(printf '%s\n' 'p/pa filesystem' 'p/pa/pb filesystem' 'p/pa/pb/v volume')"
t_ok    "create -p of an existing dataset succeeds" zfs create -p p/pa/pb
t_fail  "create without -p of an existing dataset fails" zfs create p/pa/pb
t_fail_with "a name with an empty component is no alias" 1 "does not exist" zfs list p/pa//pb
t_fail_with "... nor one with a trailing slash"        1 "does not exist" zfs list p/pa/
t_ok    "destroy -r cleans up"                  zfs destroy -r p/pa

t_eq    "space accounting holds for the whole pool at the end" "$(space_bad p)" ""
t_done
