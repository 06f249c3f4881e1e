# tests/lib/mta.sh — a real MTA for tests: Debian's exim4 (exim4-daemon-light) run as a
# private instance on 127.0.0.1 with its own configuration, spool, logs and port in the test's
# scratch dir; it never reads or writes /etc/exim4 or /var/spool/exim4. Every accepted message
# is appended to one mailbox file. Source after common.sh:
#
#   . "$(dirname "$0")/../lib/mta.sh"
#   mta_start [tls]      # a new instance in $T/mtaN; sets MTA_PORT, MTA_MBOX, MTA_CERT, MTA_DIR; `tls`: STARTTLS offered with a
#                        # self-signed certificate for 127.0.0.1, and AUTH PLAIN/LOGIN (user
#                        # MTA_USER, password MTA_PASS) required after STARTTLS
#   mta_wait_mail N      # wait (at most ~15 s) until the mailbox holds N messages
#   mta_stop             # also run at exit
#
# Exim writes its spool and logs, and delivers, as its own user (never as root), so those
# directories belong to Debian-exim, and $T gets o+x so that user can reach them.

MTA_USER=tarnmail
MTA_PASS='s3cret-p4ss'
MTA_PID=
MTA_PORT=
MTA_DIR=
MTA_MBOX=
MTA_CERT=
_mta_n=0

_mta_free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    # free if nothing listens there
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

mta_start() {
  local tls=${1:-} exim=/usr/sbin/exim4
  _mta_n=$((_mta_n + 1))
  MTA_DIR=$T/mta$_mta_n MTA_MBOX=$T/mta$_mta_n/mail/mbox MTA_CERT=$T/mta$_mta_n/cert.pem
  [ -x "$exim" ] || { echo "# mta: $exim not installed (exim4-daemon-light)"; return 1; }
  mkdir -p "$MTA_DIR/spool" "$MTA_DIR/log" "$MTA_DIR/mail" || return 1
  chmod o+x "$T"
  chown Debian-exim:Debian-exim "$MTA_DIR/mail" "$MTA_DIR/spool" "$MTA_DIR/log" || return 1
  MTA_PORT=$(_mta_free_port) || return 1
  local tlsconf='' authconf='' rcpt_auth=''
  if [ "$tls" = tls ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
      -addext "subjectAltName=IP:127.0.0.1" -keyout "$MTA_DIR/key.pem" -out "$MTA_CERT" \
      >/dev/null 2>&1 || { echo "# mta: openssl req failed"; return 1; }
    chmod 0644 "$MTA_DIR/key.pem"
    tlsconf="tls_advertise_hosts = *
tls_certificate = $MTA_CERT
tls_privatekey = $MTA_DIR/key.pem"
    rcpt_auth='  deny    message = authentication required
          !authenticated = *'
    authconf="begin authenticators
PLAIN:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_advertise_condition = \${if def:tls_in_cipher}
  server_condition = \${if and {{eq{\$auth2}{$MTA_USER}}{eq{\$auth3}{$MTA_PASS}}}}
  server_set_id = \$auth2
LOGIN:
  driver = plaintext
  public_name = LOGIN
  server_advertise_condition = \${if def:tls_in_cipher}
  server_prompts = Username:: : Password::
  server_condition = \${if and {{eq{\$auth1}{$MTA_USER}}{eq{\$auth2}{$MTA_PASS}}}}
  server_set_id = \$auth1"
  fi
  cat >"$MTA_DIR/exim.conf" <<CONF
primary_hostname = mta.tarn-test
qualify_domain = tarn-test
local_interfaces = 127.0.0.1
daemon_smtp_ports = $MTA_PORT
spool_directory = $MTA_DIR/spool
log_file_path = $MTA_DIR/log/%slog
pid_file_path = $MTA_DIR/exim.pid
host_lookup =
keep_environment =
rfc1413_hosts =
message_size_limit = 10M
$tlsconf
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data

begin acl
acl_rcpt:
$rcpt_auth
  accept
acl_data:
  accept

begin routers
everything:
  driver = accept
  transport = mailbox

begin transports
mailbox:
  driver = appendfile
  file = $MTA_MBOX
  user = Debian-exim
  group = Debian-exim
  mode = 0644
  batch_max = 100
  delivery_date_add
  envelope_to_add
  return_path_add

$authconf
CONF
  chmod 0644 "$MTA_DIR/exim.conf"
  "$exim" -C "$MTA_DIR/exim.conf" -bdf -oX "$MTA_PORT" >"$MTA_DIR/daemon.out" 2>&1 &
  MTA_PID=$!
  local i
  for i in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$MTA_PORT") 2>/dev/null; then return 0; fi
    kill -0 "$MTA_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "# mta: exim did not start; output:"; sed 's/^/# /' "$MTA_DIR/daemon.out" "$MTA_DIR"/log/* 2>/dev/null
  return 1
}

# mta_count: messages in the mailbox
mta_count() { grep -c '^From ' "$MTA_MBOX" 2>/dev/null || echo 0; }

mta_wait_mail() {
  local n=$1
  for _ in $(seq 150); do
    [ "$(mta_count)" -ge "$n" ] && return 0
    sleep 0.1
  done
  echo "# mta: mailbox has $(mta_count) messages, want $n; exim log:"
  sed 's/^/# /' "$MTA_DIR"/log/mainlog 2>/dev/null | tail -n 20
  return 1
}

mta_stop() {
  if [ -n "$MTA_PID" ]; then
    kill "$MTA_PID" 2>/dev/null
    wait "$MTA_PID" 2>/dev/null
    MTA_PID=
  fi
}
trap 'mta_stop; _t_cleanup' EXIT
