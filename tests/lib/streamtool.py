"""streamtool - reading, cutting and damaging t2m streams for the CLI
tests.  Written from the format description (stream-format.md,
t2m-stream(5)) with zlib's CRC-32, sharing no code with lib/.

    $PYTHON -m streamtool records FILE        one line a record
    $PYTHON -m streamtool cuts FILE DIR       DIR/<n>: the first n bytes, for
                                              the n at and inside every
                                              record; DIR/LIST says where
                                              each cut falls
    $PYTHON -m streamtool bad FILE DIR        damaged copies; DIR/LIST
    $PYTHON -m streamtool good FILE DIR       odd but valid copies; DIR/LIST
    $PYTHON -m streamtool stall FILE OUT      OUT: the stream header and the
                                              manifest, nothing after
"""
import struct
import sys
import zlib

MAGIC = b"\x89T2M\r\n\x1a\n"
HDR = 32


def crc(b):
    return zlib.crc32(b) & 0xFFFFFFFF


def stream_header(major=1, minor=0, flags=0):
    b = MAGIC + struct.pack("<HHI", major, minor, flags)
    return b + struct.pack("<I", crc(b))


class Record:
    """One record; `at` is its offset in the stream it was read from."""

    def __init__(self, tag, index=0, offset=0, payload=b"", pcrc=None,
                 length=None, hcrc=None, at=None):
        self.tag, self.index, self.offset = tag, index, offset
        self.payload = payload
        self.length = len(payload) if length is None else length
        if pcrc is None:
            pcrc = 0 if tag == b"DATA" else crc(payload)
        self.pcrc, self.hcrc, self.at = pcrc, hcrc, at

    def header(self):
        b = self.tag + struct.pack("<IQQI", self.index, self.offset,
                                   self.length, self.pcrc)
        return b + struct.pack("<I", crc(b) if self.hcrc is None
                               else self.hcrc)

    def bytes(self):
        return self.header() + self.payload

    def copy(self, **kw):
        r = Record(self.tag, self.index, self.offset, self.payload,
                   self.pcrc, self.length, self.hcrc, self.at)
        for k, v in kw.items():
            setattr(r, k, v)
        return r


def parse(blob):
    """(stream header bytes, [Record]) of a well-formed stream."""
    assert blob[:8] == MAGIC, "not a t2m stream"
    recs, at = [], 20
    while at < len(blob):
        tag = blob[at:at + 4]
        index, offset, length, pcrc, hcrc = struct.unpack(
            "<IQQII", blob[at + 4:at + HDR])
        assert crc(blob[at:at + 28]) == hcrc, f"bad header crc at {at}"
        payload = blob[at + HDR:at + HDR + length]
        recs.append(Record(tag, index, offset, payload, pcrc, length, hcrc,
                           at))
        at += HDR + length
    return blob[:20], recs


def build(recs, head=None, fix=True):
    """The stream of recs.  With fix, header CRCs are recomputed (the
    payload CRC only where the record asks for it with pcrc=None)."""
    out = bytearray(stream_header() if head is None else head)
    for r in recs:
        if fix:
            r = r.copy(hcrc=None)
        out += r.bytes()
    return bytes(out)


def ends(ntensors, nrecords, nbytes):
    return Record(b"ENDS", payload=struct.pack("<QQQ", ntensors, nrecords,
                                               nbytes))


def recount(recs, ntensors):
    """recs with its end record rewritten to match its data records."""
    data = [r for r in recs if r.tag == b"DATA"]
    out = [r for r in recs if r.tag != b"ENDS"]
    return out + [ends(ntensors, len(data), sum(r.length for r in data))]


# ---- the manifest ----

class Cur:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, n):
        v = self.b[self.p:self.p + n]
        self.p += n
        return v

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]

    def u64(self):
        return struct.unpack("<Q", self.take(8))[0]

    def str(self):
        return self.take(self.u32())

    def attrs(self):
        return [(self.str(), self.str()) for _ in range(self.u32())]


def decode_manifest(b):
    """{info, meta, modules, tensors}; strings stay bytes so a test can
    put anything in them."""
    c = Cur(b)
    m = {"info": c.attrs(), "meta": c.attrs()}
    m["modules"] = [(c.str(), c.attrs()) for _ in range(c.u32())]
    m["tensors"] = []
    for _ in range(c.u32()):
        name = c.str()
        dtype, ndim, r0, r1 = c.take(4)
        shape = [c.u64() for _ in range(ndim)]
        m["tensors"].append({"name": name, "dtype": dtype, "ndim": ndim,
                             "reserved": bytes([r0, r1]), "shape": shape,
                             "nbytes": c.u64(), "attrs": c.attrs()})
    assert c.p == len(b), "stray bytes in manifest"
    return m


