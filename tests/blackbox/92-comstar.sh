#!/usr/bin/env bash
# COMSTAR: the blog's sbdadm/stmfadm sequence verbatim (through symlinked personalities), the
# model's persistence across tarnd restarts, the busy rule with and without tarnd, bad input,
# CHAP secrets that are never printed.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tarnd.sh"

mkdir -p "$T/bin"
for p in sbdadm stmfadm itadm; do ln -s "$TARN" "$T/bin/$p"; done
# shellcheck disable=SC2086
sbdadm()  { $TARN_WRAP "$T/bin/sbdadm" "$@"; }
# shellcheck disable=SC2086
stmfadm() { $TARN_WRAP "$T/bin/stmfadm" "$@"; }
# shellcheck disable=SC2086
itadm()   { $TARN_WRAP "$T/bin/itadm" "$@"; }

f1=$(mkvdev f1 1G)
t_ok   "create pool other"                zpool create other "$f1"
t_ok   "create the backup volume"         zfs create -V 64M other/backups
t_ok   "a second volume"                  zfs create -s -V 32M other/vm2
t_ok   "a filesystem"                     zfs create other/fs

# ---- the blog, standalone ----
t_ok   "sbdadm create-lu /dev/zvol/rdsk/other/backups" sbdadm create-lu /dev/zvol/rdsk/other/backups
t_match "Created the following LU:"       "$T_OUT" '^Created the following LU:$'
t_match "GUID, size and source"           "$T_OUT" '^600144f0[0-9a-f]{24}  67108864 +/dev/zvol/rdsk/other/backups$'
GUID=$(printf '%s\n' "$T_OUT" | awk '/^600144f0/{print $1}')
UGUID=$(printf '%s' "$GUID" | tr a-f A-F)
t_ok   "itadm create-target"              itadm create-target
t_match "target created"                  "$T_OUT" '^Target iqn\.2010-09\.org\.tarn:[0-9a-f-]{36} successfully created$'
IQN=$(printf '%s\n' "$T_OUT" | awk '{print $2}')
t_ok   "stmfadm create-tg tg1"            stmfadm create-tg tg1
t_ok   "stmfadm add-tg-member -g tg1 <iqn>" stmfadm add-tg-member -g tg1 "$IQN"
t_ok   "stmfadm add-view -t tg1 <GUID>"   stmfadm add-view -t tg1 "$GUID"
t_ok   "stmfadm modify-lu -p wcd=false <GUID>" stmfadm modify-lu -p wcd=false "$GUID"
t_ok   "stmfadm list-lu -v"               stmfadm list-lu -v
lu_v=$T_OUT
t_match "LU Name (upper case)"            "$lu_v" "^LU Name: $UGUID\$"
t_match "Operational Status"              "$lu_v" '^    Operational Status: Online$'
t_match "Provider Name"                   "$lu_v" '^    Provider Name     : sbd$'
t_match "View Entry Count"                "$lu_v" '^    View Entry Count  : 1$'
t_match "Data File"                       "$lu_v" '^    Data File         : /dev/zvol/rdsk/other/backups$'
t_match "Size"                            "$lu_v" '^    Size              : 67108864$'
t_match "Block Size"                      "$lu_v" '^    Block Size        : 512$'
t_match "Writeback Cache enabled (wcd=false)" "$lu_v" '^    Writeback Cache   : Enabled$'
t_ok   "list-view -l"                     stmfadm list-view -l "$GUID"
t_eq   "the view"                         "$T_OUT" "View Entry: 0
    Host group   : All
    Target group : tg1
    LUN          : 0"
t_ok   "list-tg -v"                       stmfadm list-tg -v
t_eq   "tg1 and its member"               "$T_OUT" "Target Group: tg1
	Member: $IQN"
t_ok   "sbdadm list-lu"                   sbdadm list-lu
t_match "Found 1 LU(s)"                   "$T_OUT" '^Found 1 LU\(s\)$'
t_ok   "stmfadm list-target -v"           stmfadm list-target -v
t_match "target listed"                   "$T_OUT" "^Target: $IQN\$"
t_eq   "stmf.conf is mode 0600"           "$(stat -c %a "$TARN_HOME/stmf.conf")" "600"

