#!/usr/bin/env bash
# tarn backup to a remote destination over ssh (tests/lib/sshd.sh: sshd on 127.0.0.1 with keys
# made here). The "remote host" runs the same tarn binary with its own TARN_HOME ($T/rhome,
# pool rp), reached as ssh://root@127.0.0.1:PORT/rp/bk with remote-tarn set to a wrapper.
# Cases: full and incremental runs (remote bytes equal the source snapshot's), verify=full
# across ssh, retention on the remote side, list and restore from the remote; the ssh
# connection dropped mid-stream (the wrapper kills its sshd session after part of the stream)
# → per-VM error, then the next run resumes the transfer; an unreachable host and a wrong key
# → clear per-VM errors.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=tests/lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

[ -x /usr/sbin/sshd ] || t_skip_all "openssh-server not installed (scripts/install-deps.sh installs it)"

MiB=1048576
if [ "$TARN_SANITIZED" = 1 ]; then BIG=4; else BIG=12; fi   # MiB written before the dropped run
RHOME=$T/rhome
mkdir -p "$RHOME"
rzfs() { TARN_HOME=$RHOME "$TARN" zfs "$@"; }
vmd5() { tarn volume read "$1" 2>/dev/null | md5sum | cut -d' ' -f1; }
rvmd5() { TARN_HOME=$RHOME "$TARN" volume read "$1" 2>/dev/null | md5sum | cut -d' ' -f1; }
newest() { zfs list -H -o name -t snapshot -s createtxg -d 1 "$1" | tail -n 1 | sed 's/.*@//'; }
rsnaps() { rzfs list -H -o name -t snapshot -d 1 "$1" 2>/dev/null | sed 's/.*@//' | paste -sd' '; }

t_ok "zpool create sp (local)" zpool create sp "$(mkvdev sp.img 256M)"
t_ok "zpool create rp (remote TARN_HOME)" env TARN_HOME="$RHOME" "$TARN" zpool create rp "$(mkvdev rp.img 256M)"
t_ok "VM1 with two volumes; rp/bk" eval 'zfs create sp/vms && zfs create sp/vms/VM1 &&
  zfs create -s -V 32M sp/vms/VM1/disk0 && zfs create -s -V 16M sp/vms/VM1/disk1 && rzfs create rp/bk'
t_ok "data" eval 'head -c $((3 * MiB)) /dev/urandom | tarn volume write sp/vms/VM1/disk0 &&
  head -c $MiB /dev/urandom | tarn volume write sp/vms/VM1/disk1 --offset $((4 * MiB))'
t_ok "start sshd on 127.0.0.1" sshd_start

# the remote tarn: the binary under test with the remote TARN_HOME; with $T/drop holding N, a
# receive gets N bytes of the stream and then the wrapper kills its own sshd session (the
# connection drops mid-stream, as when a network fails)
cat >"$T/remote-tarn" <<WRAP
#!/bin/sh
export TARN_HOME=$RHOME
if [ "\$1 \$2" = "zfs receive" ] && [ -f "$T/drop" ]; then
  n=\$(cat "$T/drop"); rm -f "$T/drop"
  head -c "\$n" | "$TARN" "\$@"
  p=\$PPID
  while [ "\$p" -gt 1 ]; do
    case \$(ps -o comm= -p "\$p") in sshd*) kill -9 "\$p"; exit 1 ;; esac
    p=\$(ps -o ppid= -p "\$p" | tr -d ' ')
  done
  exit 1
fi
exec "$TARN" "\$@"
WRAP
chmod +x "$T/remote-tarn"
DEST="ssh://root@127.0.0.1:$SSHD_PORT/rp/bk"
BK=(--name=r --vm-root=sp/vms --vms=VM1 --dest="$DEST" --ssh-key="$SSHD_KEY" --remote-tarn="$T/remote-tarn"
    --ssh-options="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR" --keep=2)

# rsame SNAP: guid and bytes of every volume of VM1 equal on both sides at SNAP
rsame() {
  local v a b
  for v in disk0 disk1; do
    a=$(zfs get -Hp -o value guid "sp/vms/VM1/$v@$1") b=$(rzfs get -Hp -o value guid "rp/bk/VM1/$v@$1")
    [ -n "$a" ] && [ "$a" = "$b" ] || { echo "guid of $v@$1: '$a' vs '$b'"; return 1; }
    [ "$(vmd5 "sp/vms/VM1/$v@$1")" = "$(rvmd5 "rp/bk/VM1/$v@$1")" ] || { echo "bytes of $v@$1 differ"; return 1; }
  done
}

