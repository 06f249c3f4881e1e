#!/usr/bin/env bash
# tarn backup's mailed reports, delivered by a real MTA: exim4 as a private instance on
# 127.0.0.1 (tests/lib/mta.sh). Checks the delivered message: Subject, recipients, a
# multipart/alternative body with a text/plain and a text/html part, per-VM rows in both, the
# room line and the error with its step. mail-on=failure; an unreachable server (exit status 3,
# status file says so, backup still done); STARTTLS with a self-signed certificate (smtp-ca-file)
# and AUTH PLAIN (password from a file) and AUTH LOGIN (password from $TARN_SMTP_PASSWORD); a
# wrong password, an untrusted certificate and a missing password are clear failures.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/mta.sh
. "$(dirname "$0")/../lib/mta.sh"

[ -x /usr/sbin/exim4 ] || t_skip_all "exim4 not installed (scripts/install-deps.sh installs it)"
command -v python3 >/dev/null || t_skip_all "python3 not installed"

MiB=1048576
t_ok "zpool create sp" zpool create sp "$(mkvdev sp.img 256M)"
t_ok "zpool create bp" zpool create bp "$(mkvdev bp.img 256M)"
t_ok "VMs: VM1 (2 volumes), VM2" eval 'zfs create sp/vms && zfs create sp/vms/VM1 && zfs create sp/vms/VM2 &&
  zfs create -s -V 8M sp/vms/VM1/disk0 && zfs create -s -V 8M sp/vms/VM1/disk1 &&
  zfs create -s -V 8M sp/vms/VM2/disk0 && zfs create bp/bk'
t_ok "data" eval 'head -c $MiB /dev/urandom | tarn volume write sp/vms/VM1/disk0'

t_ok "start exim on 127.0.0.1" mta_start
BK=(--name=mailjob --vm-root=sp/vms --dest=bp/bk --mail-from=tarn@example.com --smtp-server=127.0.0.1)

# mail_part N TYPE: the decoded TYPE (plain|html) part of message N (1-based) of the mailbox
mail_part() {
  python3 - "$MTA_MBOX" "$1" "$2" <<'PY'
import mailbox, sys
msgs = list(mailbox.mbox(sys.argv[1]))
m = msgs[int(sys.argv[2]) - 1]
for p in m.walk():
    if p.get_content_type() == "text/" + sys.argv[3]:
        sys.stdout.write(p.get_payload(decode=True).decode("utf-8"))
PY
}
# mail_hdr N HEADER
mail_hdr() {
  python3 - "$MTA_MBOX" "$1" "$2" <<'PY'
import mailbox, sys
m = list(mailbox.mbox(sys.argv[1]))[int(sys.argv[2]) - 1]
print(m.get(sys.argv[3], ""))
PY
}

# ---- a run with a failure, mailed to two recipients -------------------------------------------
t_fail_with "run (GHOST missing): exit 1" 1 "" tarn backup run "${BK[@]}" --vms=VM1,VM2,GHOST \
  --mail-to="admin@example.com, ops@example.org" --smtp-port="$MTA_PORT"
t_match "log: report sent" "$T_ERR" "mail: report sent to 2 recipient\(s\)"
t_ok "one message delivered" mta_wait_mail 1
t_match "Subject" "$(mail_hdr 1 Subject)" "^\[tarn backup\] mailjob on .*: PARTIAL FAILURE \(2 of 3 VMs backed up\)$"
t_eq "From" "$(mail_hdr 1 From)" "tarn@example.com"
t_eq "To" "$(mail_hdr 1 To)" "admin@example.com, ops@example.org"
t_match "both envelope recipients" "$(mail_hdr 1 Envelope-to | tr -d "\n")" "admin@example.com, +ops@example.org"
t_match "multipart/alternative" "$(grep -i '^Content-Type:' "$MTA_MBOX")" "multipart/alternative"
TEXT=$(mail_part 1 plain) HTML=$(mail_part 1 html)
t_match "text part: VM1 row" "$TEXT" "^VM1 +ok +[0-9.]+ [KMG]?i?B +[0-9.]+ [KMG]?i?B +[0-9.]+s +[0-9.]+ MB/s +tarn-mailjob-"
t_match "text part: VM2 row" "$TEXT" "^VM2 +ok "
t_match "text part: GHOST row" "$TEXT" "^GHOST +FAILED "
t_match "text part: room line" "$TEXT" "^  Needed room: [0-9.]+ [KMG]?i?B / Available room: [0-9.]+ [KMG]?i?B$"
t_match "text part: error with step" "$TEXT" "Error in step lookup: VM 'GHOST' not found"
t_match "text part: job, host, start" "$TEXT" "^Started: +20[0-9-]+ [0-9:]+ UTC$"
t_match "html part: VM1 row" "$HTML" "<tr class=\"vm\"><td>VM1</td><td style=\"color: #1a7f37\">ok</td>"
t_match "html part: GHOST row with error" "$HTML" "<tr class=\"vm\"><td>GHOST</td>.*step lookup: VM 'GHOST' not found"
t_match "html part: room" "$HTML" "Needed room: [0-9.]+ [KMG]?i?B / Available room: "
t_match "html part: speed column" "$HTML" "<td>[0-9.]+ MB/s</td>"