# ---- busy without tarnd ----
t_ok   "snapshot"                         zfs snapshot other/backups@s1
t_fail_with "destroy an LU's volume: busy"  1 "dataset is busy" zfs destroy other/backups
t_fail_with "destroy -r its pool's root: busy" 1 "dataset is busy" zfs destroy -r other
t_fail_with "rename: busy"                1 "dataset is busy" zfs rename other/backups other/b2
t_fail_with "rollback: busy"              1 "dataset is busy" zfs rollback other/backups@s1
t_ok   "a stream to receive"              eval 'zfs send other/backups@s1 >"$T/s1"'
t_fail_with "receive -F into it: busy"    1 "dataset is busy" eval 'zfs receive -F other/backups <"$T/s1"'
t_ok   "the volume is still there"        zfs list other/backups
t_ok   "other volumes are not busy"       zfs snapshot other/vm2@x
t_ok   "... destroy works there"          zfs destroy other/vm2@x

# ---- tarnd: the same model, the same rules ----
t_ok   "start tarnd"                      tarnd_start --no-nbd
t_ok   "list-lu -v through tarnd"         stmfadm list-lu -v
t_eq   "same output as standalone"        "$T_OUT" "$lu_v"
t_fail_with "destroy through tarnd: busy" 1 "dataset is busy" zfs destroy other/backups
t_fail_with "rename through tarnd: busy"  1 "dataset is busy" zfs rename other/backups other/b2
t_fail_with "receive through tarnd: busy" 1 "dataset is busy" eval 'zfs receive -F other/backups <"$T/s1"'
t_ok   "LU on a snapshot (read-only)"     sbdadm create-lu /dev/zvol/dsk/other/backups@s1
SGUID=$(printf '%s\n' "$T_OUT" | awk '/^600144f0/{print $1}')
t_ok   "create-lu of a sparse volume"     sbdadm create-lu other/vm2
VGUID=$(printf '%s\n' "$T_OUT" | awk '/^600144f0/{print $1}')
t_ok   "create-hg esx"                    stmfadm create-hg esx
t_ok   "add-hg-member"                    stmfadm add-hg-member -g esx iqn.1998-01.com.vmware:esx1 iqn.1998-01.com.vmware:esx2
t_ok   "add-view -h esx -n 3"             stmfadm add-view -h esx -n 3 "$VGUID"
t_ok   "add-view (auto LUN, all)"         stmfadm add-view "$SGUID"
t_ok   "list-view of the snapshot LU"     stmfadm list-view -l "$SGUID"
t_match "auto LUN 1 (0 is taken for all hosts on tg1)" "$T_OUT" '^    LUN          : 1$'
t_fail_with "LUN 0 for all overlaps tg1's LUN 0" 1 "LUN already in use" stmfadm add-view -n 0 "$VGUID"
t_fail_with "an identical view"           1 "view entry exists" stmfadm add-view -t tg1 "$GUID"
t_fail_with "destroy the snapshot LU: busy" 1 "dataset is busy" zfs destroy other/backups@s1
t_ok   "list-lu -v, three LUs"            stmfadm list-lu -v
t_match "snapshot LU is write protected"  "$T_OUT" '^    Write Protect     : Enabled$'
all_v=$T_OUT
t_ok   "list-hg -v"                       stmfadm list-hg -v
hg_v=$T_OUT

# persistence across restarts
t_ok   "stop tarnd"                       tarnd_stop
t_eq   "tarnd exited 0"                   "$TARND_RC" "0"
t_ok   "start it again"                   tarnd_start --no-nbd --no-iscsi
t_ok   "list-lu -v after the restart"     stmfadm list-lu -v
t_eq   "same LUs"                         "$T_OUT" "$all_v"
t_ok   "list-hg -v after the restart"     stmfadm list-hg -v
t_eq   "same host groups"                 "$T_OUT" "$hg_v"
t_fail_with "still busy after the restart" 1 "dataset is busy" zfs destroy other/vm2

