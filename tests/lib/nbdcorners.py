# tests/lib/nbdcorners.py — protocol corners of the tarn NBD server checked with libnbd, run by
# tests/blackbox/64-nbd-clients.sh inside nbdsh (nbdsh -c "exec(open(...).read())", which has
# the nbd module; Debian's python3 must come first in PATH). The server is tests/lib/nbdmem.c:
# exports "mem" (writable, all holes at start) and "ro" (read-only, byte i = i % 251).
# Environment: NBD_SOCK (the Unix socket). Prints one "ok NAME" or "not ok NAME: why" line per
# check; the shell script matches them.
import os
import nbd

SOCK = os.environ["NBD_SOCK"]

def check(name, cond, why=""):
    print(("ok %s" % name) if cond else ("not ok %s: %s" % (name, why)), flush=True)


def handle(export, structured=True, metas=(), strict=True):
    h = nbd.NBD()
    h.set_request_structured_replies(structured)
    for m in metas:
        h.add_meta_context(m)
    if not strict:
        h.set_strict_mode(0)  # send what we ask for; the server must judge it
    h.connect_uri("nbd+unix:///%s?socket=%s" % (export, SOCK))
    return h


def errno_of(fn):
    try:
        fn()
    except nbd.Error as e:
        return e.errnum
    return 0


# structured replies, holes as OFFSET_HOLE chunks
h = handle("mem", metas=("base:allocation", "nbdmem:dirty"))
check("structured-negotiated", h.get_structured_replies_negotiated())
check("meta-contexts", h.can_meta_context("base:allocation") and h.can_meta_context("nbdmem:dirty"))
check("flags", h.can_fua() and h.can_flush() and h.can_trim() and h.can_zero() and h.can_fast_zero()
      and h.can_cache() and h.can_df() and h.can_multi_conn() and not h.is_read_only())
OFF = 48 << 20  # a region the shell script leaves alone
h.pwrite(b"\x5a" * 4096, OFF + 8192, nbd.CMD_FLAG_FUA)
chunks = []
buf = h.pread_structured(16384, OFF, lambda sub, off, status, err: chunks.append((off, len(sub), status)) or 0)
check("read-chunks", sorted(chunks) == [(OFF, 8192, nbd.READ_HOLE), (OFF + 8192, 4096, nbd.READ_DATA),
                                        (OFF + 12288, 4096, nbd.READ_HOLE)], repr(chunks))
check("read-data", buf == bytes(8192) + b"\x5a" * 4096 + bytes(4096))
chunks = []
h.pread_structured(16384, OFF, lambda sub, off, status, err: chunks.append((off, len(sub), status)) or 0,
                   nbd.CMD_FLAG_DF)
check("read-df", chunks == [(OFF, 16384, nbd.READ_DATA)], repr(chunks))

# block status: per context, REQ_ONE
ext = {}
h.block_status(16384, OFF, lambda ctx, off, entries, err: ext.__setitem__(ctx, list(entries)) or 0)
check("bs-base", ext.get("base:allocation") == [8192, 3, 4096, 0, 4096, 3], repr(ext))
check("bs-dirty", ext.get("nbdmem:dirty") == [8192, 0, 4096, 1, 4096, 0], repr(ext))
ext = {}
h.block_status(16384, OFF, lambda ctx, off, entries, err: ext.__setitem__(ctx, list(entries)) or 0,
               nbd.CMD_FLAG_REQ_ONE)
check("bs-req-one", ext.get("base:allocation") == [8192, 3] and len(ext.get("nbdmem:dirty", [])) == 2, repr(ext))

# unaligned I/O
h.pwrite(b"unaligned!", OFF + 4095, 0)
check("unaligned", h.pread(12, OFF + 4094) == b"\0unaligned!\0")

