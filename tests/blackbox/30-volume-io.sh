#!/usr/bin/env bash
# Volume data through `tarn volume write|read`: round trips at unaligned offsets and lengths
# across block boundaries (volblocksize 4K and 16K) checked against a model file, partial-block
# writes keep the bytes around them, zeros become holes (referenced drops back), reads past the
# end, snapshots read their point-in-time content and cannot be written, read-only volumes,
# compression saves space on compressible data, and everything survives export/import + scrub.
# Runs in ~5 s.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

getp() { zfs get -Hp -o value "$1" "$2"; }

f=$(mkvdev f1 1G)
t_ok "pool p on a 1G file" zpool create p "$f"

# rnd N: N random bytes to stdout
rnd() { head -c "$1" /dev/urandom; }
# put VOL MODEL OFF FILE: write FILE to VOL at OFF, and into the model file at the same place
put() {
  tarn volume write "$1" --offset "$3" <"$4" || return 1
  dd if="$4" of="$2" bs=64K seek="$3" oflag=seek_bytes conv=notrunc status=none
}
# same VOL MODEL: the whole volume reads back as the model
same() { tarn volume read "$1" >"$T/got" && cmp "$T/got" "$2"; }

for bs in 4K 16K; do
  b=$(( ${bs%K} * 1024 ))
  v=p/v$bs M=$T/model$bs
  size=$((64 * b))                      # 256K or 1M
  t_ok    "[$bs] create -V $size -b $bs"   zfs create -V "$size" -b "$bs" "$v"
  truncate -s "$size" "$M"
  t_ok    "[$bs] a new volume reads as zeros" same "$v" "$M"
  t_eq    "[$bs]   ...of volsize bytes"    "$(stat -c %s "$T/got")" "$size"
  n=0
  # offset:length pairs -- 1 byte, across one boundary, across two, spanning many blocks,
  # exactly one block, the last bytes of the volume, the first byte
  for ol in 1:1 $((b - 1)):2 $((b - 3)):$((b + 7)) $((3 * b + 100)):$((5 * b + 17)) \
            $((8 * b)):$b $((size - 5)):5 0:1 $((20 * b - 1000)):3000 $((30 * b + 1)):$((b - 2)); do
    off=${ol%:*} len=${ol#*:}
    n=$((n + 1))
    rnd "$len" >"$T/w"
    t_ok  "[$bs] write $len bytes at offset $off" put "$v" "$M" "$off" "$T/w"
    t_ok  "[$bs]   ...whole volume matches the model" same "$v" "$M"
  done
  # partial-block writes keep the bytes around them
  head -c "$b" /dev/zero | tr '\0' A >"$T/blk"
  t_ok    "[$bs] fill block 40 with 'A'"   put "$v" "$M" $((40 * b)) "$T/blk"
  printf 'hello' >"$T/w"
  t_ok    "[$bs] write 'hello' in its middle" put "$v" "$M" $((40 * b + b / 2 - 2)) "$T/w"
  t_ok    "[$bs]   ...block reads A..A hello A..A" eval "tarn volume read $v --offset $((40 * b)) --length $b | cmp - <(head -c $((b / 2 - 2)) $T/blk; printf hello; head -c $((b / 2 - 3)) $T/blk)"
  t_ok    "[$bs]   ...the neighbouring blocks are untouched" same "$v" "$M"
  # unaligned reads
  for ol in 1:1 $((b - 1)):2 $((b / 3)):$((3 * b + 5)) $((size - 3)):3 7:$((size - 7)); do
    off=${ol%:*} len=${ol#*:}
    t_ok  "[$bs] read $len bytes at offset $off" eval "tarn volume read $v --offset $off --length $len | cmp - <(tail -c +$((off + 1)) $M | head -c $len)"
  done
  t_ok    "[$bs] read from the end: nothing"   tarn volume read "$v" --offset "$size"
  t_eq    "[$bs]   ...empty"                   "$(stat -c %s "$T_OUT_FILE")" 0
  t_ok    "[$bs] a length past the end is cut at the end" tarn volume read "$v" --offset $((size - 10)) --length 100
  t_eq    "[$bs]   ...10 bytes"                "$(stat -c %s "$T_OUT_FILE")" 10
  t_fail_with "[$bs] read beyond the end fails" 1 "beyond the end" tarn volume read "$v" --offset $((size + 1))
  printf 'xyzzy' >"$T/w"
  t_fail_with "[$bs] write crossing the end fails" 1 "beyond the end" \
          tarn volume write "$v" --offset $((size - 2)) <"$T/w"
  t_fail_with "[$bs] write past the end fails"     1 "beyond the end" \
          tarn volume write "$v" --offset $((size + b)) <"$T/w"
  t_ok    "[$bs]   ...nothing of them was written" same "$v" "$M"
  t_ok    "[$bs] an empty write"              tarn volume write "$v" --offset 100 </dev/null
  t_ok    "[$bs]   ...changes nothing"         same "$v" "$M"
done

# --- a write bigger than the CLI's 1 MiB chunks, at an odd offset ------------------------------
t_ok    "volume p/big 4M -b 16K"                   zfs create -V 4M p/big
truncate -s 4M "$T/mbig"
rnd $((3 * 1048576 + 123)) >"$T/w"
t_ok    "write 3M+123 bytes at offset 5"           put p/big "$T/mbig" 5 "$T/w"
t_ok    "  ...reads back"                          same p/big "$T/mbig"

# --- zeros become holes ------------------------------------------------------------------------
t_ok    "sparse volume p/h 4M"                     zfs create -s -V 4M p/h
rnd 64K >"$T/h64"
t_ok    "  ...64K of data at 0"                    tarn volume write p/h <"$T/h64"
r0=$(getp referenced p/h) u0=$(getp used p/h)
rnd 512K >"$T/w"
t_ok    "write 512K of random data at 1M"          tarn volume write p/h --offset 1M <"$T/w"
r1=$(getp referenced p/h)
t_ok    "  ...referenced grows by >= 512K"         test $((r1 - r0)) -ge $((512 << 10))
head -c 512K /dev/zero >"$T/z"
t_ok    "write 512K of zeros over it"              tarn volume write p/h --offset 1M <"$T/z"
r2=$(getp referenced p/h) u2=$(getp used p/h)
t_ok    "  ...referenced drops by >= 512K (holes)" test $((r1 - r2)) -ge $((512 << 10))
t_eq    "  ...back to where it was"                "$r2" "$r0"
t_eq    "  ...used too (sparse)"                   "$u2" "$u0"
t_ok    "  ...reads zeros there"                   eval 'tarn volume read p/h --offset 1M --length 512K | cmp - "$T/z"'
t_ok    "  ...and the first 64K unchanged"         eval 'tarn volume read p/h --length 64K | cmp - "$T/h64"'
head -c 4 /dev/zero >"$T/z4"
cp "$T/h64" "$T/mh"
t_ok    "4 zero bytes inside a block"              put p/h "$T/mh" 8 "$T/z4"
t_ok    "  ...zeros there, the rest of the block kept" eval 'tarn volume read p/h --length 64K | cmp - "$T/mh"'

# --- snapshots: point-in-time reads, read-only ---------------------------------------------------
t_ok    "volume p/s 1M"                            zfs create -V 1M p/s
rnd 1M >"$T/s1"
t_ok    "  ...write D1"                            tarn volume write p/s <"$T/s1"
t_ok    "  ...snapshot @t1"                        zfs snapshot p/s@t1
cp "$T/s1" "$T/s2"
rnd 100000 >"$T/w"
t_ok    "  ...overwrite 100000 bytes at 77777"     put p/s "$T/s2" 77777 "$T/w"
t_ok    "  ...snapshot @t2, then zero the first 256K" eval 'zfs snapshot p/s@t2 && head -c 256K /dev/zero | tarn volume write p/s'
cp "$T/s2" "$T/s3"
dd if=/dev/zero of="$T/s3" bs=256K count=1 conv=notrunc status=none
t_ok    "@t1 reads D1"                             eval 'tarn volume read p/s@t1 | cmp - "$T/s1"'
t_ok    "@t2 reads D2"                             eval 'tarn volume read p/s@t2 | cmp - "$T/s2"'
t_ok    "the head reads D3"                        same p/s "$T/s3"
t_ok    "unaligned read of @t1"                    eval 'tarn volume read p/s@t1 --offset 77770 --length 20 | cmp - <(tail -c +77771 "$T/s1" | head -c 20)'
t_fail_with "writing to a snapshot fails"          1 "cannot write 'p/s@t1'" tarn volume write p/s@t1 <"$T/w"
t_ok    "  ...@t1 unchanged"                       eval 'tarn volume read p/s@t1 | cmp - "$T/s1"'
t_fail_with "read of a missing snapshot"           1 "dataset does not exist" tarn volume read p/s@nope
t_fail_with "read of a missing volume"             1 "dataset does not exist" tarn volume read p/nope
t_fail_with "read of a filesystem"                 1 "cannot read 'p'" tarn volume read p
t_fail_with "write to a filesystem"                1 "cannot write 'p'" tarn volume write p <"$T/w"
t_fail_with "read without a volume: usage, exit 2" 2 "" tarn volume read

# --- readonly=on ---------------------------------------------------------------------------------
t_ok    "zfs set readonly=on p/s"                  zfs set readonly=on p/s
t_fail_with "  ...writes fail (a read-only zvol)"  1 "cannot write 'p/s'" tarn volume write p/s --offset 4096 <"$T/w"
t_ok    "  ...content unchanged"                   same p/s "$T/s3"
t_ok    "  ...reads work"                          tarn volume read p/s --length 4K
t_ok    "zfs set readonly=off p/s"                 zfs set readonly=off p/s
t_ok    "  ...writes work again"                   put p/s "$T/s3" 4096 "$T/w"
t_ok    "  ...and land"                            same p/s "$T/s3"

# --- compression ---------------------------------------------------------------------------------
yes "tarn compresses this line of text rather well, doesn't it? 0123456789" | head -c 4M >"$T/text"
for c in off lz4 zstd; do
  t_ok  "sparse volume compression=$c, 4M of text" \
        eval "zfs create -s -V 8M -o compression=$c p/c$c && tarn volume write p/c$c <\"\$T/text\""
  t_ok  "  ...reads back"                          eval "tarn volume read p/c$c --length 4M | cmp - \"\$T/text\""
done
roff=$(getp referenced p/coff) rlz4=$(getp referenced p/clz4) rzstd=$(getp referenced p/czstd)
t_ok    "compression=off references >= 4M ($roff)"  test "$roff" -ge $((4 << 20))
t_ok    "lz4 references less than half of that ($rlz4)" test $((rlz4 * 2)) -lt "$roff"
t_ok    "zstd references less than half of that ($rzstd)" test $((rzstd * 2)) -lt "$roff"
t_ok    "used follows referenced (lz4 < off)"       test "$(getp used p/clz4)" -lt "$(getp used p/coff)"
t_eq    "compressratio of compression=off is 1.00x" "$(zfs get -H -o value compressratio p/coff)" "1.00x"
t_ok    "compressratio of lz4"                     zfs get -H -o value compressratio p/clz4
t_match "  ...is more than 2.00x"                  "$T_OUT" '^([2-9]|[1-9][0-9]+)\.[0-9]{2}x$'
t_eq    "logicalreferenced is the same with and without compression" \
        "$(getp logicalreferenced p/clz4)" "$(getp logicalreferenced p/coff)"
t_ok    "  ...and >= the 4M written"               test "$(getp logicalreferenced p/clz4)" -ge $((4 << 20))
rnd 1M >"$T/rand"
t_ok    "random data with lz4: stored as is, reads back" \
        eval 'zfs create -s -V 2M -o compression=lz4 p/crand && tarn volume write p/crand <"$T/rand" &&
              tarn volume read p/crand --length 1M | cmp - "$T/rand"'
t_ok    "  ...references >= 1M"                    test "$(getp referenced p/crand)" -ge $((1 << 20))
t_ok    "checksum=sha256 volume round trip" \
        eval 'zfs create -s -V 2M -b 8K -o checksum=sha256 -o compression=zstd p/sha &&
              tarn volume write p/sha --offset 1000 <"$T/rand" &&
              tarn volume read p/sha --offset 1000 --length 1M | cmp - "$T/rand"'

# --- everything survives export/import, and scrubs clean ------------------------------------------
t_ok    "zpool export p; zpool import -d"          eval 'zpool export p && zpool import -d "$T" p'
t_ok    "[4K] volume still matches its model"      same p/v4K "$T/model4K"
t_ok    "[16K] volume still matches its model"     same p/v16K "$T/model16K"
t_ok    "p/s@t1 still D1"                          eval 'tarn volume read p/s@t1 | cmp - "$T/s1"'
t_ok    "p/big still matches"                      same p/big "$T/mbig"
t_ok    "zpool scrub p"                            zpool scrub p
t_ok    "  ...status"                              zpool status p
t_match "  ...repaired 0B with 0 errors"           "$T_OUT" '^  scan: scrub repaired 0B in .* with 0 errors on '
t_match "  ...no known data errors"                "$T_OUT" '^errors: No known data errors$'

t_done