def enc_str(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack("<I", len(s)) + s


def enc_attrs(a):
    return struct.pack("<I", len(a)) + b"".join(enc_str(k) + enc_str(v)
                                               for k, v in a)


def encode_manifest(m):
    out = enc_attrs(m["info"]) + enc_attrs(m["meta"])
    out += struct.pack("<I", len(m["modules"]))
    for path, a in m["modules"]:
        out += enc_str(path) + enc_attrs(a)
    out += struct.pack("<I", m.get("ntensors", len(m["tensors"])))
    for t in m["tensors"]:
        out += enc_str(t["name"]) + bytes([t["dtype"], t["ndim"]])
        out += t["reserved"]
        out += b"".join(struct.pack("<Q", d) for d in t["shape"])
        out += struct.pack("<Q", t["nbytes"]) + enc_attrs(t["attrs"])
    return out


# ---- truncation ----

def cuts(blob):
    """[(n, where)]: truncation lengths and where a reader must say the
    stream broke off ("record N at offset X", or "-" inside the stream
    header).  For each record: at its start, 1 byte in, the middle and
    last byte of its header; the first, middle and last byte of its
    payload."""
    _, recs = parse(blob)
    out = {n: "-" for n in (1, 7, 8, 10, 19)}
    for k, r in enumerate(recs, 1):
        where = f"record {k} at offset {r.at}"
        for n in (0, 1, 16, 31, HDR):
            out[r.at + n] = where
        if r.length:
            for n in (1, r.length // 2, r.length - 1):
                out[r.at + HDR + n] = where
    return sorted((n, w) for n, w in out.items() if 0 < n < len(blob))


# ---- damaged streams ----

def damaged(blob):
    """[(name, bytes, where or "-", what the message must contain)]:
    each fault of stream-format.md, with the record the reader must name
    ("-" when the fault is outside any record)."""
    _, recs = parse(blob)
    mani, data, end = recs[0], recs[1:-1], recs[-1]
    assert mani.tag == b"MANI" and end.tag == b"ENDS" and len(data) >= 4
    m = decode_manifest(mani.payload)
    nt = len(m["tensors"])
    d0 = data[0]

    def at(k):          # record k (1-based) of the original stream
        return f"record {k} at offset {recs[k - 1].at}"

    def flip(b, i):
        b = bytearray(b)
        b[i] ^= 0x40
        return bytes(b)

    def with_manifest(mm):
        return build([Record(b"MANI", payload=encode_manifest(mm))] +
                     recs[1:])

    def tensor_changed(**kw):
        mm = decode_manifest(mani.payload)
        mm["tensors"][0].update(kw)
        return with_manifest(mm)

    end_at = len(blob)
    out = [
        ("magic", flip(blob, 1), "-", "not a t2m stream (bad magic)"),
        ("magic-only", MAGIC, "-", "truncated stream header"),
        ("head-crc", flip(blob, 17), "-", "stream header checksum mismatch"),
        ("head-crc-field", flip(blob, 9), "-",
         "stream header checksum mismatch"),
        ("major-2", build(recs, stream_header(major=2)), "-",
         "stream version 2.0 is not supported"),
        ("major-0", build(recs, stream_header(major=0)), "-",
         "stream version 0.0 is not supported"),
        ("flags", build(recs, stream_header(flags=0x80000000)), "-",
         "reserved bits set"),
        ("no-records", stream_header(), at(1),
         "stream ends before its manifest"),
        ("mani-hcrc", flip(blob, mani.at + 29), at(1),
         "record header checksum mismatch"),
        ("mani-header-flip", flip(blob, mani.at + 18), at(1),
         "record header checksum mismatch"),
        ("mani-payload-flip", flip(blob, mani.at + HDR + 5), at(1),
         "manifest checksum mismatch"),
        ("mani-pcrc", build([mani.copy(pcrc=mani.pcrc ^ 1)] + recs[1:]),
         at(1), "manifest checksum mismatch"),
        ("mani-index", build([mani.copy(index=1)] + recs[1:]), at(1),
         "nonzero index or offset"),
        ("mani-offset", build([mani.copy(offset=1)] + recs[1:]), at(1),
         "nonzero index or offset"),
        ("mani-too-long", build([mani.copy(length=(1 << 30) + 1)]), at(1),
         "manifest of 1073741825 bytes"),
        ("mani-length-short", build([mani.copy(length=mani.length - 1,
                                               payload=mani.payload[:-1],
                                               pcrc=None)] + recs[1:]),
         at(1), "manifest ends inside"),
        ("mani-stray", build([Record(b"MANI", payload=mani.payload +
                                     b"\0")] + recs[1:]), at(1),
         "1 stray bytes after the last tensor"),
        ("mani-missing", build(recs[1:]), at(1),
         "expected the manifest, found a 'DATA' record"),
        ("mani-twice", build([mani, mani] + recs[1:]), at(2),
         "unknown record type 'MANI'"),
        ("mani-dtype-0", tensor_changed(dtype=0), at(1),
         "unknown dtype code 0"),
        ("mani-dtype-99", tensor_changed(dtype=99), at(1),
         "unknown dtype code 99"),
        ("mani-reserved", tensor_changed(reserved=b"\0\1"), at(1),
         "reserved bytes are not zero"),
        ("mani-nbytes", tensor_changed(nbytes=m["tensors"][0]["nbytes"] + 1),
         at(1), "does not match its shape and dtype"),
        ("mani-ndim-65", tensor_changed(ndim=65, shape=[1] * 65), at(1),
         "65 dimensions (at most 64)"),
        ("mani-name-utf8", tensor_changed(name=b"bad\xff"), at(1),
         "tensor name is not valid UTF-8"),
        ("mani-name-nul", tensor_changed(name=b"a\0b"), at(1),
         "tensor name is not valid UTF-8"),
        ("mani-name-long", tensor_changed(name=b"n" * ((1 << 20) + 1)),
         at(1), "tensor name is 1048577 bytes long"),
        ("mani-name-twice", tensor_changed(name=m["tensors"][1]["name"]),
         at(1), "appears twice"),
        ("mani-attr-twice",
         tensor_changed(attrs=[(b"k", b"1"), (b"k", b"2")]), at(1),
         "tensor attributes: 'k' appears twice"),
        ("mani-count", with_manifest(dict(m, ntensors=nt + 1)), at(1),
         "manifest ends inside tensor name"),
        ("mani-short", build([Record(b"MANI", payload=mani.payload[:-4])] +
                             recs[1:]), at(1),
         "manifest ends inside tensor attributes"),
        ("data-hcrc", flip(blob, d0.at + 28), at(2),
         "record header checksum mismatch"),
        ("data-header-flip", flip(blob, d0.at + 4), at(2),
         "record header checksum mismatch"),
        ("data-pcrc", build([mani, d0.copy(pcrc=1)] + recs[2:]), at(2),
         "data record checksum field is not zero"),
        ("data-index", build([mani, d0.copy(index=nt)] + recs[2:]), at(2),
         f"data for tensor {nt}, but the manifest has {nt}"),
        ("data-empty", build([mani, d0.copy(length=0, payload=b"")] +
                             recs[2:]), at(2), "empty data record"),
        ("data-offset", build([mani, d0.copy(offset=1)] + recs[2:]), at(2),
         "data at byte 1, expected byte 0"),
        ("data-skipped", build([mani] + recs[2:]), at(2),
         "expected byte 0"),
        ("data-overrun", build([mani, d0.copy(
            length=d0.length + m["tensors"][d0.index]["nbytes"],
            payload=d0.payload * (1 + m["tensors"][d0.index]["nbytes"]))]
            + recs[2:]), at(2), "overrun"),
        ("tag-unknown", build([mani, d0.copy(tag=b"XDAT")] + recs[2:]),
         at(2), "unknown record type 'XDAT'"),
        ("tag-digit", build([mani, d0.copy(tag=b"1abc")] + recs[2:]),
         at(2), "unknown record type '1abc'"),
        ("ancillary-huge", build([mani, Record(b"note", length=(1 << 30) + 1)]
                                 + recs[1:]), at(2),
         "ancillary record of 1073741825 bytes"),
        ("ancillary-truncated", build([mani, Record(b"note", length=100,
                                                    payload=b"x")]), at(2),
         "truncated ancillary record"),
        ("ends-missing", build(recs[:-1]), at(len(recs)),
         "stream ends without an end record"),
        ("ends-hcrc", flip(blob, end.at + 30), at(len(recs)),
         "record header checksum mismatch"),
        ("ends-payload-flip", flip(blob, end.at + HDR + 1), at(len(recs)),
         "end record checksum mismatch"),
        ("ends-length", build(recs[:-1] + [end.copy(
            length=23, payload=end.payload[:23], pcrc=None)]),
         at(len(recs)), "malformed end record"),
        ("ends-index", build(recs[:-1] + [end.copy(index=1)]),
         at(len(recs)), "malformed end record"),
        ("ends-payload-short", build(recs[:-1] + [end.copy(
            payload=end.payload[:10])]), at(len(recs)),
         "truncated end record"),
    ]
    # One bit flipped in each byte of the stream header, and in the first,
    # a middle and the last byte of every record header.
    for i in range(20):
        out.append((f"head-flip-{i}", flip(blob, i), "-",
                    "bad magic" if i < 8 else "stream header checksum"))
    for k, r in enumerate(recs, 1):
        for i in (0, 13, 31):
            out.append((f"record-{k}-flip-{i}", flip(blob, r.at + i), at(k),
                        "record header checksum mismatch"))
    n_t, n_r, n_b = struct.unpack("<QQQ", end.payload)
    for k, (a, b, c) in enumerate([(n_t + 1, n_r, n_b), (n_t, n_r - 1, n_b),
                                   (n_t, n_r, n_b + 1), (0, 0, 0)]):
        out.append((f"ends-count-{k}", build(recs[:-1] + [ends(a, b, c)]),
                    at(len(recs)),
                    f"end record counts ({a} tensors, {b} records, {c} "
                    f"bytes) disagree with the stream ({n_t}, {n_r}, {n_b})"))
    # Drop the last data record of a tensor, end record made to agree.
    last = max(i for i, r in enumerate(recs) if r.tag == b"DATA")
    name = m["tensors"][recs[last].index]["name"].decode()
    out.append(("tensor-incomplete",
                build(recount(recs[:last] + recs[last + 1:], nt)),
                f"record {len(recs) - 1} at offset "
                f"{recs[-1].at - HDR - recs[last].length}",
                f"tensor '{name}' is incomplete"))
    out += [
        ("after-end-byte", blob + b"\0", "-",
         f"offset {end_at}: data after the end record"),
        ("after-end-record", blob + end.bytes(), "-",
         f"offset {end_at}: data after the end record"),
        ("after-end-stream", blob + blob, "-",
         f"offset {end_at}: data after the end record"),
    ]
    return out


def odd_but_valid(blob):
    """[(name, bytes)] that every reader must accept: a newer minor
    version, ancillary records anywhere, interleaved tensors, data
    records of one byte."""
    _, recs = parse(blob)
    note = Record(b"note", payload=b"a newer writer's remark")
    zero = Record(b"zzzz")
    data = recs[1:-1]
    # Interleave: tensors' records alternate, each tensor's stay in order.
    by_tensor = {}
    for r in data:
        by_tensor.setdefault(r.index, []).append(r)
    inter, queues = [], [q for _, q in sorted(by_tensor.items(),
                                               reverse=True)]
    while any(queues):
        for q in queues:
            if q:
                inter.append(q.pop(0))
    ones = []
    for r in data:
        for i in range(r.length):
            ones.append(Record(b"DATA", r.index, r.offset + i,
                               r.payload[i:i + 1]))
    m = decode_manifest(recs[0].payload)
    return [
        ("minor-9", build(recs, stream_header(minor=9))),
        ("ancillary-first", build([note] + recs)),
        ("ancillary-everywhere", build([note, recs[0], zero] + [
            x for r in data for x in (r, note)] + [recs[-1]])),
        ("interleaved", build([recs[0]] + inter + [recs[-1]])),
        ("one-byte-records", build(recount([recs[0]] + ones,
                                           len(m["tensors"])))),
    ]


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    cmd, path = argv[1], argv[2]
    with open(path, "rb") as f:
        blob = f.read()
    if cmd == "records":
        _, recs = parse(blob)
        for k, r in enumerate(recs, 1):
            print(k, r.at, r.tag.decode(), r.index, r.offset, r.length)
    elif cmd == "cuts":
        with open(f"{argv[3]}/LIST", "w") as lst:
            for n, where in cuts(blob):
                with open(f"{argv[3]}/{n}", "wb") as f:
                    f.write(blob[:n])
                lst.write(f"{n}\t{where}\n")
    elif cmd == "bad":
        with open(f"{argv[3]}/LIST", "w") as lst:
            for name, b, where, what in damaged(blob):
                with open(f"{argv[3]}/{name}", "wb") as f:
                    f.write(b)
                lst.write(f"{name}\t{where}\t{what}\n")
    elif cmd == "good":
        with open(f"{argv[3]}/LIST", "w") as lst:
            for name, b in odd_but_valid(blob):
                with open(f"{argv[3]}/{name}", "wb") as f:
                    f.write(b)
                lst.write(f"{name}\n")
    elif cmd == "stall":
        _, recs = parse(blob)
        with open(argv[3], "wb") as f:
            f.write(blob[:recs[1].at])
    else:
        raise SystemExit(f"streamtool: unknown command {cmd}\n{__doc__}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
