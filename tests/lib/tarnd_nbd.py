# tests/lib/tarnd_nbd.py — NBD client helpers for tests/blackbox/91-daemon-nbd.sh (real clients
# against tarnd). Run with Debian's python3 (it has libnbd's `nbd` module):
#   PATH=/usr/bin:$PATH python3 tarnd_nbd.py COMMAND ARGS...
# Commands (each bounded in time; exit status 0 = what was asked for happened):
#   hold URI STOPFILE SECONDS        connect, print "connected", then read every 50 ms until the
#                                    server drops us ("disconnected"), STOPFILE exists ("stopped")
#                                    or SECONDS pass ("timeout")
#   writer URI BS NBLOCKS LASTFILE STOPFILE SECONDS
#                                    write block k (pattern of k) at (k % NBLOCKS) * BS for k =
#                                    0, 1, ..., one at a time; after each reply store k in LASTFILE
#   rw2ro URI TRIGGER                connect read-write, write "a" * 4096 at 0, print "connected",
#                                    wait (up to 30 s) for TRIGGER to exist, then write "b" * 4096
#                                    at 0 and print "write=ok", "write=ERRNO" or "disconnected"
#   eperm URI                        write, trim and zero a read-only export with libnbd's own
#                                    checks off: each must fail with EPERM from the server
#   fua URI OFFSET LENGTH BYTE       write LENGTH bytes of BYTE at OFFSET with NBD_CMD_FLAG_FUA
#   lateflush URI MIB BYTE MS        write MIB MiB (MiB k: the byte BYTE+k) at 0 with no flush,
#                                    wait MS milliseconds, then FLUSH
#   prefix FILE BS                   FILE holds blocks written by `writer`: print "J", the number
#                                    of leading blocks with their pattern, or "bad: why" when a
#                                    block after them is not all zeroes or a block is torn
#   hostile HOST PORT EXPORT SIZE    raw-socket abuse of the NBD server (see below)
import os
import socket
import struct
import sys
import time


def nbd_handle(uri, strict=True):
    import nbd
    h = nbd.NBD()
    if not strict:
        h.set_strict_mode(0)
    h.connect_uri(uri)
    return h


