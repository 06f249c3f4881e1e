#!/usr/bin/env bash
# tarnd: commands reach it through the control socket with their own fds, cwd and exit status;
# several at once; one daemon per state directory; clean shutdown; hostile control requests.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tarnd.sh"

f1=$(mkvdev f1 1G)
t_ok   "standalone: create pool"        zpool create data "$f1"
t_ok   "standalone: create volume"      zfs create -V 64M data/vm
head -c 8M /dev/urandom >"$T/img"
t_ok   "standalone: write"              tarn volume write data/vm <"$T/img"
t_ok   "standalone: list"               zfs list -Hp -o name,used,refer,volsize
before=$T_OUT

t_ok   "start tarnd"                    tarnd_start --no-nbd
t_ok   "socket is there"                test -S "$TARN_HOME/tarnd.sock"
t_eq   "socket mode 0600"               "$(stat -c %a "$TARN_HOME/tarnd.sock")" "600"
t_ok   "pidfile holds the daemon's pid" test "$(cat "$T/tarnd.pid")" = "$TARND_PID"
t_ok   "list through tarnd"             zfs list -Hp -o name,used,refer,volsize
t_eq   "same listing as standalone"     "$T_OUT" "$before"
t_match "tarnd imported the pool"       "$(cat "$T/tarnd.log")" "imported pool 'data'"

# the command's own descriptors, exit status and messages
t_fail_with "error message and status" 1 "dataset does not exist" zfs destroy data/nope
t_fail_with "usage error is status 2"  2 "usage" zfs list --bogus-option
t_ok   "stdout reaches the caller"      eval 'tarn volume read --length 8M data/vm | cmp - "$T/img"'
t_fail "a reader that stops early: EPIPE, not a crash" eval 'tarn volume read data/vm | head -c 100 >/dev/null'
t_ok   "read a range"                   eval 'tarn volume read --offset 1M --length 4K data/vm >"$T/part"'
t_ok   "range is right"                 eval 'dd if="$T/img" bs=4K skip=256 count=1 status=none | cmp - "$T/part"'

# a second daemon on the same state directory refuses
t_fail_with "second daemon refuses" 1 "already running" tarn daemon --no-nbd
t_ok   "first daemon still answers"     zfs list data
t_fail_with "standalone open is refused while tarnd holds the pool" 1 "in use" \
       env TARN_NO_DAEMON=1 "$TARN" zfs snapshot data/vm@x

# relative paths resolve in the caller's working directory
mkdir -p "$T/sub"
truncate -s 256M "$T/sub/rel.img"
t_ok   "zpool create with a relative path" eval 'cd "$T/sub" && zpool create rel rel.img'
t_match "cache holds the absolute path" "$(cat "$TARN_HOME/pools.cache")" "$T/sub/rel.img"
t_ok   "new pool is usable"             zfs create -V 16M rel/v

# several commands at once
n=8; [ "$TARN_SANITIZED" = 1 ] && n=4
pids=()
for i in $(seq 1 $n); do
  zfs snapshot "data/vm@c$i" >"$T/c$i.out" 2>&1 & pids+=($!)
  zfs list -t all >"$T/l$i.out" 2>&1 & pids+=($!)
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
t_eq   "$((2 * n)) concurrent commands all succeed" "$fails" "0"
t_ok   "every snapshot exists"          zfs list -H -o name -t snapshot -r data/vm
t_eq   "snapshot count"                 "$(printf '%s\n' "$T_OUT" | grep -c '@c')" "$n"

# send | receive within one pool: both commands run in tarnd at the same time
t_ok   "snapshots for sending"          eval 'zfs snapshot data/vm@s1 && zfs snapshot data/vm@s2 && zfs snapshot data/vm@s3 && zfs snapshot data/vm@s4'
t_ok   "send | receive through tarnd"   eval 'zfs send data/vm@s1 | zfs receive data/copy'
t_ok   "copy equals the snapshot"       eval 'tarn volume read --length 8M data/copy | cmp - "$T/img"'
t_ok   "slow reader"                    eval 'zfs send data/vm@s2 | (sleep 0.5; cat) | zfs receive data/copy2'
t_ok   "incremental through tarnd"      eval 'zfs send -i @s1 data/vm@s2 | zfs receive data/copy'
t_fail_with "destroying a snapshot in use by a send fails busy" 1 "busy" \
       eval '(zfs send data/vm@s3 | (sleep 1; cat >/dev/null) & bg=$!; sleep 0.4; zfs destroy data/vm@s3; rc=$?; wait $bg; exit $rc)'
t_ok   "after the send, destroy works"  zfs destroy data/vm@s3