# zeroes: fast zero punches holes; with NO_HOLE it is not fast
h.zero(4096, OFF + 8192, nbd.CMD_FLAG_FAST_ZERO)
ext = {}
h.block_status(4096, OFF + 8192, lambda ctx, off, entries, err: ext.__setitem__(ctx, list(entries)) or 0)
check("fast-zero-hole", ext.get("base:allocation") == [4096, 3], repr(ext))
check("fast-zero-no-hole-enotsup",
      errno_of(lambda: h.zero(4096, OFF, nbd.CMD_FLAG_FAST_ZERO | nbd.CMD_FLAG_NO_HOLE)) == 95)
h.zero(4096, OFF + 16384, nbd.CMD_FLAG_NO_HOLE | nbd.CMD_FLAG_FUA)
ext = {}
h.block_status(4096, OFF + 16384, lambda ctx, off, entries, err: ext.__setitem__(ctx, list(entries)) or 0)
check("zero-no-hole-allocated", ext.get("base:allocation") == [4096, 0], repr(ext))
h.trim(8192, OFF, nbd.CMD_FLAG_FUA)
h.cache(65536, 0)
h.flush()
check("trim-cache-flush", h.pread(4, OFF + 4096) == bytes(4))
h.shutdown()

# out of range and bad flags, with libnbd's own checks off: the server's answers
size = 64 << 20
h = handle("mem", strict=False)
check("read-beyond-einval", errno_of(lambda: h.pread(512, size - 256)) == 22)
check("write-beyond-enospc", errno_of(lambda: h.pwrite(b"x" * 512, size - 256)) == 28)
check("trim-beyond-einval", errno_of(lambda: h.trim(512, size)) == 22)
check("zero-beyond-enospc", errno_of(lambda: h.zero(512, size)) == 28)
check("bs-without-context-einval",
      errno_of(lambda: h.block_status(512, 0, lambda *a: 0)) == 22)
check("read-req-one-einval", errno_of(lambda: h.pread(512, 0, nbd.CMD_FLAG_REQ_ONE)) == 22)
check("still-usable", h.pread(4, 0) is not None)
h.shutdown()

# simple replies (no structured replies): READ still fine, DF refused
h = handle("mem", structured=False, strict=False)
check("simple-no-structured", not h.get_structured_replies_negotiated() and not h.can_df())
h.pwrite(b"simple", OFF + 100)
check("simple-read", h.pread(8, OFF + 99) == b"\0simple\0")
check("simple-df-einval", errno_of(lambda: h.pread(512, 0, nbd.CMD_FLAG_DF)) == 22)
h.shutdown()

# the read-only export
h = handle("ro", strict=False)
check("ro-flags", h.is_read_only() and not h.can_fua() and not h.can_trim() and not h.can_zero())
check("ro-data", h.pread(16, 251 * 3 - 1) == bytes([250] + list(range(15))))
check("ro-write-eperm", errno_of(lambda: h.pwrite(b"x", 0)) == 1)
check("ro-trim-eperm", errno_of(lambda: h.trim(4096, 0)) == 1)
h.shutdown()

# option haggling by hand: list, info, list meta contexts
h = nbd.NBD()
h.set_opt_mode(True)
h.connect_uri("nbd+unix:///?socket=%s" % SOCK)
names = []
h.opt_list(lambda name, desc: names.append((name, desc)) or 0)
check("opt-list", ("mem", "tarn nbdmem test export") in names and ("ro", "") in names, repr(names))
ctxs = []
h.set_export_name("mem")
h.opt_list_meta_context(lambda ctx: ctxs.append(ctx) or 0)
check("opt-list-meta", sorted(ctxs) == ["base:allocation", "nbdmem:dirty"], repr(ctxs))
h.set_export_name("nope")
check("opt-info-unknown", errno_of(lambda: h.opt_info()) != 0)
h.set_export_name("ro")
h.opt_info()
check("opt-info", h.get_size() == 1 << 20 and h.is_read_only())
h.opt_abort()