def block(k, bs):
    unit = struct.pack("<Q", k + 1) + b"tarnblk!"  # never all zeroes
    return (unit * (bs // len(unit) + 1))[:bs]


def cmd_hold(uri, stopfile, seconds):
    import nbd
    h = nbd_handle(uri)
    print("connected", flush=True)
    end = time.time() + float(seconds)
    while time.time() < end:
        if os.path.exists(stopfile):
            h.shutdown()
            print("stopped", flush=True)
            return 0
        try:
            h.pread(4096, 0)
        except nbd.Error as e:
            print("disconnected: %s" % e, flush=True)
            return 0
        time.sleep(0.05)
    print("timeout", flush=True)
    return 1


def cmd_writer(uri, bs, nblocks, lastfile, stopfile, seconds):
    bs, nblocks = int(bs), int(nblocks)
    h = nbd_handle(uri)
    end = time.time() + float(seconds)
    k = 0
    tmp = lastfile + ".tmp"
    while time.time() < end and not os.path.exists(stopfile):
        h.pwrite(block(k, bs), (k % nblocks) * bs)
        with open(tmp, "w") as f:
            f.write("%d\n" % k)
        os.replace(tmp, lastfile)  # readers never see a partial number
        k += 1
    h.shutdown()
    print("wrote %d blocks" % k)
    return 0


def cmd_rw2ro(uri, trigger):
    import nbd
    h = nbd_handle(uri, strict=False)
    h.pwrite(b"a" * 4096, 0)
    print("connected", flush=True)
    end = time.time() + 30
    while time.time() < end and not os.path.exists(trigger):
        time.sleep(0.05)
    try:
        h.pwrite(b"b" * 4096, 0)
        print("write=ok", flush=True)
    except nbd.Error as e:
        print("disconnected" if e.errnum in (107, 32, 104) else "write=%s" % e.errnum, flush=True)
    try:
        h.shutdown()
    except nbd.Error:
        pass
    return 0


def cmd_eperm(uri):
    import nbd
    h = nbd_handle(uri, strict=False)
    out = []
    for name, fn in (("write", lambda: h.pwrite(b"x" * 4096, 0)),
                     ("trim", lambda: h.trim(4096, 0)),
                     ("zero", lambda: h.zero(4096, 0))):
        try:
            fn()
            out.append("%s=ok" % name)
        except nbd.Error as e:
            out.append("%s=%s" % (name, e.errnum))
    print(" ".join(out))
    h.shutdown()
    return 0


def cmd_fua(uri, off, length, byte):
    import nbd
    h = nbd_handle(uri)
    h.pwrite(bytes([int(byte, 0)]) * int(length), int(off), nbd.CMD_FLAG_FUA)
    h.shutdown()
    return 0


def cmd_lateflush(uri, mib, byte, ms):
    h = nbd_handle(uri)
    for k in range(int(mib)):
        h.pwrite(bytes([(int(byte, 0) + k) & 0xff]) * (1 << 20), k << 20)
    time.sleep(int(ms) / 1000)
    h.flush()
    h.shutdown()
    return 0


def cmd_prefix(path, bs):
    bs = int(bs)
    data = open(path, "rb").read()
    n = len(data) // bs
    zero = bytes(bs)
    j = 0
    while j < n and data[j * bs:(j + 1) * bs] == block(j, bs):
        j += 1
    for i in range(j, n):
        b = data[i * bs:(i + 1) * bs]
        if b != zero:
            why = "torn" if b[:16] == block(i, bs)[:16] else "written"
            print("bad: prefix of %d blocks, then block %d is %s" % (j, i, why))
            return 1
    print(j)
    return 0


# ---- raw protocol ----------------------------------------------------------------------------
NBDMAGIC, IHAVEOPT, REPMAGIC = b"NBDMAGIC", b"IHAVEOPT", 0x0003e889045565a9
REQ_MAGIC, SIMPLE_MAGIC = 0x25609513, 0x67446698


def recvn(s, n):
    buf = b""
    while len(buf) < n:
        b = s.recv(n - len(buf))
        if not b:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += b
    return buf


def dropped(s, timeout=10):
    """True when the server closes the connection (EOF or reset) within timeout."""
    s.settimeout(timeout)
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def greet(host, port):
    s = socket.create_connection((host, port), timeout=10)
    hello = recvn(s, 18)
    assert hello[:16] == NBDMAGIC + IHAVEOPT, hello
    s.sendall(struct.pack(">I", 3))  # FIXED_NEWSTYLE | NO_ZEROES
    return s


def option(s, opt, data):
    s.sendall(IHAVEOPT + struct.pack(">II", opt, len(data)) + data)


def go(host, port, export):
    """Handshake with NBD_OPT_GO (simple replies): returns (socket, size, flags)."""
    s = greet(host, port)
    name = export.encode()
    option(s, 7, struct.pack(">I", len(name)) + name + struct.pack(">H", 0))
    size = flags = None
    while True:
        magic, opt, typ, ln = struct.unpack(">QIII", recvn(s, 20))
        assert magic == REPMAGIC, hex(magic)
        data = recvn(s, ln)
        if typ == 3 and struct.unpack(">H", data[:2])[0] == 0:
            size, flags = struct.unpack(">QH", data[2:12])
        elif typ == 1:
            return s, size, flags
        elif typ & 0x80000000:
            raise RuntimeError("GO refused: %x %r" % (typ, data))


def request(s, typ, off, length, data=b"", handle=1, flags=0, magic=REQ_MAGIC):
    s.sendall(struct.pack(">IHHQQI", magic, flags, typ, handle, off, length) + data)


def reply(s, readlen=0):
    magic, err, handle = struct.unpack(">IIQ", recvn(s, 16))
    assert magic == SIMPLE_MAGIC, hex(magic)
    data = recvn(s, readlen) if err == 0 and readlen else b""
    return err, handle, data


def cmd_hostile(host, port, export, size):
    port, size = int(port), int(size)
    res = []

    def note(name, ok, why=""):
        res.append(name)
        print(("ok %s" % name) if ok else ("not ok %s: %s" % (name, why)), flush=True)

    # 1. bad client flags / bad option magic: the server hangs up
    s = greet(host, port)
    s.sendall(b"XXXXXXXX" + struct.pack(">II", 7, 0))
    note("bad-option-magic-dropped", dropped(s))
    s.close()
    s = socket.create_connection((host, port), timeout=10)
    recvn(s, 18)
    s.sendall(struct.pack(">I", 0xfffffff0))  # unknown client flags
    note("bad-client-flags-dropped", dropped(s))
    s.close()
    # 2. an option claiming 4 GiB of data: refused or dropped, never buffered
    s = greet(host, port)
    s.sendall(IHAVEOPT + struct.pack(">II", 7, 0xfffffff0) + b"A" * 4096)
    note("oversize-option-dropped", dropped(s, 10), "still connected after 10 s")
    s.close()
    # 3. requests beyond the export: errors, the connection stays usable
    s, sz, fl = go(host, port, export)
    note("go-size", sz == size, "size %r" % sz)
    request(s, 0, size, 4096, handle=11)
    err, hd, _ = reply(s)
    note("read-beyond-einval", err == 22 and hd == 11, "err %d handle %d" % (err, hd))
    request(s, 0, 0xfffffffffffff000, 8192, handle=12)
    err, hd, _ = reply(s)
    note("read-offset-wraps-einval", err == 22 and hd == 12, "err %d" % err)
    request(s, 1, size - 100, 4096, b"W" * 4096, handle=13)
    err, hd, _ = reply(s)
    note("write-beyond-enospc", err in (28, 22) and hd == 13, "err %d" % err)
    request(s, 6, size, 65536, handle=14)  # WRITE_ZEROES past the end
    err, hd, _ = reply(s)
    note("zero-beyond-error", err in (28, 22) and hd == 14, "err %d" % err)
    request(s, 4, size - 4096, 8192, handle=15)  # TRIM past the end
    err, hd, _ = reply(s)
    note("trim-beyond-error", err in (28, 22) and hd == 15, "err %d" % err)
    request(s, 99, 0, 0, handle=16)  # unknown command
    err, hd, _ = reply(s)
    note("unknown-command-einval", err == 22 and hd == 16, "err %d" % err)
    request(s, 0, 0, 4096, handle=17)
    err, hd, data = reply(s, 4096)
    note("still-usable", err == 0 and hd == 17 and len(data) == 4096, "err %d" % err)
    request(s, 0, 0, 4096, handle=18, magic=0xdeadbeef)  # a bad request magic: hang up
    note("bad-request-magic-dropped", dropped(s))
    s.close()
    # 4. a read larger than the server's maximum (64 MiB): an error or a hang-up, not 64 MiB
    s, _, _ = go(host, port, export)
    request(s, 0, 0, 64 << 20, handle=21)
    s.settimeout(10)
    try:
        err, hd, _ = reply(s)
        note("huge-read-refused", err != 0, "err 0: the server sent 64 MiB")
    except (EOFError, ConnectionResetError):
        note("huge-read-refused", True)
    s.close()
    # 5. a write whose payload never comes: the client hangs up mid-request
    s, _, _ = go(host, port, export)
    request(s, 1, 0, 1 << 20, b"\xee" * 1000, handle=31)
    s.close()
    s, _, _ = go(host, port, export)
    request(s, 1, 4096, 65536, b"\xee" * 65535, handle=32)  # one byte short, then EOF
    s.shutdown(socket.SHUT_WR)
    ok = dropped(s)
    note("short-write-payload-dropped", ok)
    s.close()
    # 6. hang-ups during the handshake, and a pile of clients that never finish it
    for cut in (0, 5, 18):
        s = socket.create_connection((host, port), timeout=10)
        if cut:
            recvn(s, min(cut, 18))
        s.close()
    s = greet(host, port)
    s.sendall(IHAVEOPT + struct.pack(">II", 7, 100) + b"\0\0\0\x50data/")  # half an option
    s.close()
    idle = [socket.create_connection((host, port), timeout=10) for _ in range(16)]
    s, _, _ = go(host, port, export)  # a normal client still gets through
    request(s, 0, 0, 512, handle=41)
    err, hd, data = reply(s, 512)
    note("serves-beside-idle-handshakes", err == 0 and len(data) == 512, "err %d" % err)
    request(s, 2, 0, 0, handle=42)  # NBD_CMD_DISC
    s.close()
    for i in idle:
        i.close()
    print("done %d" % len(res), flush=True)
    return 0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {"hold": cmd_hold, "writer": cmd_writer, "eperm": cmd_eperm, "rw2ro": cmd_rw2ro, "fua": cmd_fua,
          "lateflush": cmd_lateflush, "prefix": cmd_prefix, "hostile": cmd_hostile}[cmd]
    sys.exit(fn(*args))


if __name__ == "__main__":
    main()
