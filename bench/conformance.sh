#!/usr/bin/env bash
# bench/conformance.sh — libiscsi's conformance suite iscsi-test-cu (every suite of the ALL
# family, --dataloss) against tarn's iSCSI target (src/iscsi through tests/lib/iscsimem.c, an
# in-memory 64 MiB LUN 0) and against Debian's tgt (tgtd 1.0.85, a 64 MiB file as LUN 1), each on
# a plain and a thin-provisioned LUN, side by side in one run.
#
#   bash bench/conformance.sh [--dir DIR] [--keep] [--only tarn|tgt]
#
# Each suite runs in its own iscsi-test-cu process (libiscsi 1.19 caveat: a test that fails on
# a thin LUN without COMPARE AND WRITE leaves a hook that breaks later 16-byte commands of the
# same process). A test counts as "skipped" when it passed but logged [SKIPPED] (the feature is
# absent: EXTENDED COPY, SANITIZE, removable media, ...), "passed" when it passed otherwise.
# Prints per-target failed tests and a markdown table (the one in docs/conformance.md).
#
# Needs root for tgtd (its own control port and a free TCP port, stopped at the end) and the
# Debian packages libiscsi-bin and tgt. Works in DIR [a new mktemp dir], removed unless --keep.
set -uo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
DIR= KEEP=0 ONLY=
while [ $# -gt 0 ]; do
  case $1 in
    --dir) DIR=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --only) ONLY=$2; shift 2 ;;
    *) echo "usage: $0 [--dir DIR] [--keep] [--only tarn|tgt]" >&2; exit 2 ;;
  esac
done
[ -n "$DIR" ] || DIR=$(mktemp -d /tmp/tarn-conformance.XXXXXX)
mkdir -p "$DIR"
command -v iscsi-test-cu >/dev/null || { echo "no iscsi-test-cu (Debian: libiscsi-bin)" >&2; exit 1; }

IQN=iqn.2024-01.org.tarn:conformance
SPID= TGTCP=
cleanup() {
  [ -n "$SPID" ] && { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }
  if [ -n "$TGTCP" ]; then
    tgtadm -C "$TGTCP" --lld iscsi --mode target --op update --tid 1 --name state --value offline >/dev/null 2>&1
    tgtadm -C "$TGTCP" --lld iscsi --mode target --op delete --force --tid 1 >/dev/null 2>&1
    tgtadm -C "$TGTCP" --op delete --mode system >/dev/null 2>&1
    [ -n "${TPID:-}" ] && { for _ in $(seq 50); do kill -0 "$TPID" 2>/dev/null || break; sleep 0.1; done
                            kill -9 "$TPID" 2>/dev/null; wait "$TPID" 2>/dev/null; }
  fi
  [ "$KEEP" = 1 ] || rm -rf "$DIR"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

SUITES=$(iscsi-test-cu --list | awk -F. '/^ALL\.[A-Za-z0-9]+$/ {print $0}' | grep -v MultipathIO)

# run_all NAME URL: every suite, results in $DIR/NAME.*; prints "passed skipped failed total"
run_all() {
  local name=$1 url=$2 s
  : >"$DIR/$name.tests"
  for s in $SUITES; do
    timeout 600 iscsi-test-cu -d -v --test="$s" "$url" >"$DIR/$name.${s#ALL.}.log" 2>&1
    awk -v suite="${s#ALL.}" '
      /^  Test: / { name = $2; skip = 0 }
      /\[SKIPPED\]/ { skip = 1 }
      /\.\.\.passed$|^passed$/ { print suite "." name, (skip ? "skipped" : "passed") }
      /\.\.\.FAILED$|^FAILED$/ { print suite "." name, "FAILED" }' "$DIR/$name.${s#ALL.}.log" >>"$DIR/$name.tests"
  done
  awk '{n[$2]++} END {printf "%d %d %d %d\n", n["passed"], n["skipped"], n["FAILED"], NR}' "$DIR/$name.tests"
}

declare -A RES
# ---- tarn (tests/lib/iscsimem.c) -----------------------------------------------------------------
if [ "$ONLY" != tgt ]; then
  SRCS=(tests/lib/iscsimem.c src/util/err.c src/util/sock*.c)
  for f in src/iscsi/*.c; do case ${f##*/} in test_*) ;; *) SRCS+=("$f") ;; esac; done
  cc -O2 -g -std=gnu11 -D_GNU_SOURCE -pthread -Isrc -o "$DIR/iscsimem" "${SRCS[@]}" -lcrypto || exit 1
  for thin in plain thin; do
    "$DIR/iscsimem" $([ $thin = thin ] && echo -t) "$IQN" 64M 127.0.0.1:0 >"$DIR/iscsimem.out" 2>"$DIR/tarn-$thin.server.log" &
    SPID=$!
    for _ in $(seq 100); do grep -q '^ready' "$DIR/iscsimem.out" && break; sleep 0.1; done
    port=$(awk '/^ready/ {print $2}' "$DIR/iscsimem.out")
    RES[tarn-$thin]=$(run_all "tarn-$thin" "iscsi://127.0.0.1:$port/$IQN/0")
    echo "tarn $thin: ${RES[tarn-$thin]} (passed skipped failed total)"
    kill "$SPID"; wait "$SPID" 2>/dev/null; SPID=
  done
