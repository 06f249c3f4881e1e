#!/usr/bin/env bash
# sanoid (Debian's 2.1.0, unmodified) drives tarn as `zfs`/`zpool` (tests/lib/sanoid.sh puts
# symlinks first in PATH). What sanoid runs and parses: /work/shared/reference/zfs-behaviour.md
# section 5 -- `zfs get -Hrpt snapshot creation` (its snapshot cache), `zfs snapshot`,
# `zfs destroy`, `zpool list -o name,size,cap,health,free P`, `zpool status P`,
# `zpool list -H -o cap P`.
#
# Pool $P ("p" plus a per-run suffix, see U in tests/lib/sanoid.sh; 1G file): volume $P/vm (64M, 4M of data) with a template hourly=2 daily=2, and $P/vm2
# (hourly=2 only) for pruning.
#   - --take-snapshots makes autosnap_<YYYY-MM-DD_HH:MM:SS>_hourly and _daily of $P/vm, with
#     creation = now; a second run (its cache deleted, so it lists tarn's snapshots afresh)
#     takes none; `zfs get -Hrpt snapshot creation` has the lines sanoid's regex reads.
#   - recursion: `recursive = zfs` (one `zfs snapshot -r`) and `recursive = yes` (sanoid lists
#     the children with `zfs list -o name -t filesystem,volume -Hr` and snapshots each) on
#     containers with two volumes: one hourly on each dataset, all with the same name.
#   - --monitor-snapshots: OK while fresh; WARN (exit 1) and CRIT (exit 2) when the newest hourly
#     is 2h / 7h old; CRIT "no monthly snapshots at all" when a config wants monthlies.
#   - pruning: sanoid decides by the age of `creation` against its own clock, which we cannot
#     move in tarn, so sanoid's perl clock is shifted instead (PERL5OPT=-MSanoidClock: time()
#     and localtime() run SANOID_CLOCK_SHIFT seconds ahead). Runs at +0h..+3h take four
#     hourlies (creation times a second apart); --prune-snapshots at +3h destroys the two
#     oldest and keeps the two newest and a manual snapshot.
#   - --monitor-health: OK with the values of `zpool list`; after a flipped bit in a data block
#     and a failed read, `zpool status` counts a checksum error on the device and sanoid warns
#     ("(<device>:cksum errors)", exit 1 -- sanoid's rule for an ONLINE device with errors).
#   - --monitor-capacity on a 256M pool $C: OK below capacity_warn (10%), WARNING at >= 10%,
#     CRITICAL at >= 20% (thresholds lowered in the config: ZFS's slop space keeps a small
#     pool from ever reaching the default 80/95%).
# Every sanoid call has its own --configdir/--cache-dir/--run-dir under $T. ~10 s.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/sanoid.sh
. "$(dirname "$0")/../lib/sanoid.sh"

MiB=1048576
P=p$U C=c$U
SNAPRE="^$P/vm@autosnap_[0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{2}:[0-9]{2}:[0-9]{2}_"

# sanoid CONF ARGS...: sanoid with config dir $T/CONF and its own cache and run dirs
sanoid_() { local c=$1; shift; sanoid --configdir "$T/$c" --cache-dir "$T/cache-$c" --run-dir "$T/run-$c" "$@"; }
# sanoid_at SHIFT CONF ARGS...: the same with sanoid's clock SHIFT seconds ahead
sanoid_at() {
  local s=$1; shift
  PERL5LIB=$T/perl PERL5OPT=-MSanoidClock SANOID_CLOCK_SHIFT=$s sanoid_ "$@"
}
# conf NAME: write stdin to $T/NAME/sanoid.conf
conf() { mkdir -p "$T/$1" && cat >"$T/$1/sanoid.conf"; }
snaps() { zfs list -H -o name -t snapshot "$1" | sort; }

mkdir -p "$T/perl"
cat >"$T/perl/SanoidClock.pm" <<'EOF'
package SanoidClock;
# loaded by PERL5OPT=-MSanoidClock before sanoid is compiled: moves perl's clock
my $shift;
BEGIN {
  $shift = $ENV{SANOID_CLOCK_SHIFT} || 0;
  *CORE::GLOBAL::time = sub () { CORE::time() + $shift };
  *CORE::GLOBAL::localtime = sub (;$) { @_ ? CORE::localtime($_[0]) : CORE::localtime(CORE::time() + $shift) };
}
1;
EOF