# ---- mail-on=failure --------------------------------------------------------------------------
t_ok "all ok with mail-on=failure: no mail" tarn backup run "${BK[@]}" --vms=VM1,VM2 \
  --mail-to=admin@example.com --smtp-port="$MTA_PORT" --mail-on=failure
sleep 0.5
t_eq "still one message" "$(mta_count)" 1
t_fail_with "a failure with mail-on=failure: mailed" 1 "" tarn backup run "${BK[@]}" --vms=GHOST \
  --mail-to=admin@example.com --smtp-port="$MTA_PORT" --mail-on=failure
t_ok "second message delivered" mta_wait_mail 2
t_match "its subject says FAILED" "$(mail_hdr 2 Subject)" ": FAILED \(0 of 1 VMs backed up\)$"

# ---- mail failure never fails the backup --------------------------------------------------------
dead=$(_mta_free_port)
t_fail_with "server down: backup done, exit 3" 3 "every VM was backed up, but the report mail failed" \
  tarn backup run "${BK[@]}" --vms=VM1 --mail-to=admin@example.com --smtp-port="$dead"
t_match "log names the server" "$T_ERR" "mail: cannot send the report: mail to admin@example.com via smtp://127.0.0.1:$dead"
t_match "status JSON: mail failed, run ok" "$(cat "$TARN_HOME/backup/mailjob.json")" '"status": "ok", "mail": "failed"'
t_fail_with "auth without a password: exit 3" 3 "no password" env -u TARN_SMTP_PASSWORD \
  "$TARN" backup run "${BK[@]}" --vms=VM1 --mail-to=a@example.com --smtp-port="$MTA_PORT" --smtp-auth=plain --smtp-user=u
t_fail_with "smtp-auth without smtp-user: config error" 2 "smtp-auth needs smtp-user" \
  tarn backup run "${BK[@]}" --vms=VM1 --smtp-auth=login
t_fail_with "bad address" 2 "bad value for 'mail-to': bad address 'nobody'" \
  tarn backup run "${BK[@]}" --vms=VM1 --mail-to=nobody
mta_stop

# ---- STARTTLS + AUTH ------------------------------------------------------------------------------
t_ok "start exim with STARTTLS and required AUTH" mta_start tls
printf '%s\n' "$MTA_PASS" >"$T/smtp-pw"
chmod 600 "$T/smtp-pw"
TLS=(--mail-to=admin@example.com --smtp-port="$MTA_PORT" --smtp-tls=starttls --smtp-ca-file="$MTA_CERT" --smtp-user="$MTA_USER")
t_ok "STARTTLS + AUTH PLAIN, password from a file" tarn backup run "${BK[@]}" --vms=VM1 "${TLS[@]}" \
  --smtp-auth=plain --smtp-password-file="$T/smtp-pw"
t_ok "delivered" mta_wait_mail 1
t_match "exim: TLS and PLAIN as the test user" "$(grep '<=' "$MTA_DIR/log/mainlog")" "P=esmtpsa X=TLS.* A=PLAIN:$MTA_USER "
t_match "subject OK" "$(mail_hdr 1 Subject)" ": OK \(1 of 1 VMs backed up\)$"
t_ok "STARTTLS + AUTH LOGIN, password from the environment" env TARN_SMTP_PASSWORD="$MTA_PASS" \
  "$TARN" backup run "${BK[@]}" --vms=VM1 "${TLS[@]}" --smtp-auth=login
t_ok "delivered" mta_wait_mail 2
t_match "exim: LOGIN" "$(grep '<=' "$MTA_DIR/log/mainlog" | tail -n 1)" "A=LOGIN:$MTA_USER "
printf 'wrong\n' >"$T/bad-pw"
t_fail_with "wrong password: exit 3" 3 "report mail failed" tarn backup run "${BK[@]}" --vms=VM1 "${TLS[@]}" \
  --smtp-auth=plain --smtp-password-file="$T/bad-pw"
t_match "curl's reason" "$T_ERR" "Login denied"
t_fail_with "certificate not trusted (no smtp-ca-file): exit 3" 3 "report mail failed" \
  tarn backup run "${BK[@]}" --vms=VM1 --mail-to=admin@example.com --smtp-port="$MTA_PORT" --smtp-tls=starttls \
  --smtp-user="$MTA_USER" --smtp-auth=plain --smtp-password-file="$T/smtp-pw"
t_match "says so" "$T_ERR" "certificate"
t_fail_with "no TLS: AUTH not offered, RCPT refused: exit 3" 3 "report mail failed" \
  tarn backup run "${BK[@]}" --vms=VM1 --mail-to=admin@example.com --smtp-port="$MTA_PORT"
t_eq "nothing more delivered" "$(mta_count)" 2
t_ok "password never on the command line of children" test -z "$(grep -l "$MTA_PASS" "$TARN_HOME"/backup/* 2>/dev/null)"
t_done
