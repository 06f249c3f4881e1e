# shellcheck shell=bash
# tests/lib/sanoid.sh — helpers for the tests that let the unmodified peer tools sanoid and
# syncoid (Debian package `sanoid` 2.1.0, /usr/sbin) drive tarn (tests/blackbox/7*.sh).
# Source it after common.sh:
#
#   . "$(dirname "$0")/../lib/common.sh"
#   . "$(dirname "$0")/../lib/sanoid.sh"
#
# It skips the whole script if sanoid/syncoid (or pv, mbuffer) are missing, then makes $T/bin
# with `zfs` and `zpool` that run $TARN -- symlinks, so that tarn sees argv[0] = zfs/zpool and
# `ps` shows `zfs receive ...` as on a real system (syncoid and sanoid grep `ps` for that); with
# TARN_WRAP set, small scripts running `$TARN_WRAP $TARN zfs|zpool "$@"` instead -- and puts
# $T/bin first in PATH. TARN_HOME is the scratch dir's (common.sh), so the tools only ever see
# this test's pools; TZ=UTC makes the snapshot names (local time in sanoid) predictable.
# Never touches /etc/sanoid: every sanoid call gets its own --configdir/--cache-dir/--run-dir.
#
# What it gives:
#   U                        a suffix unique to this run (from $T) for pool names: sanoid and
#                            syncoid look at every process on the machine (`ps -Ao args=`) for
#                            a `zfs send|receive ... <dataset>` and defer or refuse while one
#                            runs, so a parallel run of the same test (another checkout, the
#                            sanitizer build) must use other dataset names
#   descendants PID          every descendant process of PID (depth first)
#   find_child PID REGEX     the first descendant of PID whose command line (args joined by
#                            spaces) matches the extended REGEX, not counting `sh -c` shells
#                            (syncoid runs its pipeline in one); status 1 if none
#   ZFS_RECEIVE, ZFS_SEND    REGEXes for the command line of a `zfs receive`/`zfs send` (also
#                            as run through TARN_WRAP: "... tarn zfs receive ...")
#   proc_rchar PID           bytes PID has read so far (/proc/PID/io rchar; 0 if gone)
#   proc_wchar PID           bytes PID has written so far (wchar)

for _c in sanoid syncoid pv mbuffer; do
  command -v "$_c" >/dev/null 2>&1 ||
    [ -x "/usr/sbin/$_c" ] || t_skip_all "$_c is not installed (scripts/install-deps.sh installs the sanoid package)"
done
unset _c
export PATH=$T/bin:$PATH:/usr/sbin
export TZ=UTC
mkdir -p "$T/bin"
for _c in zfs zpool; do
  if [ -z "$TARN_WRAP" ]; then
    ln -s "$TARN" "$T/bin/$_c"
  else
    printf '#!/bin/sh\nexec %s "%s" %s "$@"\n' "$TARN_WRAP" "$TARN" "$_c" >"$T/bin/$_c"
    chmod +x "$T/bin/$_c"
  fi
done
unset _c
[ "$(type -P zfs)" = "$T/bin/zfs" ] || t_skip_all "cannot put $T/bin first in PATH"

# shellcheck disable=SC2034  # used by the scripts that source this
U=$(printf '%s' "${T##*.}" | tr 'A-Z' 'a-z' | tr -cd 'a-z0-9')

descendants() {
  local c
  for c in $(pgrep -P "$1" 2>/dev/null); do
    echo "$c"
    descendants "$c"
  done
}

find_child() {
  local p args
  for p in $(descendants "$1"); do
    { args=$(tr '\0' ' ' <"/proc/$p/cmdline"); } 2>/dev/null || continue
    case $args in sh\ -c\ * | /bin/sh\ -c\ *) continue ;; esac
    if printf '%s\n' "$args" | grep -qE -- "$2"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# shellcheck disable=SC2034
ZFS_RECEIVE='(^|[ /])zfs (receive|recv) '
# shellcheck disable=SC2034
ZFS_SEND='(^|[ /])zfs send '
proc_rchar() { awk '$1 == "rchar:" { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$1/io" 2>/dev/null || echo 0; }
proc_wchar() { awk '$1 == "wchar:" { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$1/io" 2>/dev/null || echo 0; }