# sanoid's due times are xx:00:00 (hourly) and 23:59:00 (daily): keep the next ~20 s clear
# of them, so that the "second run takes nothing" checks do not straddle one
now_s=$(date -u +%s)
in_hour=$((now_s % 3600)) in_day=$((now_s % 86400))
if [ $in_hour -ge 3580 ]; then sleep $((3601 - in_hour)); fi
if [ $in_day -ge $((86340 - 20)) ] && [ $in_day -lt 86340 ]; then sleep $((86341 - in_day)); fi

f=$(mkvdev p.img 1G)
t_ok "create pool $P (1G file)"                  zpool create $P "$f"
t_ok "create volume $P/vm (64M)"                   zfs create -V 64M $P/vm
head -c $((4 * MiB)) /dev/urandom >"$T/d4"
t_ok "write 4M to $P/vm"                           tarn volume write $P/vm <"$T/d4"

conf main <<EOF
[$P/vm]
	use_template = vm

[template_vm]
	hourly = 2
	daily = 2
	monthly = 0
	yearly = 0
	autosnap = yes
	autoprune = yes
EOF

# --- take ----------------------------------------------------------------------------------
t0=$(date +%s)
t_ok "sanoid --take-snapshots"                    sanoid_ main --take-snapshots --verbose
out1=$T_OUT
t_ok "  list $P/vm's snapshots"                    snaps $P/vm
s1=$T_OUT
t_eq "  two snapshots"                            "$(printf '%s\n' "$s1" | grep -c .)" 2
t_match "  an autosnap_<date>_hourly"             "$s1" "${SNAPRE}hourly\$"
t_match "  an autosnap_<date>_daily"              "$s1" "${SNAPRE}daily\$"
t_match "  named after today (UTC)"               "$s1" "@autosnap_$(date -u +%Y-%m-%d)_"
t_match "  sanoid said what it took"              "$out1" "^taking snapshot $P/vm@autosnap_.*_hourly$"
t_ok "zfs get -Hrpt snapshot creation (sanoid's cache listing)" zfs get -Hrpt snapshot creation
t_match "  line: <name>TAB creation TAB <epoch> TAB -" "$T_OUT" "${SNAPRE}hourly	creation	[0-9]+	-\$"
cr=$(printf '%s\n' "$T_OUT" | awk -F'\t' '$1 ~ /_hourly$/ { print $3 }')
t_ok "  creation is the time it was taken ($cr vs $t0)" test "${cr:-0}" -ge $((t0 - 2)) -a "${cr:-0}" -le $(($(date +%s) + 2))
t_ok "  sanoid's cache holds the listing"        grep -qE "_hourly	creation	[0-9]+" "$T/cache-main/snapshots.txt"

rm -f "$T/cache-main/snapshots.txt"   # make the next run list tarn's snapshots itself
t_ok "sanoid --take-snapshots again (cache deleted)" sanoid_ main --take-snapshots --verbose
t_match "  it listed the snapshots from zfs"      "$T_OUT" 'cache expired - updating from zfs list'
t_ok "  list $P/vm's snapshots"                    snaps $P/vm
t_eq "  no new snapshot"                          "$T_OUT" "$s1"

# --- recursion: recursive = zfs (one `zfs snapshot -r`) and = yes (sanoid lists the children
# with `zfs list -o name -t filesystem,volume -Hr` and snapshots each) ----------------------------
for c in vms vms2; do
  t_ok "create container $P/$c with volumes a and b" eval "zfs create $P/$c && zfs create -s -V 8M $P/$c/a && zfs create -s -V 8M $P/$c/b"
done
conf rec <<EOF
[$P/vms]
	use_template = r
	recursive = zfs

[$P/vms2]
	use_template = r
	recursive = yes

[template_r]
	hourly = 1
	daily = 0
	monthly = 0
	yearly = 0
EOF
t_ok "sanoid --take-snapshots (recursive = zfs / yes)" sanoid_ rec --take-snapshots --verbose
t_match "  one recursive snapshot of $P/vms"       "$T_OUT" "^taking snapshot $P/vms@autosnap_.*_hourly \(zfs recursive\)$"
for c in vms vms2; do
  t_ok "  list $P/$c's snapshots"                  zfs list -H -o name -t snapshot -r "$P/$c"
  t_eq "  $P/$c, $P/$c/a and $P/$c/b have one hourly each" \
    "$(printf '%s\n' "$T_OUT" | sed -E 's/@autosnap_[0-9-]{10}_[0-9:]{8}_hourly$/@H/' | sort)" \
    "$(printf '%s\n' "$P/$c@H" "$P/$c/a@H" "$P/$c/b@H" | sort)"
  # one name only where the snapshot is one atomic `zfs snapshot -r` (recursive = zfs): with
  # recursive = yes sanoid snapshots each dataset on its own, and the clock may tick in between
  [ "$c" = vms ] && t_eq "  with one name (atomic)"  "$(printf '%s\n' "$T_OUT" | sed 's/.*@//' | sort -u | wc -l)" 1