# a change made without tarnd is picked up (SIGHUP: at once)
t_ok   "standalone edit while tarnd runs" env TARN_NO_DAEMON=1 "$T/bin/stmfadm" create-tg tg-standalone
kill -HUP "$TARND_PID"
sleep 0.5
t_ok   "list-tg through tarnd"            stmfadm list-tg
t_match "the new group is there"          "$T_OUT" '^Target Group: tg-standalone$'
t_match "tarnd re-read stmf.conf"         "$(cat "$T/tarnd.log")" 'iSCSI: configuration re-read'

# deleting the LU frees the volume
t_ok   "remove-view -a"                   stmfadm remove-view -l "$VGUID" -a
t_fail_with "list-view: no views"         1 "no views found" stmfadm list-view -l "$VGUID"
t_ok   "sbdadm delete-lu"                 sbdadm delete-lu "$VGUID"
t_ok   "now the volume can be destroyed"  zfs destroy other/vm2
t_ok   "delete-lu of the snapshot LU (its view goes too)" sbdadm delete-lu "$SGUID"
t_ok   "the snapshot can be destroyed"    zfs destroy other/backups@s1

# ---- bad input ----
t_fail_with "create-lu twice"             1 "in use" sbdadm create-lu /dev/zvol/rdsk/other/backups
t_fail_with "create-lu of a missing volume" 1 "does not exist" sbdadm create-lu /dev/zvol/rdsk/other/nope
t_fail_with "create-lu of a filesystem"   1 "not a volume" sbdadm create-lu /dev/zvol/rdsk/other/fs
t_fail_with "create-lu of a device"       1 "not a volume" sbdadm create-lu /dev/sda
t_fail_with "create-lu of a missing pool" 1 "sbdadm" sbdadm create-lu /dev/zvol/rdsk/nopool/v
t_fail_with "create-lu without operand"   2 "missing" sbdadm create-lu
t_fail_with "short GUID"                  1 "must be 32 hexadecimal digits long" stmfadm add-view 600144f0
t_fail_with "unknown GUID"                1 "not found" stmfadm add-view 600144F0000000000000000000000000
t_fail_with "LUN out of range"            1 "invalid LUN" stmfadm add-view -n 16384 "$GUID"
t_fail_with "unknown host group"          1 "not found" stmfadm add-view -h nohg "$GUID"
t_fail_with "bad IQN"                     1 "not an iSCSI name" stmfadm add-tg-member -g tg1 foo.bar
t_fail_with "bad IQN date"                1 "invalid IQN" stmfadm add-hg-member -g esx iqn.2010-13.org.x:y
t_fail_with "a target in two groups"      1 "already exists" eval 'stmfadm create-tg tg2 && stmfadm add-tg-member -g tg2 "$IQN"'
t_fail_with "member without -g"           2 "-g" stmfadm add-tg-member "$IQN"
t_fail_with "delete a group in a view"    1 "used by a view" stmfadm delete-tg tg1
t_fail_with "wcd=maybe"                   1 "invalid property value" stmfadm modify-lu -p wcd=maybe "$GUID"
t_fail_with "unknown property"            1 "invalid property" stmfadm modify-lu -p size=1G "$GUID"
t_fail_with "unknown subcommand"          2 "unknown subcommand" stmfadm frobnicate
t_fail_with "unknown option"              2 "" stmfadm list-lu -x
t_ok   "stmfadm --help"                   stmfadm --help
t_match "help shows add-view"             "$T_OUT" 'add-view \[-h host group\]'
t_ok   "sbdadm --help"                    sbdadm --help
t_ok   "itadm --help"                     itadm --help
t_ok   "tarn iscsi --help"                tarn iscsi --help
t_ok   "tarn iscsi list-lu (stmfadm's)"   tarn iscsi list-lu
t_match "lists the LU"                    "$T_OUT" "^LU Name: $UGUID\$"
t_ok   "tarn iscsi stmfadm list-target"   tarn iscsi stmfadm list-target
t_match "lists the target"                "$T_OUT" "^Target: $IQN\$"
t_fail_with "bad target name"             1 "invalid IQN" itadm create-target -n iqn.20x0-01.org.x