fi

# ---- tgt ------------------------------------------------------------------------------------------
if [ "$ONLY" != tarn ] && command -v tgtd >/dev/null; then
  truncate -s 64M "$DIR/tgt.img"
  TGTCP=$(( 20000 + RANDOM % 10000 ))
  port=$(free_port)
  tgtd -f -C "$TGTCP" --iscsi portal="127.0.0.1:$port" >"$DIR/tgtd.log" 2>&1 &
  TPID=$!
  for _ in $(seq 50); do tgtadm -C "$TGTCP" --op show --mode system >/dev/null 2>&1 && break; sleep 0.1; done
  tgtadm -C "$TGTCP" --lld iscsi --mode target --op new --tid 1 -T "$IQN"
  tgtadm -C "$TGTCP" --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 -b "$DIR/tgt.img"
  tgtadm -C "$TGTCP" --lld iscsi --mode target --op bind --tid 1 -I ALL
  for thin in plain thin; do
    if [ $thin = thin ]; then
      tgtadm -C "$TGTCP" --lld iscsi --mode logicalunit --op update --tid 1 --lun 1 --params thin_provisioning=1
    fi
    RES[tgt-$thin]=$(run_all "tgt-$thin" "iscsi://127.0.0.1:$port/$IQN/1")
    echo "tgt $thin: ${RES[tgt-$thin]} (passed skipped failed total)"
  done
fi

# ---- report ------------------------------------------------------------------------------------
for k in tarn-plain tarn-thin tgt-plain tgt-thin; do
  [ -f "$DIR/$k.tests" ] || continue
  echo "== $k: failed tests"
  grep FAILED "$DIR/$k.tests" | sed 's/^/   /'
done
if [ -f "$DIR/tarn-thin.tests" ] && [ -f "$DIR/tgt-thin.tests" ]; then
  echo "== passed by tgt (thin) but not by tarn (thin):"
  join <(awk '$2=="passed"{print $1}' "$DIR/tgt-thin.tests" | sort) \
       <(awk '$2!="passed"{print $1}' "$DIR/tarn-thin.tests" | sort) | sed 's/^/   /'
fi
echo
echo "| target | LUN | passed | skipped | failed | total |"
echo "|---|---|---|---|---|---|"
for k in tarn-plain tarn-thin tgt-plain tgt-thin; do
  [ -n "${RES[$k]:-}" ] || continue
  read -r p s f n <<<"${RES[$k]}"
  echo "| ${k%%-*} | ${k#*-} | $p | $s | $f | $n |"
done
echo
echo "libiscsi $(dpkg-query -W -f='${Version}' libiscsi-bin 2>/dev/null), tgt $(dpkg-query -W -f='${Version}' tgt 2>/dev/null); bench/conformance.sh $(date -u +%Y-%m-%d)"