done

# --- monitor snapshots ----------------------------------------------------------------------
t_ok "sanoid --monitor-snapshots: fresh"          sanoid_ main --monitor-snapshots
t_eq "  OK line"                                  "$T_OUT" "OK: all monitored datasets ($P/vm) have fresh snapshots"
t_fail_with "sanoid --monitor-snapshots, clock +2h: hourly is late" 1 "" sanoid_at 7200 main --monitor-snapshots
t_match "  WARN hourly 2h old"                    "$T_OUT" "^WARN: $P/vm newest hourly snapshot is 2h 0m [0-9]+s old \(should be < 1h 30m 0s\)$"
t_fail_with "sanoid --monitor-snapshots, clock +7h: hourly is critical" 2 "" sanoid_at 25200 main --monitor-snapshots
t_match "  CRIT hourly 7h old"                    "$T_OUT" "^CRIT: $P/vm newest hourly snapshot is 7h 0m [0-9]+s old \(should be < 6h 0m 0s\)$"
conf mon <<EOF
[$P/vm]
	hourly = 2
	daily = 2
	monthly = 1
	autosnap = no
	autoprune = no
EOF
t_fail_with "sanoid --monitor-snapshots with monthly=1 wanted" 2 "" sanoid_ mon --monitor-snapshots
t_eq "  CRIT: no monthly snapshots"               "$T_OUT" "CRIT: $P/vm has no monthly snapshots at all!"

# --- prune (sanoid's clock moved ahead) ---------------------------------------------------------
t_ok "create volume $P/vm2 (16M, sparse)"          zfs create -s -V 16M $P/vm2
t_ok "manual snapshot $P/vm2@keep"                 zfs snapshot $P/vm2@keep
conf clock <<EOF
[$P/vm2]
	hourly = 2
	daily = 0
	monthly = 0
	yearly = 0
	autosnap = yes
	autoprune = yes
EOF
took=()
for h in 0 1 2 3; do
  [ $h -gt 0 ] && sleep 1.1   # creation times a second apart: sanoid sorts by them
  t_ok "sanoid --take-snapshots, clock +${h}h"    sanoid_at $((h * 3600)) clock --take-snapshots --verbose
  n=$(printf '%s\n' "$T_OUT" | sed -n "s|^taking snapshot \($P/vm2@autosnap_.*_hourly\)\$|\1|p")
  t_match "  took an hourly"                      "$n" "^$P/vm2@autosnap_.*_hourly$"
  took+=("$n")
done
t_ok "list $P/vm2's snapshots"                     snaps $P/vm2
t_eq "  four hourlies and @keep"                  "$T_OUT" "$(printf '%s\n' "${took[@]}" $P/vm2@keep | sort)"
t_ok "sanoid --prune-snapshots, clock +3h"        sanoid_at 10800 clock --prune-snapshots --verbose
t_match "  it pruned ${took[0]}"                  "$T_OUT" "^INFO: pruning ${took[0]} \.\.\. \$"
t_ok "list $P/vm2's snapshots"                     snaps $P/vm2
t_eq "  the two newest hourlies and @keep remain" "$T_OUT" "$(printf '%s\n' "${took[2]}" "${took[3]}" $P/vm2@keep | sort)"
t_ok "sanoid --prune-snapshots, clock +3h, again" sanoid_at 10800 clock --prune-snapshots --verbose
t_ok "  list $P/vm2's snapshots"                   snaps $P/vm2
t_eq "  nothing more pruned"                      "$T_OUT" "$(printf '%s\n' "${took[2]}" "${took[3]}" $P/vm2@keep | sort)"

# --- monitor health ---------------------------------------------------------------------------
t_ok "zpool list -H -o size,free,cap $P"         zpool list -H -o size,free,cap $P
IFS=$'\t' read -r size free cap <<<"$T_OUT"
t_ok "sanoid --monitor-health: healthy"           sanoid_ main --monitor-health
t_eq "  OK line with zpool list's values"         "$T_OUT" "OK ZPOOL $P : ONLINE {Size:$size Free:$free Cap:$cap} "

