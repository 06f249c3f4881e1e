#!/usr/bin/env bash
# Bad pool files: `zpool import` and `zpool create` must refuse them with exit status 1 and a
# one-line error that gives the reason (and names the file where tarn can know which file it
# is), never crash, and never change a byte of the file (md5sum before and after).
#
# Import cases (each file alone in its own directory, `zpool import -d DIR NAME`):
#   - a pool file truncated (to 96M of 128M, to 40M, to 512K, to 0 bytes)
#   - a file that is not a pool: random bytes, all zeros
#   - a pool whose two label copies are both damaged (one flipped bit each)
#   - a pool whose labels claim format version 2 (both copies patched and re-sealed with the
#     right xxh3-128 checksum by tests/lib/pooltool.c), and, without the re-seal, a patched
#     version field that the label checksum no longer covers (rejected as corrupt)
# For files whose labels cannot be read at all (not a pool, both labels damaged, too short to
# hold a label) tarn cannot know they were meant to be pool NAME, so "no such pool" (naming
# the pool) is accepted there; where a label is readable (truncated pools, newer version) the
# error must name the file and the reason.
# Create cases: a file smaller than 64M (and 64M - 4K), a missing file, a file of an active
# pool without -f; and, as a control, exactly 64M works.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/fault.sh
. "$(dirname "$0")/../lib/fault.sh"

HAVE_POOLTOOL=1
build_pooltool || HAVE_POOLTOOL=0
MiB=1048576

# refuse DESC FILE ERE CMD...: CMD (a tarn command) must exit 1 with one line on stderr matching
# ERE, no sanitizer report, FILE unchanged, and no pool left imported
refuse() {
  local desc=$1 file=$2 re=$3 before after; shift 3
  before=$(md5 "$file")
  x "$@"
  after=$(md5 "$file")
  [ "$X_RC" -eq 1 ] || prob "expected exit status 1: $(x_desc)"
  x_sanitizer && prob "sanitizer report: $(head -n 5 "$X_ERR")"
  [ "$(wc -l <"$X_ERR")" -eq 1 ] || prob "expected a one-line error, got $(wc -l <"$X_ERR") lines: $(tr '\n' '|' <"$X_ERR")"
  grep -qE "$re" "$X_ERR" || prob "the error does not match /$re/: $(x_errline)"
  [ "$before" = "$after" ] || prob "the file changed (md5 $before -> $after)"
  local err; err=$(x_errline)
  x zpool list -H -o name
  [ -s "$X_OUT" ] && prob "a pool is imported afterwards: $(tr '\n' ' ' <"$X_OUT")"
  t_check "$desc"
  t_diag "  $err"
}

# a pool in its own directory: mkpool NAME SIZE -> prints the file (pool created and exported)
mkpool() {
  mkdir -p "$T/$1"
  local f
  f=$(mkvdev "$1/disk" "$2")
  x zpool create "$1" "$f"; x_ok || { t_diag "zpool create $1: $(x_desc)"; return 1; }
  x zfs create -V 8M "$1/vol"; x_ok || { t_diag "zfs create: $(x_desc)"; return 1; }
  head -c $MiB /dev/urandom >"$T/$1.data"
  x volume write "$1/vol" <"$T/$1.data"; x_ok || { t_diag "volume write: $(x_desc)"; return 1; }
  x zpool export "$1"; x_ok || { t_diag "zpool export $1: $(x_desc)"; return 1; }
  printf '%s\n' "$f"
}

# --- control: a good pool imports ------------------------------------------------------------
f=$(mkpool good 128M)
t_ok "control: a good exported pool imports" zpool import -d "$T/good" good
t_ok "control: ... and reads back"            eval 'tarn volume read good/vol --length 1048576 | cmp - "$T/good.data"'
t_ok "control: export it again"               zpool export good

# --- truncated pools ----------------------------------------------------------------------------
for size in 96M 40M; do
  f=$(mkpool "trunc$size" 128M)
  truncate -s "$size" "$f"
  refuse "pool file truncated from 128M to $size: import fails naming the file, file unchanged" "$f" \
    "$f.*truncated|truncated.*$f" zpool import -d "$T/trunc$size" "trunc$size"
done
for size in 512K 0; do
  f=$(mkpool "trunc$size" 128M)
  truncate -s "$size" "$f"
  refuse "pool file truncated to $size (no room for the labels): import fails cleanly, file unchanged" "$f" \
    "trunc$size|$f" zpool import -d "$T/trunc$size" "trunc$size"
