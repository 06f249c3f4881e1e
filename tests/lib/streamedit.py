#!/usr/bin/python3
"""tests/lib/streamedit.py -- edit tarn send streams record by record, for the hostile-stream
black-box test (tests/blackbox/61-recv-hostile.sh). Test code only: it knows the record layout
of src/stream/format.h and the BEGIN / PKG_BEGIN payloads of src/stream/format.c and send.c.
It writes the edited records with zeroed checksums: re-seal the output with tests/lib/streamtool
(`streamtool reseal OUT`) to give it a valid running checksum.

usage: streamedit.py IN OUT OP ARGS...   (record indexes count from 0; negative from the end)
  hdr I FIELD VALUE         set a header field (type flags len arg0 arg1) of record I; VALUE is a
                            Python integer expression (2**64-4096). Setting len keeps the payload
                            as it is (the framing then lies)
  swap I J                  swap records I and J
  dup I                     repeat record I right after itself
  del I                     drop record I
  insert I TYPE FLAGS ARG0 ARG1 LEN   a new record before record I, LEN zero bytes of payload
  cut I N                   keep only the first N bytes of record I's payload (len follows)
  pay I N                   give record I a payload of N zero bytes (len follows)
  begin I FIELD VALUE       decode record I's BEGIN payload, set FIELD (version features dstype
                            volsize volblocksize creation resume_offset: integer expressions;
                            toname fromname: strings) and encode it again
  begin_prop I NAME VALUE   add a property NAME=VALUE to record I's BEGIN
  pkg I FIELD VALUE         decode record I's PKG_BEGIN, set top / tosnap / fromsnap (strings),
                            version (integer) or relK (string: the K-th dataset's relative path)
  show                      print the records and decoded BEGIN / PKG_BEGIN payloads (OUT unused)
"""
import struct
import sys

HDR = 48
MAGIC = 0x31525354


def parse(data):
    recs, off = [], 0
    while off < len(data):
        if len(data) - off < HDR:
            raise SystemExit("streamedit: partial record at %d" % off)
        magic, typ, flags, ln, a0, a1 = struct.unpack_from("<IHHQQQ", data, off)
        if ln > len(data) - off - HDR:
            raise SystemExit("streamedit: record at %d runs past the end" % off)
        recs.append({"magic": magic, "type": typ, "flags": flags, "len": ln, "arg0": a0, "arg1": a1,
                     "payload": bytes(data[off + HDR:off + HDR + ln])})
        off += HDR + ln
    return recs


def serialize(recs):
    out = bytearray()
    for r in recs:
        out += struct.pack("<IHHQQQ", r["magic"], r["type"], r["flags"], r["len"] & (2**64 - 1),
                           r["arg0"] & (2**64 - 1), r["arg1"] & (2**64 - 1))
        out += bytes(16)
        out += r["payload"]
    return bytes(out)


class Cur:
    def __init__(self, b):
        self.b, self.p = b, 0

    def u(self, fmt):
        v = struct.unpack_from("<" + fmt, self.b, self.p)[0]
        self.p += struct.calcsize(fmt)
        return v

    def s(self):
        n = self.u("H")
        v = self.b[self.p:self.p + n].decode("latin-1")
        self.p += n
        return v


def wstr(s):
    b = s.encode("latin-1")
    return struct.pack("<H", len(b)) + b


BEGIN_INT = [("version", "I"), ("features", "I"), ("dstype", "B"), ("volsize", "Q"),
             ("volblocksize", "I"), ("creation", "Q")]


def dec_begin(p):
    c, b = Cur(p), {}
    for k, f in BEGIN_INT:
        b[k] = c.u(f)
    b["toname"], b["fromname"] = c.s(), c.s()
    b["resume_offset"] = c.u("Q")
    b["props"] = [(c.s(), c.s()) for _ in range(c.u("I"))]
    return b