# a failed receive (truncated stream) leaves nothing behind and tarnd goes on
t_ok   "save a stream"                  eval 'zfs send data/vm@s4 >"$T/s4"'
head -c 1000000 "$T/s4" >"$T/s4.cut"
t_fail_with "truncated stream fails" 1 "truncated" eval 'zfs receive data/cut <"$T/s4.cut"'
t_fail "nothing received"               zfs list data/cut
t_ok   "tarnd still serves"             zfs list data/vm

# the caller hanging up ends a receive that waits for data; resumable state stays
mkfifo "$T/fifo"
# shellcheck disable=SC2086
$TARN_WRAP "$TARN" zfs receive -s data/resume <"$T/fifo" >"$T/resume.out" 2>&1 &   # $! is the caller itself
rpid=$!
exec 7>"$T/fifo"
head -c 3000000 "$T/s4" >&7
sleep 1
kill -TERM "$rpid"                      # the caller goes away; the writer keeps the pipe open
wait "$rpid"
t_ok   "the killed caller did not crash tarnd" zfs list data
tok=''
for i in $(seq 1 50); do
  tok=$(zfs get -H -o value receive_resume_token data/resume 2>/dev/null) && [ "$tok" != "-" ] && break
  sleep 0.2
done
t_match "resume token after the hang-up" "$tok" "^1-"
exec 7>&-
t_ok   "resume completes it"            eval 'zfs send -t "$tok" | zfs receive -s data/resume'
t_ok   "resumed copy equals"            eval 'tarn volume read --length 8M data/resume | cmp - "$T/img"'

# hostile control requests: the daemon logs, answers and goes on
cat >"$T/hostile.py" <<'PY'
import socket, struct, sys
path = sys.argv[1]
def req(data, fds=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    if fds:
        s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("3i", *fds))])
    else:
        s.sendall(data)
    s.settimeout(15)
    out = b""
    try:
        while True:
            b = s.recv(100)
            if not b: break
            out += b
    except Exception:
        pass
    s.close()
    return out
import os
null = os.open("/dev/null", os.O_RDWR)
fds = [null, null, null]
hdr = lambda argc, n, magic=b"TARNCMD1", ver=1: magic + struct.pack("<IIII", ver, argc, n, 0)
results = [
    req(b"garbage garbage garbage!", fds),
    req(hdr(1, 8, magic=b"XXXXXXXX") + b"zfs\0/\0", fds),
    req(hdr(1, 8, ver=9) + b"zfs\0/\0", fds),
    req(hdr(100000, 8) + b"zfs\0/\0", fds),
    req(hdr(1, 1 << 30), fds),
    req(hdr(2, 6) + b"zfs\0/\0", fds),          # one string short
    req(hdr(1, 5) + b"zfs\0/", fds),            # unterminated
    req(hdr(1, 6) + b"zfs\0/\0"),               # no descriptors
    req(hdr(1, 6)[:10]),                        # short header, hang up
]
bad = [r for r in results if r and not r.startswith(b"TARNEXIT")]
print(len(results), len(bad))
PY
t_ok   "hostile control requests"       env PATH=/usr/bin:$PATH python3 "$T/hostile.py" "$TARN_HOME/tarnd.sock"
t_eq   "each got a status or a hang-up" "$T_OUT" "9 0"
t_match "refusals are logged"           "$(cat "$T/tarnd.log")" "bad request"
t_ok   "tarnd still serves after them"  zfs list data/vm

# writes committed by a command survive SIGKILL of tarnd
head -c 1M /dev/urandom >"$T/w"
t_ok   "write through tarnd"            eval 'tarn volume write --offset 2M data/vm <"$T/w"'
tarnd_kill
t_ok   "standalone after SIGKILL"       eval 'tarn volume read --offset 2M --length 1M data/vm | cmp - "$T/w"'

# clean shutdown
t_ok   "restart tarnd"                  tarnd_start --no-nbd
t_ok   "it imported both pools"         eval 'grep -c "imported pool" "$T/tarnd.log" | grep -q .'
t_ok   "write again"                    eval 'tarn volume write data/vm <"$T/img"'
tarnd_stop
t_eq   "SIGTERM: exit status 0"         "$TARND_RC" "0"
t_fail "socket removed"                 test -e "$TARN_HOME/tarnd.sock"
t_fail "pidfile removed"                test -e "$T/tarnd.pid"
t_match "shutdown logged"               "$(cat "$T/tarnd.log")" "stopped"
t_ok   "standalone again"               eval 'tarn volume read --length 8M data/vm | cmp - "$T/img"'
t_ok   "pools are fine"                 zpool status -x
t_tarnd_log_clean "tarnd log has no sanitizer report"
t_done
