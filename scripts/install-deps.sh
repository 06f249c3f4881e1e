#!/usr/bin/env bash
# Install the Debian 12 packages tarn needs to build and test. Idempotent: exits at once when
# everything is already installed. This is the one list of packages (.ci/run uses it too).
set -euo pipefail

PKGS=(
  build-essential pkg-config     # cc, make, pkg-config (the Makefile asks pkg-config for flags)
  clang libclang-rt-14-dev       # `make check-asan`: clang + the ASan/UBSan runtime for clang 14
  libxxhash-dev                  # block checksums (xxh3-128)
  liblz4-dev libzstd-dev         # compression
  libssl-dev                     # OpenSSL libcrypto: the sha256 checksum option
  libcurl4-openssl-dev           # libcurl: `tarn backup` mails its reports over SMTP
  perl                           # prove (TAP harness) for tests/run.sh
  valgrind xxd coreutils         # test tools (memcheck, hex dumps, truncate/timeout/mktemp)
  qemu-utils libnbd-bin          # tests/blackbox/64-nbd-clients.sh: real NBD clients against the nbd server
  python3-libnbd fio             # (qemu-img/qemu-io, nbdinfo/nbdcopy/nbdsh, libnbd for python, fio's nbd engine)
  libiscsi-bin qemu-block-extra  # tests/blackbox/65-iscsi-clients.sh: real iSCSI initiators against the iscsi target
                                 # (iscsi-ls/iscsi-inq/iscsi-readcapacity16/iscsi-test-cu; qemu-img's iscsi:// driver)
  sanoid procps                  # tests/blackbox/7*.sh: sanoid/syncoid 2.1.0 drive tarn (pulls pv, mbuffer,
                                 # lzop, and zfs-fuse, whose /sbin/zfs the tests' PATH shadows); ps/pgrep.
                                 # Its cron job and systemd timer act only if /etc/sanoid/sanoid.conf
                                 # exists; the tests never write it (own --configdir and TARN_HOME)
  exim4-daemon-light openssl     # tests/blackbox/81-backup-mail.sh: a real MTA on 127.0.0.1 (own config,
                                 # spool and port in the test's scratch dir) and its self-signed certificate
  openssh-server openssh-client  # tests/blackbox/82-backup-ssh.sh: sshd on 127.0.0.1 (own config, keys and
                                 # port in the scratch dir), the ssh destination of `tarn backup`
)

# apt-get needs root: as root run it directly, otherwise through sudo
SUDO=
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root (or install sudo)" >&2; exit 1; }
  SUDO=sudo
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing: ${missing[*]}" >&2
  echo "install-deps: run as root (sudo $0)" >&2
  exit 1
fi

echo "install-deps: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/install-deps.XXXXXX.log)
apt_q() {
  # quiet apt; on failure show its log. Waits for a dpkg lock held by e.g. unattended-upgrades.
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 "$@" >>"$log" 2>&1; then
    echo "install-deps: apt-get $* failed; log follows:" >&2
    tail -n 50 "$log" >&2
    return 1
  fi
}
for try in 1 2 3; do
  apt_q update && break
  [ "$try" -eq 3 ] && exit 1
  sleep 5
done
apt_q install -y --no-install-recommends "${missing[@]}"
rm -f "$log"
echo "install-deps: done"