done

# --- not a pool -------------------------------------------------------------------------------
mkdir -p "$T/rand" "$T/zero"
f=$(mkvdev rand/disk 64M)
head -c $((2 * MiB)) /dev/urandom | dd of="$f" conv=notrunc status=none
refuse "a file of random bytes: import by name fails cleanly, file unchanged" "$f" \
  "rand|$f" zpool import -d "$T/rand" rand
x zpool import -d "$T/rand"
{ x_clean_fail || x_ok; } || prob "listing: $(x_desc)"
grep -q 'pool:' "$X_OUT" && prob "the listing offers a pool: $(head -n 3 "$X_OUT")"
t_check "a file of random bytes: 'zpool import -d DIR' lists no pool and does not crash"
f=$(mkvdev zero/disk 64M)
refuse "a file of zeros: import by name fails cleanly, file unchanged" "$f" \
  "zero|$f" zpool import -d "$T/zero" zero

# --- both labels damaged ------------------------------------------------------------------------
if [ $HAVE_POOLTOOL = 1 ]; then
  f=$(mkpool bothlabels 128M)
  "$POOLTOOL" flip "$f" 64 0
  "$POOLTOOL" flip "$f" $((4096 + 64)) 0
  refuse "both label copies damaged: import fails cleanly, file unchanged" "$f" \
    "bothlabels|$f" zpool import -d "$T/bothlabels" bothlabels

  # --- a label from the future --------------------------------------------------------------
  f=$(mkpool newer 128M)
  "$POOLTOOL" setver "$f" 0 2
  "$POOLTOOL" setver "$f" 1 2
  read -r ok ver _ <<<"$("$POOLTOOL" label "$f" 0)"
  t_eq "pooltool re-sealed label copy 0 with version 2" "$ok $ver" "1 2"
  refuse "labels claim format version 2: import fails naming the file and the version, file unchanged" "$f" \
    "$f.*(version|newer)|(version|newer).*$f" zpool import -d "$T/newer" newer
  x zpool import -d "$T/newer"
  { x_clean_fail || x_ok; } || prob "listing: $(x_desc)"
  t_check "labels claim format version 2: 'zpool import -d DIR' does not crash"

  f=$(mkpool newer2 128M)
  # patch the version field (offset 8, little-endian u32) without re-sealing: the label
  # checksum covers it, so both copies are simply corrupt
  printf '\002' | dd of="$f" bs=1 seek=8 conv=notrunc status=none
  printf '\002' | dd of="$f" bs=1 seek=$((4096 + 8)) conv=notrunc status=none
  refuse "version field patched without the checksum: import fails cleanly (label corrupt), file unchanged" "$f" \
    "newer2|$f" zpool import -d "$T/newer2" newer2
else
  t_ok "# SKIP no pooltool (needs cc and libxxhash): both-labels and version cases" true
fi

# --- create refusals --------------------------------------------------------------------------
mkdir -p "$T/small"
for size in 32M $((64 * MiB - 4096)); do
  f=$(mkvdev "small/f$size" "$size")
  # zpool create speaks OpenZFS here: "one or more devices is less than the minimum size (64M)"
  refuse "create on a $size file fails (less than the minimum size), file unchanged" "$f" \
    "less than the minimum size \\(64M\\)" zpool create small "$f"
done
t_fail_with "create on a missing file fails naming it" 1 "$T/small/missing" zpool create small "$T/small/missing"
f=$(mkvdev small/exact 64M)
t_ok "create on exactly 64M works" zpool create small "$f"
t_ok "destroy it" zpool destroy small

mkdir -p "$T/busy"
f=$(mkvdev busy/disk 128M)
t_ok "create pool busy" zpool create busy "$f"
refuse_active() {
  local before
  before=$(md5 "$f")
  x zpool create other "$f"
  [ "$X_RC" -eq 1 ] || prob "expected exit status 1: $(x_desc)"
  grep -qE "busy|active|in use" "$X_ERR" || prob "the error does not say the file is in use: $(x_errline)"
  [ "$(md5 "$f")" = "$before" ] || prob "the file changed"
  x zpool list -H -o name
  [ "$(cat "$X_OUT")" = busy ] || prob "pools afterwards: $(tr '\n' ' ' <"$X_OUT")"
  t_check "create on a file of an active pool (no -f) fails, file unchanged"
}
refuse_active

t_done
