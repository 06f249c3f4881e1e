# tests/lib/sshd.sh — a private OpenSSH server for tests on 127.0.0.1: its own config, host
# key, user key and authorized_keys in the test's scratch dir, a free port, root login by key
# only. Source after common.sh:
#
#   . "$(dirname "$0")/../lib/sshd.sh"
#   sshd_start          # sets SSHD_PORT, SSHD_KEY (the client's private key), SSH_OPTS
#   ssh "${SSH_OPTS[@]}" root@127.0.0.1 true
#   sshd_stop           # also run at exit
#
# sshd needs its privilege-separation directory /run/sshd (normally made by the system's
# ssh service at boot); it is created (empty, mode 0755) if missing. Nothing else outside $T.

SSHD_PID=
SSHD_PORT=
SSHD_DIR=$T/sshd
SSHD_KEY=$SSHD_DIR/client_key
SSH_OPTS=()

_sshd_free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

sshd_start() {
  [ -x /usr/sbin/sshd ] || { echo "# sshd: /usr/sbin/sshd not installed (openssh-server)"; return 1; }
  mkdir -p "$SSHD_DIR" && chmod 700 "$SSHD_DIR" || return 1
  [ -d /run/sshd ] || { mkdir -p /run/sshd && chmod 0755 /run/sshd; } || return 1
  ssh-keygen -q -t ed25519 -N '' -C tarn-test-host -f "$SSHD_DIR/host_key" || return 1
  ssh-keygen -q -t ed25519 -N '' -C tarn-test-client -f "$SSHD_KEY" || return 1
  cp "$SSHD_KEY.pub" "$SSHD_DIR/authorized_keys" && chmod 600 "$SSHD_DIR/authorized_keys" || return 1
  SSHD_PORT=$(_sshd_free_port) || return 1
  cat >"$SSHD_DIR/sshd_config" <<CONF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $SSHD_DIR/host_key
PidFile $SSHD_DIR/sshd.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
X11Forwarding no
AllowTcpForwarding no
LogLevel ERROR
CONF
  /usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd_config" 2>"$SSHD_DIR/log" &
  SSHD_PID=$!
  SSH_OPTS=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes
            -i "$SSHD_KEY" -p "$SSHD_PORT")
  for _ in $(seq 100); do
    if ssh "${SSH_OPTS[@]}" root@127.0.0.1 true 2>/dev/null; then return 0; fi
    kill -0 "$SSHD_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "# sshd did not start; log:"; sed 's/^/# /' "$SSHD_DIR/log"
  return 1
}

sshd_stop() {
  if [ -n "$SSHD_PID" ]; then
    kill "$SSHD_PID" 2>/dev/null
    wait "$SSHD_PID" 2>/dev/null
    SSHD_PID=
  fi
}
trap 'sshd_stop; _t_cleanup' EXIT
