# tests/lib/tarnd.sh — start and stop a tarnd for a black-box script (source after common.sh).
#
#   tarnd_start [ARGS...]   start `tarn daemon --pidfile $T/tarnd.pid
#                           --iscsi-portal 127.0.0.1:$ISCSI_PORT ARGS` in the background
#                           (TARN_WRAP applies), log in $T/tarnd.log; waits (bounded) until its
#                           control socket answers. NBD_PORT is a free port; pass
#                           --listen 127.0.0.1:$NBD_PORT yourself when the test needs NBD.
#                           ISCSI_PORT is another (tests run in parallel: never the default
#                           3260); ARGS may override it or say --no-iscsi.
#   tarnd_stop              SIGTERM, wait (bounded) for exit; sets TARND_RC
#   tarnd_kill              SIGKILL (a crash)
#   t_tarnd_log_clean DESC  a test: the daemon's log has no sanitizer report
# The daemon is stopped at exit in any case.

TARND_PID=''
TARND_RC=''

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
NBD_PORT=$(free_port)
ISCSI_PORT=$(free_port)

tarnd_start() {
  # shellcheck disable=SC2086
  $TARN_WRAP "$TARN" daemon --pidfile "$T/tarnd.pid" --iscsi-portal "127.0.0.1:$ISCSI_PORT" "$@" \
    >>"$T/tarnd.log" 2>&1 &
  TARND_PID=$!
  local i
  for i in $(seq 1 200); do          # up to 20 s (ASan start-up is slow)
    if [ -S "$TARN_HOME/tarnd.sock" ] && [ -s "$T/tarnd.pid" ]; then
      return 0
    fi
    if ! kill -0 "$TARND_PID" 2>/dev/null; then
      wait "$TARND_PID"; TARND_RC=$?; TARND_PID=''
      return 1
    fi
    sleep 0.1
  done
  return 1
}

tarnd_stop() {
  [ -n "$TARND_PID" ] || return 0
  kill -TERM "$TARND_PID" 2>/dev/null
  local i
  for i in $(seq 1 300); do          # up to 30 s
    kill -0 "$TARND_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$TARND_PID" 2>/dev/null
  wait "$TARND_PID" 2>/dev/null
  TARND_RC=$?
  TARND_PID=''
}

tarnd_kill() {
  [ -n "$TARND_PID" ] || return 0
  kill -KILL "$TARND_PID" 2>/dev/null
  wait "$TARND_PID" 2>/dev/null
  TARND_PID=''
  rm -f "$TARN_HOME/tarnd.sock"   # what a crash leaves: a socket nobody answers
}

t_tarnd_log_clean() {
  if grep -qE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error: |SUMMARY: [A-Za-z]+Sanitizer' \
       "$T/tarnd.log" 2>/dev/null; then
    _t_result 0 "$1"
    t_diag "$(grep -A30 -E 'Sanitizer|runtime error' "$T/tarnd.log" | head -60)"
  else
    _t_result 1 "$1"
  fi
}

_tarnd_exit() {
  if [ -n "$TARND_PID" ]; then
    kill -KILL "$TARND_PID" 2>/dev/null
    wait "$TARND_PID" 2>/dev/null
  fi
  _t_cleanup
}
trap _tarnd_exit EXIT