t_ok "full run over ssh" tarn backup run "${BK[@]}"
S1=$(newest sp/vms/VM1)
t_match "report shows the ssh destination" "$T_OUT" "^Destination: ssh://root@127.0.0.1:$SSHD_PORT/rp/bk$"
t_ok "remote copy identical" rsame "$S1"
t_ok "change VM1/disk1" eval 'head -c $MiB /dev/urandom | tarn volume write sp/vms/VM1/disk1 --offset $((9 * MiB))'
t_ok "incremental run over ssh (verify=full)" tarn backup run "${BK[@]}" --verify=full
S2=$(newest sp/vms/VM1)
t_match "incremental" "$T_ERR" "send sp/vms/VM1/disk1@$S2 incremental from @$S1 -> rp/bk/VM1/disk1"
t_match "full verify read both sides" "$T_ERR" "verified rp/bk/VM1/disk1@$S2: 16777216 bytes equal to the source"
t_ok "remote copy identical" rsame "$S2"
t_ok "third run" tarn backup run "${BK[@]}"
S3=$(newest sp/vms/VM1)
t_eq "remote retention keeps 2" "$(rsnaps rp/bk/VM1/disk0)" "$S2 $S3"
t_ok "list over ssh" tarn backup list "${BK[@]}"
t_match "list: newest" "$T_OUT" "^VM1 +$S3 "

# ---- connection dropped mid-stream, then resumed -----------------------------------------------
t_ok "write ${BIG}M to VM1/disk0" eval 'head -c $((BIG * MiB)) /dev/urandom | tarn volume write sp/vms/VM1/disk0 --offset $((8 * MiB))'
echo $((BIG * MiB / 3)) >"$T/drop"
t_fail_with "connection dropped: exit 1" 1 "" tarn backup run "${BK[@]}"
t_match "per-VM error in step send" "$T_OUT" "Error in step send: .*receive failed \(exit status 255\)"
t_match "status says so" "$(tarn backup status r)" "^r +VM1 +failed .*send: "
t_match "remote kept a resume token" "$(rzfs get -Hp -o value receive_resume_token rp/bk/VM1/disk0)" '^1-'
t_ok "source still has the unsent snapshot (not pruned)" test "$(newest sp/vms/VM1)" != "$S3"
t_ok "next run resumes over ssh" tarn backup run "${BK[@]}"
t_match "log: resuming" "$T_ERR" "resuming the interrupted transfer to rp/bk/VM1/disk0"
t_eq "no token left" "$(rzfs get -Hp -o value receive_resume_token rp/bk/VM1/disk0)" "-"
S5=$(newest sp/vms/VM1)
t_ok "remote copy identical after resume" rsame "$S5"

# ---- restore from the remote ---------------------------------------------------------------------
t_ok "restore from ssh" tarn backup restore "${BK[@]}" --vm VM1 --snapshot "$S5" --to sp/back
t_eq "restored disk0 identical" "$(vmd5 sp/back/disk0)" "$(rvmd5 "rp/bk/VM1/disk0@$S5")"
t_eq "restored disk1 identical" "$(vmd5 sp/back/disk1)" "$(rvmd5 "rp/bk/VM1/disk1@$S5")"

# ---- unreachable host, wrong key ---------------------------------------------------------------
dead=$(_sshd_free_port)
t_fail_with "unreachable host: exit 1" 1 "" tarn backup run "${BK[@]}" --dest="ssh://root@127.0.0.1:$dead/rp/bk"
t_match "per-VM error names the connection" "$T_OUT" "Error in step destination: .*(Connection refused|connect to host)"
ssh-keygen -q -t ed25519 -N '' -f "$T/other_key"
t_fail_with "wrong key: exit 1" 1 "" tarn backup run "${BK[@]}" --ssh-key="$T/other_key"
t_match "per-VM error: permission denied" "$T_OUT" "Error in step destination: .*Permission denied"
t_done