# a checksum error: flip a bit of a data block (as tests/blackbox/52-bitrot.sh does) and read it
. "$(dirname "$0")/../lib/fault.sh"
if build_pooltool; then
  t_ok "create $P/rot (compression=off)"           zfs create -s -V 16M -o compression=off $P/rot
  head -c $MiB /dev/urandom >"$T/d1"
  t_ok "write 1M to $P/rot"                        tarn volume write $P/rot <"$T/d1"
  head -c 4096 "$T/d1" >"$T/pat"
  t_ok "export $P"                               zpool export $P
  where=$("$POOLTOOL" find "$f" "$T/pat" | head -n 1)
  t_match "found the block in the pool file"      "$where" '^[0-9]+$'
  t_ok "flip a bit in it"                         "$POOLTOOL" flip "$f" $((${where:-0} + 100)) 3
  t_ok "import $P"                               zpool import -d "$T" $P
  t_fail_with "reading $P/rot fails: checksum"     1 "checksum" tarn volume read $P/rot
  t_ok "zpool status $P"                         zpool status $P
  t_match "  the device row counts it"            "$T_OUT" "^	  $f +ONLINE +0 +0 +[1-9]"
  t_fail_with "sanoid --monitor-health: a checksum error" 1 "" sanoid_ main --monitor-health
  t_match "  WARNING naming the device"           "$T_OUT" "^\*\*\* WARNING \*\*\* WARNING ZPOOL $P : ONLINE \{Size:[^ ]+ Free:[^ ]+ Cap:[0-9]+%\} \($f:cksum errors\) \$"
else
  t_ok "build tests/lib/pooltool.c (for the checksum error case)" false
fi

# a pool whose device has gone: CRITICAL (OpenZFS lists such a pool as UNAVAIL; either way
# sanoid must not say OK)
G=g$U
fg=$(mkvdev g.img 128M)
t_ok "create pool $G (128M file)"                 zpool create "$G" "$fg"
conf gone <<EOF
[$G]
	autosnap = no
	autoprune = no
EOF
t_ok "sanoid --monitor-health: $G healthy"        sanoid_ gone --monitor-health
mv "$fg" "$fg.away"
t_fail_with "sanoid --monitor-health: $G's device is gone" 2 "" sanoid_ gone --monitor-health
t_match "  CRITICAL"                              "$T_OUT" "^(\*\*\* CRITICAL \*\*\* )?CRITICAL ZPOOL (\{$G\} does not exist|$G : (UNAVAIL|FAULTED))"
mv "$fg.away" "$fg"

# --- monitor capacity ---------------------------------------------------------------------------
t_ok "sanoid --monitor-capacity on $P (defaults 80/95%)" sanoid_ main --monitor-capacity
t_match "  OK"                                    "$T_OUT" "^OK ZPOOL $P : [0-9]+%$"
fc=$(mkvdev c.img 256M)
t_ok "create pool $C (256M file)"                zpool create $C "$fc"
t_ok "create $C/fill (sparse 200M, compression=off)" zfs create -s -V 200M -o compression=off $C/fill
conf cap <<EOF
[$C/fill]
	autosnap = no
	autoprune = no
	monitor = no
	capacity_warn = 10
	capacity_crit = 20
EOF
# capn: the pool's CAP as a number
capn() { zpool list -H -o cap $C | tr -d '%'; }
t_ok "sanoid --monitor-capacity: empty pool"      sanoid_ cap --monitor-capacity
t_eq "  OK 0%"                                    "$T_OUT" "OK ZPOOL $C : $(capn)%"
head -c $((40 * MiB)) /dev/urandom >"$T/d40"
t_ok "write 40M to $C/fill"                        tarn volume write $C/fill <"$T/d40"
cp=$(capn)
t_ok "  cap is 10..19% ($cp%)"                     test "${cp:-0}" -ge 10 -a "${cp:-0}" -lt 20
t_fail_with "sanoid --monitor-capacity: >= capacity_warn" 1 "" sanoid_ cap --monitor-capacity
t_eq "  WARNING"                                  "$T_OUT" "*** WARNING *** WARNING ZPOOL $C : $cp%"
t_ok "write 40M more to $C/fill"                   tarn volume write $C/fill --offset $((40 * MiB)) <"$T/d40"
cp=$(capn)
t_ok "  cap is >= 20% ($cp%)"                      test "${cp:-0}" -ge 20
t_fail_with "sanoid --monitor-capacity: >= capacity_crit" 2 "" sanoid_ cap --monitor-capacity
t_eq "  CRITICAL"                                 "$T_OUT" "*** CRITICAL *** CRITICAL ZPOOL $C : $cp%"

t_done