def enc_begin(b):
    out = b"".join(struct.pack("<" + f, b[k]) for k, f in BEGIN_INT)
    out += wstr(b["toname"]) + wstr(b["fromname"]) + struct.pack("<QI", b["resume_offset"], len(b["props"]))
    for n, v in b["props"]:
        out += wstr(n) + wstr(v)
    return out


def dec_pkg(p):
    c, k = Cur(p), {}
    k["version"] = c.u("I")
    k["top"], k["tosnap"], k["fromsnap"] = c.s(), c.s(), c.s()
    k["ds"] = []
    for _ in range(c.u("I")):
        d = {"rel": c.s(), "type": c.u("B"), "guid": c.u("Q")}
        d["props"] = [(c.s(), c.s()) for _ in range(c.u("I"))]
        d["snaps"] = [(c.s(), c.u("Q")) for _ in range(c.u("I"))]
        k["ds"].append(d)
    return k


def enc_pkg(k):
    out = struct.pack("<I", k["version"]) + wstr(k["top"]) + wstr(k["tosnap"]) + wstr(k["fromsnap"])
    out += struct.pack("<I", len(k["ds"]))
    for d in k["ds"]:
        out += wstr(d["rel"]) + struct.pack("<BQI", d["type"], d["guid"], len(d["props"]))
        for n, v in d["props"]:
            out += wstr(n) + wstr(v)
        out += struct.pack("<I", len(d["snaps"]))
        for n, g in d["snaps"]:
            out += wstr(n) + struct.pack("<Q", g)
    return out


def setpay(r, p):
    r["payload"], r["len"] = p, len(p)


def main(argv):
    if len(argv) < 4:
        raise SystemExit(__doc__)
    src, dst, op, a = argv[1], argv[2], argv[3], argv[4:]
    with open(src, "rb") as f:
        recs = parse(f.read())
    I = lambda s: int(s)  # noqa: E731
    E = lambda s: int(eval(s, {}))  # noqa: E731  (test input only)
    if op == "show":
        for i, r in enumerate(recs):
            print(i, r["type"], r["flags"], r["len"], r["arg0"], r["arg1"])
            if r["type"] == 1:
                print("   ", dec_begin(r["payload"]))
            if r["type"] == 5:
                print("   ", dec_pkg(r["payload"]))
        return
    if op == "hdr":
        recs[I(a[0])][a[1]] = E(a[2])
    elif op == "swap":
        i, j = I(a[0]), I(a[1])
        recs[i], recs[j] = recs[j], recs[i]
    elif op == "dup":
        i = I(a[0]) % len(recs)
        recs.insert(i + 1, dict(recs[i]))
    elif op == "del":
        del recs[I(a[0])]
    elif op == "insert":
        recs.insert(I(a[0]), {"magic": MAGIC, "type": E(a[1]), "flags": E(a[2]), "arg0": E(a[3]),
                              "arg1": E(a[4]), "len": E(a[5]), "payload": bytes(E(a[5]))})
    elif op == "cut":
        r = recs[I(a[0])]
        setpay(r, r["payload"][:I(a[1])])
    elif op == "pay":
        setpay(recs[I(a[0])], bytes(E(a[1])))
    elif op in ("begin", "begin_prop"):
        r = recs[I(a[0])]
        b = dec_begin(r["payload"])
        if op == "begin_prop":
            b["props"].append((a[1], a[2]))
        else:
            b[a[1]] = a[2] if a[1] in ("toname", "fromname") else E(a[2])
        setpay(r, enc_begin(b))
    elif op == "pkg":
        r = recs[I(a[0])]
        k = dec_pkg(r["payload"])
        if a[1].startswith("rel"):
            k["ds"][int(a[1][3:])]["rel"] = a[2]
        else:
            k[a[1]] = E(a[2]) if a[1] == "version" else a[2]
        setpay(r, enc_pkg(k))
    else:
        raise SystemExit("streamedit: unknown op " + op)
    out = serialize(recs)
    with open(dst, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main(sys.argv)