# ---- CHAP secrets: stored, never printed ----
SECRET=never-print-this-one
MUTUAL=mutual-hush-hush-42
t_fail_with "-a chap without a secret"    1 "needs a CHAP secret" itadm create-target -n iqn.2010-09.org.tarn:chap -a chap
t_ok   "create-target with CHAP (secrets from the environment, through tarnd)" \
       env TARN_CHAP_SECRET=$SECRET TARN_CHAP_MUTUAL_SECRET=$MUTUAL \
       "$T/bin/itadm" create-target -n iqn.2010-09.org.tarn:chap -a chap -u esxuser -s -m
t_ok   "list-target -v"                   itadm list-target -v iqn.2010-09.org.tarn:chap
t_match "auth chap"                       "$T_OUT" 'auth: +chap$'
t_match "secret shows as set"             "$T_OUT" 'chapsecret: +set$'
t_match "mutual secret set"               "$T_OUT" 'targetchapsecret: +set$'
t_ok   "secret from stdin"                eval 'echo another-secret-99 | itadm modify-target -s iqn.2010-09.org.tarn:chap'
t_fail_with "short secret refused"        1 "12 to 255" eval 'echo tiny | itadm modify-target -s iqn.2010-09.org.tarn:chap'
t_fail_with "no secret on stdin"          1 "no CHAP secret" eval 'itadm modify-target -s iqn.2010-09.org.tarn:chap </dev/null'
t_ok   "remove mutual CHAP"               itadm modify-target -M iqn.2010-09.org.tarn:chap
t_ok   "standalone: secret from the environment" \
       env TARN_NO_DAEMON=1 TARN_CHAP_SECRET=standalone-secret "$T/bin/itadm" modify-target -s iqn.2010-09.org.tarn:chap
t_ok   "every listing"                    eval 'stmfadm list-target -v; itadm list-target -v; stmfadm list-lu -v; tarn iscsi list-target -v'
everything="$T_OUT$T_ERR$(cat "$T/tarnd.log")"
for s in $SECRET $MUTUAL another-secret-99 standalone-secret tiny; do
  t_ok "'$s' is printed nowhere"          eval '! printf "%s" "$everything" | grep -q -- "$s"'
done
t_match "the secret is stored"            "$(cat "$TARN_HOME/stmf.conf")" 'chap-secret=standalone-secret'
t_eq   "stmf.conf is still mode 0600"     "$(stat -c %a "$TARN_HOME/stmf.conf")" "600"
t_ok   "delete-target"                    itadm delete-target iqn.2010-09.org.tarn:chap
t_fail_with "delete it again"             1 "not found" itadm delete-target iqn.2010-09.org.tarn:chap

# ---- a corrupt stmf.conf: clear errors, nothing destroyed ----
cp "$TARN_HOME/stmf.conf" "$T/stmf.good"
printf 'tarn-stmf 1\nlu 600144F0 other/backups wcd=false alias=- serial=-\n' >"$TARN_HOME/stmf.conf"
t_fail_with "list-lu names file and line" 1 "stmf.conf:2:" stmfadm list-lu
t_fail_with "destroy refuses when the LUs cannot be read" 1 "busy" zfs destroy other/backups
cp "$T/stmf.good" "$TARN_HOME/stmf.conf"
kill -HUP "$TARND_PID"
t_ok   "a good file again"                stmfadm list-lu

# ---- a pool holding an LU cannot be exported ----
luvdev=$(mkvdev luvdev 256M)
t_ok   "pool lupool with a volume"            eval 'zpool create lupool "$luvdev" && zfs create -V 16M lupool/lu'
t_ok   "make it an LU"                    sbdadm create-lu /dev/zvol/rdsk/lupool/lu
gx=$(stmfadm list-lu -v | awk '/LU Name/{g=$3} /Data File *: \/dev\/zvol\/rdsk\/lupool\/lu/{print g}')
t_fail_with "zpool export refuses: an LU lives there" 1 "busy" zpool export lupool
t_ok   "delete the LU"                    sbdadm delete-lu "$gx"
t_ok   "then the export works"            zpool export lupool

t_ok   "stop tarnd"                       tarnd_stop
t_eq   "tarnd exited 0"                   "$TARND_RC" "0"
t_tarnd_log_clean "tarnd log has no sanitizer report"
t_done
