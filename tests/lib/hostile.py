"""hostile - crafted checkpoints for t2m-unpack's hostile-input tests, and
the checker that runs them.

Pickles are assembled opcode by opcode and zip archives written byte by
byte (no pickle.dumps, no zipfile writer), so every field a reader might
trust can be set to a lie.  Real torch is used only where a genuine file
is the point (the truncation family), and imported only there.

    $PYTHON -m hostile FAMILY DIR     write DIR/<case> files and DIR/cases.json
    $PYTHON -m hostile check DIR      run every case of DIR/cases.json;
                                      print the failures, exit 1 if any

Families: memo nesting sizes views zip pickle globals legacy trunc.

A case is a file and what t2m-unpack must do with it, from the file and
from a pipe (cat F | t2m-unpack): exit 1 with exactly one line on stderr,
"t2m-unpack: <input>: ..." holding the expected fragment; and through
"t2m-unpack F | t2m-pack out.safetensors" no output file, no temporary
file.  Or, for the inputs that are valid, exit 0 with the expected
tensors.  Every run has a timeout, so a hang is a failure, not a stall.
"""
import json
import os
import struct
import subprocess
import sys
import time
import zlib

TIMEOUT = 20

# ---------------------------------------------------------------------------
# A pickle assembler.  Each function returns the bytes of one opcode or of
# a small idiom; a pickle is their concatenation.

MARK, STOP, TUPLE, EMPTY_TUPLE, EMPTY_LIST, EMPTY_DICT = b"(", b".", b"t", \
    b")", b"]", b"}"
APPEND, APPENDS, SETITEM, SETITEMS, BUILD, REDUCE = b"a", b"e", b"s", b"u", \
    b"b", b"R"
BINPERSID, NONE, NEWTRUE, NEWFALSE, POP = b"Q", b"N", b"\x88", b"\x89", b"0"
TUPLE2, LIST, DICT, DUP = b"\x86", b"l", b"d", b"2"


def proto(n=2):
    return b"\x80" + bytes([n])


def frame(n):
    return b"\x95" + struct.pack("<Q", n)


def glob(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def s(text):
    """A str (BINUNICODE)."""
    b = text.encode("utf-8", "surrogatepass") if isinstance(text, str) \
        else text
    return b"X" + struct.pack("<I", len(b)) + b


def i(v):
    """An int in the smallest opcode that holds it, as pickle does."""
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if 0 <= v < 65536:
        return b"M" + struct.pack("<H", v)
    if -2**31 <= v < 2**31:
        return b"J" + struct.pack("<i", v)
    n = (v.bit_length() + 8) // 8
    return b"\x8a" + bytes([n]) + v.to_bytes(n, "little", signed=True)


def put(k):
    return b"q" + bytes([k]) if k < 256 else b"r" + struct.pack("<I", k)


def get(k):
    return b"h" + bytes([k]) if k < 256 else b"j" + struct.pack("<I", k)


def tup(*items):
    return MARK + b"".join(items) + TUPLE


def ints(vals):
    return tup(*(i(v) for v in vals))


def pid(cls, key, numel, legacy=False, view=None):
    """The persistent id of a storage, as torch.save writes it; legacy
    ids have a sixth field, the view or None."""
    six = [] if not legacy else [view if view is not None else NONE]
    return tup(s("storage"), glob("torch", cls), s(key), s("cpu"), i(numel),
               *six) + BINPERSID


def tensor(storage, offset, size, stride, fn="_rebuild_tensor_v2"):
    """_rebuild_tensor_v2(storage, offset, size, stride, False, {})."""
    rest = NEWFALSE + glob("collections", "OrderedDict") + EMPTY_TUPLE + \
        REDUCE if fn != "_rebuild_tensor" else b""
    return glob("torch._utils", fn) + MARK + storage + i(offset) + \
        ints(size) + ints(stride) + rest + TUPLE + REDUCE


def contiguous(size):
    stride, acc = [], 1
    for d in reversed(size):
        stride.insert(0, acc)
        acc *= d
    return stride


def f32(key, size, offset=0, numel=None, legacy=False, stride=None):
    """A float32 tensor over storage key (numel defaults to the view's)."""
    n = 1
    for d in size:
        n *= d
    return tensor(pid("FloatStorage", key, n + offset if numel is None
                      else numel, legacy), offset, size,
                  contiguous(size) if stride is None else stride)


def sdict(*pairs, top=True):
    """A dict of (key, value-bytes) pairs; a whole pickle when top."""
    body = EMPTY_DICT + (MARK + b"".join(s(k) + v for k, v in pairs) +
                         SETITEMS if pairs else b"")
    return proto(2) + body + STOP if top else body


def floats(n, seed=0):
    return struct.pack("<%df" % n, *(float(seed + k) for k in range(n)))


# ---------------------------------------------------------------------------
# A zip writer with every field under control.

class Entry:
    def __init__(self, name, data, method=0, flags=None, deferred=True,
                 crc=None, comp=None):
        self.name = name.encode() if isinstance(name, str) else name
        self.data = data               # uncompressed bytes
        self.method = method
        self.deferred = deferred
        self.flags = (0x0808 if deferred else 0x0800) if flags is None \
            else flags
        self.crc = zlib.crc32(data) if crc is None else crc
        if comp is None:
            comp = data
            if method == 8:
                c = zlib.compressobj(9, zlib.DEFLATED, -15)
                comp = c.compress(data) + c.flush()
        self.comp = comp               # bytes as stored
        self.usize = len(data)
        self.csize = len(comp)
        # What the central directory says (tests may lie here).
        self.cd_lfh = None
        self.cd_csize = None
        self.cd_usize = None
        self.cd_name = None


def zip_bytes(entries, align=64, zip64=True, cd_offset=None,
              locator=None, extra_cd=(), count=None, disk=0, cd_junk=b""):
    """A zip archive as torch.save writes it: records padded so data is
    64-aligned, sizes and CRC in a data descriptor, zip64 end records.
    Returns (bytes, info) where info has each entry's lfh/data/end
    offsets and the central directory's offset."""
    out = bytearray()
    info = {"entries": []}
    for e in entries:
        lfh = len(out)
        base = 30 + len(e.name)
        pad = (-(lfh + base + 4) % align) if align else 0
        extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad if align else b""
        sizes = (0, 0, 0) if e.deferred else (e.crc, e.csize, e.usize)
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, e.flags,
                           e.method, 0, 0, *sizes, len(e.name), len(extra))
        out += e.name + extra
        data = len(out)
        out += e.comp
        if e.deferred:
            out += struct.pack("<IIII", 0x08074b50, e.crc, e.csize, e.usize)
        e.lfh = lfh
        info["entries"].append({"name": e.name.decode(errors="replace"),
                                "lfh": lfh, "data": data,
                                "end": len(out)})
    cd = len(out)
    lfhs = {e.name: e.lfh for e in entries}
    for e in list(entries) + list(extra_cd):
        name = e.cd_name if e.cd_name is not None else e.name
        lfh = e.cd_lfh
        if isinstance(lfh, str):        # the local header of that entry
            lfh = lfhs[lfh.encode()]
        elif lfh is None:
            lfh = e.lfh
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20,
                           e.flags, e.method, 0, 0, e.crc,
                           e.csize if e.cd_csize is None else e.cd_csize,
                           e.usize if e.cd_usize is None else e.cd_usize,
                           len(name), 0, 0, 0, 0, 0, lfh)
        out += name
    out += cd_junk
    cd_end = len(out)
    n = len(entries) + len(extra_cd) if count is None else count
    cd_off = cd if cd_offset is None else cd_offset
    info["cd"] = cd
    if zip64:
        z64 = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, n,
                           n, cd_end - cd, cd_off)
        out += struct.pack("<IIQI", 0x07064b50, 0,
                           z64 if locator is None else locator, 1)
    info["eocd"] = len(out)
    out += struct.pack("<IHHHHIIH", 0x06054b50, disk, disk, n & 0xffff,
                       n & 0xffff, cd_end - cd, cd_off & 0xffffffff, 0)
    return bytes(out), info


def torch_zip(pkl, storages=(), prefix="archive", extra=(), tail=True):
    """A torch.save archive: data.pkl, data/<key> records, version."""
    es = [Entry(prefix + "/data.pkl", pkl)]
    es += [Entry(prefix + "/data/" + k, v) for k, v in storages]
    es += list(extra)
    if tail:
        es.append(Entry(prefix + "/version", b"3\n"))
    return es


def legacy_bytes(obj_pkl, keys, storages, magic=None, version=1001,
                 tail=b""):
    """torch.save(..., _use_new_zipfile_serialization=False): five pickles
    then, for each key of the list, an int64 element count and the bytes.
    storages: list of (numel, bytes) in key-list order."""
    m = 0x1950a86a20f9469cfc6c if magic is None else magic
    out = proto(2) + i(m) + STOP
    out += proto(2) + i(version) + STOP
    out += sdict(("protocol_version", i(1001)), ("little_endian", NEWTRUE),
                 ("type_sizes", sdict(("short", i(2)), ("int", i(4)),
                                      ("long", i(4)), top=False)))
    out += obj_pkl
    out += proto(2) + EMPTY_LIST + (MARK + b"".join(s(k) for k in keys) +
                                    APPENDS if keys else b"") + STOP
    for numel, data in storages:
        out += struct.pack("<q", numel) + data
    return out + tail


# ---------------------------------------------------------------------------
# Idioms for the families.

def laughs(leaf, levels=60):
    """[x, x] nested `levels` deep through the memo: 2^levels leaves."""
    body = leaf + put(0) + POP
    for k in range(1, levels + 1):
        body += MARK + get(k - 1) + get(k - 1) + LIST + put(k) + POP
    return body + get(levels)


def reduce_(module, name, *args):
    """module.name(*args) as REDUCE builds it: inert unless t2m knows it."""
    return glob(module, name) + tup(*args) + REDUCE


def obj_with_state(module, name, state):
    """An object of class module.name whose BUILD state is `state`."""
    return glob(module, name) + EMPTY_TUPLE + REDUCE + state + BUILD


def nested_dicts(depth, leaf, key="n"):
    """{'n': {'n': ... leaf}} with `depth` dicts, the outermost included."""
    body = leaf
    for _ in range(depth):
        body = EMPTY_DICT + s(key) + body + SETITEM
    return body


W2 = ("F32", [2], floats(2))


def tens(**named):
    """Expected tensors: name -> (dtype, shape, bytes), JSON-ready."""
    return {k: [v[0], v[1], v[2].hex()] for k, v in named.items()}


# Expectations.  fail: a regex the one stderr line must match after the
# "t2m-unpack: <input>: " prefix; never: a regex it must not match.
def fail(regex, never=None, seconds=None):
    e = {"fail": regex}
    if never:
        e["never"] = never
    if seconds:
        e["seconds"] = seconds
    return e


def ok(tensors, warn=(), seconds=None, mib=None):
    """Exit 0; the pipeline's safetensors file holds exactly `tensors`;
    stderr holds exactly the warnings (regexes), one line each; within
    `seconds` when given (inputs whose cost must stay linear), and
    t2m-unpack's peak RSS within `mib` MiB when given."""
    e = {"ok": tensors, "warn": list(warn)}
    if seconds:
        e["seconds"] = seconds
    if mib:
        e["mib"] = mib
    return e


def listing(lines, warn=()):
    """-l: exit 0, these lines (exact) among stdout's."""
    return {"list": list(lines), "warn": list(warn)}


class Family:
    def __init__(self, d):
        self.dir = d
        self.cases = []
        os.makedirs(d, exist_ok=True)

    def add(self, name, data, file, pipe="same", args=()):
        for e in (file, pipe):
            assert e in ("same", None) or isinstance(e, dict) and \
                len({"fail", "ok", "list"} & set(e)) == 1, (name, e)
        if data is not None:
            with open(os.path.join(self.dir, name), "wb") as f:
                f.write(data)
        self.cases.append({"name": name, "args": list(args), "file": file,
                           "pipe": file if pipe == "same" else pipe})

    def save(self):
        with open(os.path.join(self.dir, "cases.json"), "w") as f:
            json.dump(self.cases, f, indent=0)


def z(pkl, storages=(("0", floats(2)),), **kw):
    """A torch.save archive around pkl: bytes only."""
    return zip_bytes(torch_zip(pkl, storages), **kw)[0]


# ---------------------------------------------------------------------------
# 1. Memo bombs.

def flood_ids(n):
    """n memo ids below 2^62 whose hash in lib/pickle.c (mix: xorshift 33,
    multiply, xorshift 33) has the same low 32 bits: one slot, whatever
    the table's size.  mix is inverted: xorshift 33 is its own inverse."""
    m, c = (1 << 64) - 1, 0xff51afd7ed558ccd
    ci = pow(c, -1, 1 << 64)

    def sx(x):
        return x ^ (x >> 33)
    ids, k = [], 0
    while len(ids) < n:
        x = sx((sx(k << 32) * ci) & m)
        if x < 1 << 62:
            ids.append(x)
        k += 1
    return ids


def fam_memo(c):
    w = f32("0", [2])
    cap = r"more than \d+ objects reached \(shared references multiply\)"
    # 2^60 leaves through 61 memo entries: the walker's visit cap stops it
    # whether or not a tensor is reachable; -k elsewhere never looks.
    bomb_i = sdict(("w", w), ("bomb", laughs(i(7))))
    c.add("laughs-int.pt", z(bomb_i), fail(r"^'bomb\.[^']*': " + cap))
    bomb_t = sdict(("w", w), ("bomb", laughs(f32("1", [1]))))
    c.add("laughs-tensor.pt", z(bomb_t, (("0", floats(2)),
                                         ("1", floats(1)))),
          fail(r"^'bomb\.[^']*': " + cap))
    c.add("laughs-int.pt", None, ok(tens(w=W2)), args=["-k", "w"])
    c.add("laughs-int.pt", None, fail(r"shared references multiply"),
          args=["-l"])
    # The same bomb in the state of an object t2m cannot name, before
    # and after the real tensor: the order must not change the outcome.
    evil = obj_with_state("evil", "Thing", sdict(("bomb", laughs(i(7))),
                                                 top=False))
    c.add("laughs-in-object-last.pt", z(sdict(("w", w), ("evil", evil))),
          fail(r"^'evil(\.[^']*)?': " + cap))
    c.add("laughs-in-object-first.pt", z(sdict(("evil", evil), ("w", w))),
          fail(r"^'evil(\.[^']*)?': " + cap))
    # The bomb under a 500 KB key: each name beneath copies the key, so
    # the visits allowed would copy 2 TB (over an hour).  The names a
    # walk builds are capped as well.
    c.add("laughs-long-key.pt",
          z(sdict(("w", w), ("K" * 500000, laughs(i(7), 40)))),
          fail(r"^'K{60}\.\.\.': the names beneath pass 1024 MiB \(shared "
               r"references multiply\)$", seconds=10))
    # One 1 MiB tensor named 1200 times through the memo: each name
    # writes its bytes out again, 1.2 GiB of stream from a 1 MiB file.
    # The tensors may come to 64 times the storages' bytes and 1 GiB.
    n = 1 << 18
    big = f32("0", [n]) + put(0)
    data = (("0", floats(n)),)
    names = [("t0", big)] + [("t%d" % k, get(0)) for k in range(1, 1200)]
    c.add("fanout-1200.pt", z(sdict(*names), storages=data),
          fail(r"^storage '0': with those before it, its 1200 tensors come "
               r"to more than 64 times the storages' bytes and 1024 MiB "
               r"\(shared references multiply\)$"))
    names = [("t0", big)] + [("t%d" % k, get(0)) for k in range(1, 64)]
    c.add("fanout-64.pt", z(sdict(*names), storages=data),
          ok(tens(t0=("F32", [n], floats(n)))))

    # LONG_BINPUT 0xFFFFFFFF is a valid id: the storage id memoized there
    # and read back gives two tensors on one storage.
    pkl = proto(2) + EMPTY_DICT + MARK + s("a") + \
        glob("torch._utils", "_rebuild_tensor_v2") + MARK + \
        tup(s("storage"), glob("torch", "FloatStorage"), s("0"), s("cpu"),
            i(2)) + b"r\xff\xff\xff\xff" + BINPERSID + i(0) + ints([2]) + \
        ints([1]) + NEWFALSE + EMPTY_DICT + TUPLE + REDUCE + \
        s("b") + glob("torch._utils", "_rebuild_tensor_v2") + MARK + \
        b"j\xff\xff\xff\xff" + BINPERSID + i(1) + ints([1]) + ints([1]) + \
        NEWFALSE + EMPTY_DICT + TUPLE + REDUCE + SETITEMS + STOP
    c.add("long-binput-max.pt", z(pkl),
          ok(tens(a=W2, b=("F32", [1], floats(1, 1)))))
    for name, op, n in [("binget-missing", b"h\x05", 5),
                        ("long-binget-missing", b"j\xff\xff\xff\xff",
                         0xFFFFFFFF),
                        ("get-text-missing", b"g12\n", 12)]:
        c.add(name + ".pt", z(sdict(("w", w), ("x", op))),
              fail(r"^data\.pkl offset \d+: memo id %d was never stored$"
                   % n))
    c.add("put-too-large.pt",
          z(sdict(("w", w), ("x", i(1) + b"p4611686018427387904\n"))),
          fail(r"^data\.pkl offset \d+: memo id 4611686018427387904 is too "
               r"large$"))
    c.add("put-empty-stack.pt", z(proto(2) + b"q\x00" + EMPTY_DICT + STOP),
          fail(r"^data\.pkl offset 2: PUT with an empty stack$"))
    c.add("put-at-mark.pt",
          z(proto(2) + EMPTY_DICT + MARK + b"q\x00" + SETITEMS + STOP),
          fail(r"^data\.pkl offset 4: PUT with an empty stack$"))
    # Millions of memo entries in a small file: a list memoized under 2^21
    # ids (MEMOIZE, one byte each, in one FRAME), and 2^19 LONG_BINPUTs
    # each read back once, so every one is kept.
    n = 1 << 21
    junk = EMPTY_LIST + b"\x94" * n
    body = proto(4) + EMPTY_DICT + MARK + s("w") + w + s("junk") + junk + \
        SETITEMS + STOP
    c.add("memoize-2M.pt", z(proto(4) + frame(len(body) - 2) + body[2:]),
          ok(tens(w=W2)))
    n = 1 << 19
    puts = b"".join(b"r" + struct.pack("<I", k) for k in range(n))
    gets = b"".join(b"j" + struct.pack("<I", k) + POP for k in range(n))
    c.add("binput-512K-read-back.pt",
          z(sdict(("w", w), ("junk", EMPTY_LIST + puts + gets))),
          ok(tens(w=W2)))
    # Hash flooding: 80000 memo ids (PUT and GET take any id below 2^62)
    # that the memo's hash sends to one slot.  Each is read back, so each
    # is kept; the cost must stay linear.
    ids = flood_ids(80000)
    body = EMPTY_LIST + b"".join(b"p%d\n" % x for x in ids) + \
        b"".join(b"g%d\n0" % x for x in ids)
    c.add("memo-flood-80K.pt", z(sdict(("w", w), ("junk", body))),
          ok(tens(w=W2), seconds=2))


# ---------------------------------------------------------------------------
# 2. Deep nesting.

def fam_nesting(c):
    w = f32("0", [2])
    deep = r"nested deeper than 1000$"
    # 100000 lists, each appended to the one below: [[[...]]].
    n = 100000
    lists = EMPTY_LIST * n + APPEND * (n - 1)
    c.add("lists-100000.pt", z(sdict(("w", w), ("deep", lists))),
          fail(r"^'deep\.0[^']*': " + deep))
    # Not reached: converts, and the deep structure is freed without
    # recursion.
    c.add("lists-100000.pt", None, ok(tens(w=W2)), args=["-k", "w"])
    c.add("lists-100000.pt", None, fail(r"^'deep\.0[^']*': " + deep),
          args=["-l"])
    c.add("marks-100000.pt", z(sdict(("w", w), ("deep", MARK * n))),
          fail(r"^data\.pkl offset \d+: more than 65536 nested MARKs$"))
    m = 60000
    c.add("tuples-60000.pt",
          z(sdict(("w", w), ("deep", MARK * m + TUPLE * m))),
          fail(r"^'deep\.0[^']*': " + deep))
    c.add("stack-2^20.pt",
          z(proto(2) + NONE * ((1 << 20) + 1) + STOP),
          fail(r"^data\.pkl offset \d+: stack deeper than 1048576$"))
    # The walker's cap: a tensor under 999 dicts is reached, under 1000
    # it is not; -k starts counting at what it selects.
    c.add("dicts-999.pt", z(proto(2) + nested_dicts(999, w) + STOP),
          ok(tens(**{".".join(["n"] * 999): W2})))
    c.add("dicts-1000.pt", z(proto(2) + nested_dicts(1000, w) + STOP),
          fail(r"^'n\.n[^']*': " + deep))
    c.add("dicts-1000.pt", None,
          ok(tens(**{".".join(["n"] * 3): W2})),
          args=["-k", ".".join(["n"] * 997)])
    # 999 dicts with 1000-byte keys: a name of 1 MB at the bottom.  Each
    # level's name held at once would be 500 MB.
    key = "K" * 1000
    c.add("dicts-999-long-keys.pt",
          z(proto(2) + nested_dicts(999, w, key=key) + STOP),
          ok(tens(**{".".join([key] * 999): W2}), mib=64))
    # _rebuild_from_type_v2(f, type, args, state) calls f(*args): 100000
    # of them nested through the memo (1.8 MB) must not recurse 100000
    # deep in C; the innermost has no function to call.
    n = 100000
    body = glob("torch._tensor", "_rebuild_from_type_v2") + put(1) + POP + \
        glob("torch", "Tensor") + put(2) + POP + tup(i(0)) + put(10) + POP
    body += b"".join(MARK + get(1) + get(2) + get(10 + k - 1) + NONE + TUPLE +
                     put(10 + k) + POP for k in range(1, n + 1))
    body += get(1) + get(10 + n) + REDUCE
    c.add("rebuild-from-type-100000.pt", z(sdict(("w", w), ("x", body))),
          fail(r"^data\.pkl offset \d+: .*(_rebuild_from_type_v2|deep)"))
    # A safetensors header's JSON nested 100000 deep where t2m expects a
    # string or a shape.
    deep = "[" * n + "]" * n
    c.add("st-deep-metadata.safetensors",
          st_file('{"__metadata__":{"a":%s}}' % deep),
          fail(r"^header byte 21: __metadata__ value is not a string$"))
    c.add("st-deep-shape.safetensors",
          st_file('{"t":{"dtype":"U8","shape":%s,"data_offsets":[0,0]}}'
                  % deep),
          fail(r"^header byte 28: expected a non-negative integer$"))
    # Cycles hold nothing new: a list holding itself, a dict holding
    # itself; each tensor once.
    cyc = EMPTY_LIST + put(1) + get(1) + APPEND + f32("1", [1]) + APPEND
    c.add("cycle-list.pt", z(sdict(("w", w), ("loop", cyc)),
                             (("0", floats(2)), ("1", floats(1)))),
          ok(tens(w=W2, **{"loop.1": ("F32", [1], floats(1))})))
    selfd = proto(2) + EMPTY_DICT + put(0) + s("self") + get(0) + SETITEM + \
        s("w") + w + SETITEM + STOP
    c.add("cycle-dict.pt", z(selfd), ok(tens(w=W2)))


# ---------------------------------------------------------------------------
# 3. Huge sizes.

def st_file(header, data=b""):
    """A safetensors file with the header given as JSON text."""
    h = header.encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def fam_sizes(c):
    w = f32("0", [2])
    big = 1 << 62

    def one(name, value, file, pipe="same", storages=(("0", floats(2)),)):
        c.add(name, z(sdict(("w", w), ("x", value)), storages), file, pipe)

    one("numel-2^62-float.pt", f32("1", [1], numel=big),
        fail(r"^data\.pkl offset \d+: storage '1': 4611686018427387904 "
             r"elements is too many$"))
    one("numel-2^63.pt", f32("1", [1], numel=1 << 63),
        fail(r"^data\.pkl offset \d+: storage '1': bad element count$"))
    one("numel-negative.pt", f32("1", [1], numel=-1),
        fail(r"^data\.pkl offset \d+: storage '1': bad element count$"))
    # A byte storage of 2^62 elements fits the arithmetic; the archive
    # holds 4 bytes.  From a file the record's size gives it away; from a
    # pipe the data runs out.
    u8 = tensor(pid("ByteStorage", "1", big), 0, [4], [1])
    one("numel-2^62-byte.pt", u8,
        fail(r"^archive/data/1: record holds 4 bytes \(method 0\), the "
             r"storage needs 4611686018427387904 stored$"),
        fail(r"^offset \d+: truncated storage data"),
        storages=(("0", floats(2)), ("1", b"abcd")))
    # The same with a strided view spanning 2^61 bytes: nothing may be
    # allocated for the span before the bytes are there.
    u8s = tensor(pid("ByteStorage", "1", big), 0, [2], [1 << 61])
    one("numel-2^62-strided.pt", u8s,
        fail(r"^archive/data/1: record holds 4 bytes"),
        fail(r"truncated|ends", never="out of memory"),
        storages=(("0", floats(2)), ("1", b"abcd")))
    one("shape-overflow.pt",
        tensor(pid("FloatStorage", "1", 4), 0, [1 << 32] * 3, [1] * 3),
        fail(r"^data\.pkl offset \d+: _rebuild_tensor_v2: shape overflows$"))
    one("shape-2^63.pt",
        tensor(pid("FloatStorage", "1", 4), 0, [1 << 63], [1]),
        fail(r"^data\.pkl offset \d+: _rebuild_tensor_v2: bad offset, size "
             r"or stride$"))
    one("strides-overflow.pt",
        tensor(pid("FloatStorage", "1", 1 << 40), 0, [1 << 40], [1 << 40]),
        fail(r"^data\.pkl offset \d+: _rebuild_tensor_v2: strides "
             r"overflow$"))
    one("dims-65.pt", tensor(pid("FloatStorage", "1", 1), 0, [1] * 65,
                             [1] * 65),
        fail(r"^data\.pkl offset \d+: _rebuild_tensor_v2: bad offset, size "
             r"or stride$"))
    # Lengths past the end of the pickle.  From a file the record's size
    # bounds the pickle; from a pipe the reader waits for bytes that never
    # come.
    for name, op, n in [
            ("binunicode8-2^63", b"\x8d" + struct.pack("<Q", 1 << 63),
             1 << 63),
            ("binbytes8-2^63", b"\x8e" + struct.pack("<Q", 1 << 63), 1 << 63),
            ("bytearray8-2^64-1", b"\x96" + struct.pack("<Q", 2**64 - 1),
             2**64 - 1),
            ("binunicode-2^32-1", b"X" + struct.pack("<I", 2**32 - 1),
             2**32 - 1),
            ("long4-2^31-1", b"\x8b" + struct.pack("<I", 2**31 - 1),
             2**31 - 1)]:
        one(name + ".pt", op + b"abc",
            fail(r"^data\.pkl offset \d+: length %d runs past the end of "
                 r"the pickle \(\d+ bytes left\)$" % n),
            fail(r"^data\.pkl offset \d+: input ends inside the pickle$"))
    one("long4-negative.pt", b"\x8b" + struct.pack("<I", 2**31) + b"abc",
        fail(r"^data\.pkl offset \d+: negative length$"))
    one("binstring-negative.pt", b"T" + struct.pack("<I", 2**32 - 1),
        fail(r"^data\.pkl offset \d+: negative length$"))
    # safetensors: data of 2^60 bytes promised, none there.
    # Counts that must cost linear time: 100000 storages named by
    # persistent ids (2 MB), 20000 tensors each with its own record.
    memo = s("storage") + put(1) + glob("torch", "FloatStorage") + put(2) + \
        s("cpu") + put(3) + POP + POP + POP
    ids = b"".join(MARK + get(1) + get(2) + s("s%d" % k) + get(3) + i(0) +
                   TUPLE + BINPERSID + POP for k in range(100000))
    one("storages-100K.pt", EMPTY_LIST + memo + ids, ok(tens(w=W2),
                                                      seconds=2))
    n = 20000
    body = glob("torch._utils", "_rebuild_tensor_v2") + put(0) + POP + memo
    body += b"".join(s("t%d" % k) + get(0) + MARK + MARK + get(1) + get(2) +
                     s(str(k)) + get(3) + i(1) + TUPLE + BINPERSID + i(0) +
                     tup(i(1)) + tup(i(1)) + NEWFALSE + EMPTY_DICT + TUPLE +
                     REDUCE for k in range(n))
    c.add("tensors-20K.pt",
          zip_bytes(torch_zip(proto(2) + EMPTY_DICT + MARK + body + SETITEMS
                              + STOP, [(str(k), floats(1, k))
                                       for k in range(n)]), align=0)[0],
          ok(tens(**{"t%d" % k: ("F32", [1], floats(1, k))
                     for k in range(n)}), seconds=2))
    # safetensors: data of 2^60 - 8 bytes promised, none there; 2^60
    # bytes is 2^63 bits, past what t2m counts.
    n = (1 << 60) - 8
    c.add("st-2^60-8.safetensors",
          st_file('{"t":{"dtype":"U8","shape":[%d],"data_offsets":[0,%d]}}'
                  % (n, n)),
          fail(r"^truncated: the header promises %d bytes of data" % n),
          fail(r"^offset \d+: tensor 't' is truncated \(%d bytes expected, "
               r"0 read\)$" % n))
    c.add("st-2^60.safetensors",
          st_file('{"t":{"dtype":"U8","shape":[%d],"data_offsets":[0,%d]}}'
                  % (1 << 60, 1 << 60)),
          fail(r"^tensor 't': size overflows: 1152921504606846976 elements "
               r"of U8$"))
    c.add("st-shape-overflow.safetensors",
          st_file('{"t":{"dtype":"F32","shape":[%d,%d,%d],'
                  '"data_offsets":[0,0]}}' % (1 << 32, 1 << 32, 1 << 32)),
          fail(r"^tensor 't': shape overflows: more than 2\^63 elements at "
               r"dimension 1$"))
    # Empty, but only after a product past 2^63: safetensors and torch
    # refuse the shape, so t2m-pack could not write it.
    c.add("st-shape-overflow-empty.safetensors",
          st_file('{"t":{"dtype":"U8","shape":[%d,4,0],'
                  '"data_offsets":[0,0]}}' % (1 << 62)),
          fail(r"^tensor 't': shape overflows: more than 2\^63 elements at "
               r"dimension 1$"))
    c.add("st-header-2^60.safetensors",
          struct.pack("<Q", 1 << 60) + b'{"t":{}}',
          fail(r"not a checkpoint format t2m knows"))
    # Stride 0 is what torch saves for an expanded tensor: 2^40 elements
    # from one.  Listed without reading a byte (the stream itself is the
    # size the manifest says; sizes.sh reads only its start).
    one("expand-2^40.pt", tensor(pid("FloatStorage", "1", 1), 0, [1 << 40],
                                 [0]),
        listing(["w\ttensor F32 [2]", "x\ttensor F32 [1099511627776]"]),
        storages=(("0", floats(2)), ("1", floats(1))))
    c.cases[-1]["args"] = ["-l"]


# ---------------------------------------------------------------------------
# 4. Views past their storage, in zip and legacy files.

def fam_views(c):
    def past(off, last, n, key="0"):
        return fail(r"^(data\.pkl|pickle #4 \(the object\)) offset \d+: "
                    r"_rebuild_tensor_v2: view \(offset %d, last element "
                    r"%d\) runs past its storage '%s' of %d elements$"
                    % (off, last, key, n))
    bad = fail(r"^(data\.pkl|pickle #4 \(the object\)) offset \d+: "
               r"_rebuild_tensor_v2: bad offset, size or stride$")
    cases = [
        # name, numel, offset, size, stride, expectation
        ("offset-past", 4, 5, [1], [1], past(5, 5, 4)),
        ("offset-at-end", 4, 4, [1], [1], past(4, 4, 4)),
        ("offset-last", 4, 3, [1], [1], ok(tens(x=("F32", [1],
                                                     floats(1, 3))))),
        ("offset-2^63-1", 4, 2**63 - 1, [1], [1],
         fail(r"offset \d+: _rebuild_tensor_v2: (view \(offset "
              r"9223372036854775807|strides overflow)")),
        ("offset-2^64", 4, 2**64, [1], [1], bad),
        ("stride-past", 6, 0, [2, 3], [4, 1], past(0, 6, 6)),
        ("stride-fits", 7, 0, [2, 3], [4, 1],
         ok(tens(x=("F32", [2, 3], struct.pack("<6f", 0, 1, 2, 4, 5, 6))))),
        ("stride-2^62", 4, 0, [2], [1 << 62],
         fail(r"_rebuild_tensor_v2: strides overflow$")),
        ("stride-negative", 4, 0, [2], [-1], bad),
        ("offset-negative", 4, -1, [1], [1], bad),
        ("size-negative", 4, 0, [-1], [1], bad),
        ("size-stride-rank", 4, 0, [2, 2], [1], bad),
        ("empty-storage", 0, 0, [1], [1], past(0, 0, 0)),
        ("empty-storage-scalar", 0, 0, [], [], past(0, 0, 0)),
        ("empty-storage-empty-view", 0, 0, [0, 3], [3, 1],
         ok(tens(x=("F32", [0, 3], b"")))),
        # Sizes whose product passes 2^63, in C order: the check for C
        # order once multiplied them out (UBSan: signed overflow).
        ("size-product-2^64", 4, 0, [2**62, 4], [4, 1],
         fail(r"_rebuild_tensor_v2: shape overflows$")),
        ("size-product-2^64-empty", 4, 0, [2**62, 4, 0], [4, 1, 1],
         fail(r"_rebuild_tensor_v2: shape overflows$")),
        # expand(): stride 0 repeats elements, written out in full; 2^40
        # of one element would be 4 TB from a few hundred bytes.
        ("expand", 2, 0, [3, 2], [0, 1],
         ok(tens(x=("F32", [3, 2], floats(2) * 3)))),
        ("expand-2^40", 1, 0, [1 << 20, 1 << 20], [0, 0],
         fail(r"^tensor 'x' repeats elements of its storage \(stride 0, as "
              r"expand\(\) makes\): with those before it, more than 1024 "
              r"MiB to write out$", seconds=10)),
    ]
    for name, numel, off, size, stride, exp in cases:
        data = floats(numel)
        x = tensor(pid("FloatStorage", "0", numel), off, size, stride)
        c.add("zip-" + name + ".pt", z(sdict(("x", x)), (("0", data),)), exp)
        lx = tensor(pid("FloatStorage", "0", numel, legacy=True), off, size,
                    stride)
        c.add("legacy-" + name + ".pt",
              legacy_bytes(sdict(("x", lx)), ["0"], [(numel, data)]), exp)
    # The budget for repeated elements is the whole file's: two views of
    # 600 MiB each pass it together, before anything is written.
    rep = [tensor(pid("FloatStorage", "0", 1), 0, [150 << 20], [0])
           for _ in range(2)]
    c.add("zip-expand-twice-600M.pt",
          z(sdict(("x", rep[0]), ("y", rep[1])), (("0", floats(1)),)),
          fail(r"^tensor 'y' repeats elements of its storage \(stride 0, as "
               r"expand\(\) makes\): with those before it, more than 1024 "
               r"MiB to write out$", seconds=10))
    # _rebuild_tensor_v3: an untyped storage counts bytes.
    v3 = glob("torch._utils", "_rebuild_tensor_v3") + MARK + \
        pid("UntypedStorage", "0", 8) + i(0) + ints([3]) + ints([1]) + \
        NEWFALSE + EMPTY_DICT + glob("torch", "float32") + TUPLE + REDUCE
    c.add("zip-v3-past.pt", z(sdict(("x", v3)), (("0", floats(2)),)),
          fail(r"_rebuild_tensor_v3: view \(offset 0, last element 2\) runs "
               r"past its storage '0' of 2 elements$"))
    v3t = glob("torch._utils", "_rebuild_tensor_v3") + MARK + \
        pid("FloatStorage", "0", 2) + i(0) + ints([2]) + ints([1]) + \
        NEWFALSE + EMPTY_DICT + glob("torch", "float32") + TUPLE + REDUCE
    c.add("zip-v3-typed.pt", z(sdict(("x", v3t)), (("0", floats(2)),)),
          fail(r"_rebuild_tensor_v3: argument 7 is not a dtype or the "
               r"storage is typed$"))
    # Legacy storage views: ('storage', cls, root, 'cpu', numel,
    # (view_key, offset, size)).  A view must lie in its root, and a
    # tensor in its view - not merely somewhere in the root.
    def lview(vkey, voff, vsize, off, size):
        view = tup(s(vkey), i(voff), i(vsize))
        x = tensor(pid("FloatStorage", "0", 10, legacy=True, view=view),
                   off, size, [1])
        return legacy_bytes(sdict(("x", x)), ["0"], [(10, floats(10))])
    c.add("legacy-view-ok.pt", lview("v", 4, 3, 1, [2]),
          ok(tens(x=("F32", [2], floats(2, 5)))))
    c.add("legacy-view-past-root.pt", lview("v", 8, 3, 0, [1]),
          fail(r"^pickle #4 \(the object\) offset \d+: bad storage view of "
               r"'0'$"))
    c.add("legacy-tensor-past-view.pt", lview("v", 0, 2, 0, [5]),
          fail(r"_rebuild_tensor_v2: view \(offset \d+, last element \d+\) "
               r"runs past its storage"))
    # A view that is not a tuple: a short string's bytes were once read as
    # a tuple's items (found by fuzz_unpack under ASan).
    for name, view in (("string", s("v")), ("list",
                       EMPTY_LIST + MARK + s("v") + i(0) + i(1) + APPENDS),
                       ("int", i(3))):
        x = tensor(pid("FloatStorage", "0", 10, legacy=True, view=view), 0,
                   [1], [1])
        c.add("legacy-view-%s.pt" % name,
              legacy_bytes(sdict(("x", x)), ["0"], [(10, floats(10))]),
              fail(r"^pickle #4 \(the object\) offset \d+: bad storage "
                   r"view of '0'$"))


# ---------------------------------------------------------------------------
# 5. Zip structure.

def fam_zip(c):
    sd = sdict(("w", f32("0", [2])))
    sd2 = sdict(("w", f32("0", [2])), ("v", f32("1", [1])))
    two = (("0", floats(2)), ("1", floats(1, 5)))
    W = ok(tens(w=W2))
    W_V = ok(tens(w=W2, v=("F32", [1], floats(1, 5))))

    def es(pkl=sd, storages=(("0", floats(2)),), **kw):
        return torch_zip(pkl, storages, **kw)

    def add(name, entries, file, pipe="same", args=(), **kw):
        c.add(name, zip_bytes(entries, **kw)[0], file, pipe, args)

    # Two directory records for one local entry.
    e = es(sd2, two[:1])
    alias = Entry("archive/data/1", floats(2))
    alias.cd_lfh = "archive/data/0"
    add("overlap-alias.pt", e,
        fail(r"^zip: entries 'archive/data/[01]' and 'archive/data/[01]' "
             r"overlap$"),
        fail(r"^zip: storage record archive/data/1 is missing$"),
        extra_cd=[alias])
    # A local header hidden inside another entry's data (Fifield's
    # overlapping-file construction): the directory points into data/0.
    inner = Entry("archive/data/1", floats(1, 5), deferred=False)
    hidden = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0x800, 0, 0, 0,
                         inner.crc, 4, 4, len(inner.name), 0) + inner.name
    outer = floats(2) + hidden + floats(1, 5)
    pkl = sdict(("w", f32("0", [2], numel=len(outer) // 4)),
                ("v", f32("1", [1])))
    e = es(pkl, (("0", outer),))
    ze = zip_bytes(e)[1]["entries"][1]
    inner.cd_lfh = ze["data"] + 8
    add("overlap-nested.pt", e,
        fail(r"^zip: entries 'archive/data/0' and 'archive/data/1' "
             r"overlap$"),
        fail(r"^zip: storage record archive/data/1 is missing$"),
        extra_cd=[inner])
    # The directory says data/0 is longer than it is: into the directory.
    e = es()
    e[1].cd_csize = e[1].cd_usize = 100000
    add("into-cd.pt", e,
        fail(r"^zip: 'archive/data/0': data \(offset \d+, 100000 bytes\) "
             r"runs into the central directory$"), W)
    # Names.
    e = es(sd2, two)
    e[2].name = e[1].name
    add("dup-storage.pt", e, fail(r"^zip: 'archive/data/0' appears twice$"),
        fail(r"^zip: archive/data/0 appears twice$"))
    e = es()
    e.insert(1, Entry("archive/data.pkl", sd))
    add("dup-pkl.pt", e, fail(r"^zip: 'archive/data\.pkl' appears twice$"),
        fail(r"^zip: data\.pkl appears twice$"))
    e = es()
    e.insert(1, Entry("other/data/0", floats(2)))
    add("outside-prefix.pt", e,
        fail(r"^zip: 'other/data/0' is outside the archive's directory "
             r"'archive'$"))
    e = es(prefix="archive")
    e[0].name = b"data.pkl"
    add("no-directory.pt", e,
        fail(r"^zip: 'data\.pkl' is not in a directory, as PyTorch's "
             r"archives require$"))
    add("no-data-pkl.pt", [Entry("archive/version", b"3\n")],
        fail(r"^zip archive without archive/data\.pkl: not a PyTorch "
             r"checkpoint$"),
        fail(r"^zip archive without data\.pkl: not a PyTorch checkpoint$"))
    e = es()
    e[1].name = b"archive/data/0\0x"
    add("nul-in-name.pt", e,
        fail(r"^zip: entry \d+ has an empty or bad name$"),
        fail(r"^zip offset \d+: empty or bad entry name$"))
    # Encryption and compression.
    e = es()
    e[0].flags |= 1
    add("encrypted-pkl.pt", e, fail(r"^zip: 'archive/data\.pkl' is "
                                    r"encrypted$"))
    e = es()
    e[1].flags |= 1
    add("encrypted-storage.pt", e, fail(r"archive/data/0'? is encrypted$"))
    e = es()
    e[1] = Entry("archive/data/0", floats(2), method=8)
    add("deflated-storage.pt", e,
        fail(r"^archive/data/0: compressed record holds 8 bytes \(method "
             r"8\), the storage needs 8 stored$"),
        fail(r"^zip: archive/data/0 is compressed$"))
    e = es()
    e[0] = Entry("archive/data.pkl", sd, method=8)
    add("deflated-pkl.pt", e, W, fail(r"^zip: data\.pkl is compressed$"))
    # A zip bomb: data.pkl deflated from 64 KiB, the directory claims
    # 1 KiB.  Inflation stops at the stated size.
    bomb = sd[:-1] + NONE * 65536 + POP * 65536 + STOP
    e = es()
    e[0] = Entry("archive/data.pkl", bomb, method=8)
    e[0].cd_usize = 1024
    add("deflate-bomb.pt", e,
        fail(r"^zip: 'archive/data\.pkl': deflated data is damaged or "
             r"larger than its stated size$"),
        fail(r"^zip: data\.pkl is compressed$"))
    e = es()
    e[0] = Entry("archive/data.pkl", sd, method=8)
    e[0].cd_usize = 2**31 - 1
    add("deflated-pkl-2G.pt", e,
        fail(r"^zip: 'archive/data\.pkl' is 2147483647 bytes \(at most "
             r"1073741824\)$"),
        fail(r"^zip: data\.pkl is compressed$"))
    e = es()
    e[0].method = 12
    add("bzip2-pkl.pt", e,
        fail(r"^zip: 'archive/data\.pkl': compression method 12 is not "
             r"supported$"),
        fail(r"^zip: data\.pkl is compressed$"))
    e = es()
    e[0].cd_usize = len(sd) + 1
    add("stored-two-sizes.pt", e,
        fail(r"^zip: stored entry 'archive/data\.pkl' has two sizes$"), W)
    # Record sizes against the pickle's element counts.
    e = es(storages=(("0", floats(1)),))
    add("record-short.pt", e,
        fail(r"^archive/data/0: record holds 4 bytes \(method 0\), the "
             r"storage needs 8 stored$"),
        fail(r"^zip offset \d+: 'archive/data/0': no data descriptor after "
             r"its 8 bytes of data"))
    e = es(storages=(("0", floats(4)),))
    add("record-long.pt", e,
        fail(r"^archive/data/0: record holds 16 bytes \(method 0\), the "
             r"storage needs 8 stored$"),
        fail(r"^zip offset \d+: 'archive/data/0': no data descriptor after "
             r"its 8 bytes of data"))
    e = es(storages=(("0", floats(1)),))
    e[1].deferred, e[1].flags = False, 0x800
    add("record-short-sized.pt", e,
        fail(r"^archive/data/0: record holds 4 bytes"),
        fail(r"^zip: archive/data/0 holds 4 bytes, the storage needs 8$"))
    add("record-missing.pt", es(sd2, two[:1]),
        fail(r"^storage '1' has no record archive/data/1$"),
        fail(r"^zip: storage record archive/data/1 is missing$"))
    # A record no tensor uses: skipped from a file, refused from a pipe.
    add("record-unused.pt", es(sd, two), W,
        fail(r"^zip: archive/data/1 is not a storage data\.pkl names$"))
    e = es(sd, two[:1])
    e.insert(0, e.pop(1))
    add("storage-first.pt", e, W,
        fail(r"^zip: storage archive/data/0 comes before data\.pkl, as in "
             r"TorchScript archives; read it from a file, not a pipe$"))
    # Storage keys longer than the 50 bytes a record name buffer holds.
    long_key = "K" * 60
    pkl = sdict(("w", f32(long_key, [2])))
    add("long-key.pt", es(pkl, ((long_key, floats(2)),)), W)
    add("long-key-cut.pt", es(pkl, ((long_key[:50], floats(2)),)),
        fail(r"^storage '%s' has no record archive/data/%s$"
             % (long_key, long_key)),
        fail(r"^zip: archive/data/%s is not a storage data\.pkl names$"
             % long_key[:50]))
    # The end records.  From a pipe the central directory is only drained,
    # so what only it says cannot matter there.
    add("cd-past-end.pt", es(),
        fail(r"^zip: central directory \(offset \d+, \d+ bytes\) lies "
             r"outside the archive$"), W, cd_offset=1 << 40)
    add("cd-past-end-32.pt", es(),
        fail(r"^zip: central directory \(offset \d+, \d+ bytes\) lies "
             r"outside the archive$"), W, cd_offset=0xfffffff0, zip64=False)
    add("zip64-locator-past.pt", es(), fail(r"^zip: bad zip64 locator$"), W,
        locator=1 << 50)
    add("zip64-locator-wrong.pt", es(),
        fail(r"^zip: zip64 end record missing at offset 0$"), W, locator=0)
    add("cd-count-huge.pt", es(),
        fail(r"^zip: central directory too large$"), W, count=1 << 40)
    add("cd-count-short.pt", es(),
        fail(r"^zip: \d+ stray bytes in the central directory$"), W, count=2)
    add("cd-count-long.pt", es(),
        fail(r"^zip: central directory entry 3 is damaged$"), W, count=4)
    add("cd-junk.pt", es(),
        fail(r"^zip: 5 stray bytes in the central directory$"), W,
        cd_junk=b"junk!")
    add("multi-disk.pt", es(),
        fail(r"^zip: multi-disk archives are not supported$"), W, disk=1,
        zip64=False)
    e = es()
    e[1].cd_lfh = 0xfffffff0
    add("lfh-outside.pt", e,
        fail(r"^zip: 'archive/data/0': local header offset 4294967280 is "
             r"outside the archive$"), W)
    e = es()
    e[1].cd_lfh = 8
    add("lfh-not-a-header.pt", e,
        fail(r"^zip: 'archive/data/0': no local header at offset 8$"), W)
    cut = zip_bytes(es())[0]
    c.add("no-eocd.pt", cut[:-22],
          fail(r"^zip: no end of central directory record \(truncated or not "
               r"a zip archive\)$"), W)
    # CRC-32s: of a storage (0, as torch >= 2.4 may save, and wrong), and
    # of data.pkl.  -c skips the check.
    for name, k, crc in [("crc-zero", 1, 0), ("crc-wrong", 1, None),
                         ("crc-pkl", 0, None)]:
        e = es()
        e[k].crc = crc if crc is not None else e[k].crc ^ 0x00100000
        rec = "archive/data/0" if k else r"archive/data\.pkl"
        add(name + ".pt", e,
            fail(r"^(zip: )?'?%s'?: CRC-32 mismatch \(stored %08x, computed "
                 r"%08x\).*-c" % (rec, e[k].crc, zlib.crc32(e[k].data))))
        c.add(name + ".pt", None, W, args=["-c"])
    # byteorder: big swaps each element; anything else is refused.
    be = struct.pack(">2f", 0.0, 1.0)
    e = es(storages=(("0", be),))
    e.insert(1, Entry("archive/byteorder", b"big"))
    add("byteorder-big.pt", e, W)
    # The same record after the storages it describes: a pipe has
    # already written them, so it must refuse rather than write them
    # unswapped.
    add("byteorder-late.pt",
        es(storages=(("0", be),), extra=[Entry("archive/byteorder",
                                                b"big")]), W,
        fail(r"byteorder"))
    add("byteorder-bad.pt",
        es(extra=[Entry("archive/byteorder", b"middle")]),
        fail(r"^byteorder record says neither 'little' nor 'big'$"))


# ---------------------------------------------------------------------------
# 6. Pickle structure.

def fam_pickle(c):
    w = f32("0", [2])
    at = r"^data\.pkl offset %d: "

    def one(name, pkl, regex, pipe=None, storages=(("0", floats(2)),)):
        c.add(name + ".pt", z(pkl, storages), fail(regex),
              fail(pipe) if pipe else "same")

    one("opcode-ff", proto(2) + EMPTY_DICT + b"\xff" + STOP,
        at % 3 + r"unknown pickle opcode 0xff$")
    one("opcode-nul", proto(2) + b"\x00" + STOP,
        at % 2 + r"unknown pickle opcode 0x00$")
    one("proto-6", proto(6) + EMPTY_DICT + STOP,
        at % 0 + r"pickle protocol 6 is not supported \(0 to 5 are\)$")
    one("stop-empty", proto(2) + STOP,
        at % 2 + r"STOP with 0 objects on the stack \(1 expected\)$")
    one("stop-two", proto(2) + EMPTY_DICT + EMPTY_DICT + STOP,
        at % 4 + r"STOP with 2 objects on the stack \(1 expected\)$")
    one("stop-open-mark", proto(2) + EMPTY_DICT + MARK + STOP,
        at % 4 + r"STOP with an open MARK$")
    one("stop-mark-only", proto(2) + MARK + STOP,
        at % 3 + r"STOP with an open MARK$")
    one("setitems-on-list",
        proto(2) + EMPTY_LIST + MARK + s("w") + w + SETITEMS + STOP,
        r"^data\.pkl offset \d+: SETITEM on a list$")
    one("setitem-on-tuple",
        proto(2) + EMPTY_TUPLE + s("w") + w + SETITEM + STOP,
        r"^data\.pkl offset \d+: SETITEM on a tuple$")
    one("setitems-odd",
        proto(2) + EMPTY_DICT + MARK + s("w") + w + s("x") + SETITEMS + STOP,
        r"^data\.pkl offset \d+: SETITEMS with an odd number of items$")
    one("append-on-dict", proto(2) + EMPTY_DICT + w + APPEND + STOP,
        r"^data\.pkl offset \d+: APPEND on a dict$")
    one("appends-on-str", proto(2) + s("x") + MARK + w + APPENDS + STOP,
        r"^data\.pkl offset \d+: APPEND on a str$")
    one("build-on-int", proto(2) + i(3) + EMPTY_DICT + BUILD + STOP,
        at % 5 + r"BUILD on an int$")
    one("build-on-none", proto(2) + NONE + EMPTY_DICT + BUILD + STOP,
        at % 4 + r"BUILD on None$")
    # A dict BUILT with itself as its state, twice: the second adds the
    # dict's entries to themselves, which read them from the array it
    # grew (a use after free, found by fuzz_unpack).  __dict__.update of
    # itself changes nothing.
    selfish = EMPTY_DICT + MARK + s("a") + i(1) + s("b") + i(2) + s("c") + \
        i(3) + SETITEMS + DUP + DUP + BUILD + BUILD
    c.add("build-self-twice.pt", z(sdict(("w", w), ("d", selfish))),
          ok(tens(w=W2)))
    one("reduce-list-args",
        proto(2) + glob("collections", "OrderedDict") + EMPTY_LIST +
        REDUCE + STOP,
        r"^data\.pkl offset \d+: REDUCE arguments are a list, not a tuple$")
    one("newobj-int-args",
        proto(2) + glob("evil", "Thing") + i(1) + b"\x81" + STOP,
        r"^data\.pkl offset \d+: NEWOBJ arguments are an int, not a tuple$")
    one("rebuild-str",
        sdict(("w", glob("torch._utils", "_rebuild_tensor_v2") +
               tup(s("0"), i(0), ints([2]), ints([1]), NEWFALSE, EMPTY_DICT)
               + REDUCE)),
        r"^data\.pkl offset \d+: _rebuild_tensor_v2: argument 1 is a str, "
        r"not a storage$")
    one("rebuild-no-args",
        sdict(("w", glob("torch._utils", "_rebuild_tensor_v2") +
               EMPTY_TUPLE + REDUCE)),
        r"^data\.pkl offset \d+: _rebuild_tensor_v2: no arguments$")
    one("parameter-of-str",
        sdict(("w", glob("torch._utils", "_rebuild_parameter") +
               tup(s("x"), NEWTRUE, EMPTY_DICT) + REDUCE)),
        r"^data\.pkl offset \d+: _rebuild_parameter of a str$")
    one("persid-str", sdict(("w", s("storage") + BINPERSID)),
        r"^data\.pkl offset \d+: persistent id is a str, not a tuple "
        r"naming its kind$")
    one("persid-text", sdict(("w", b"P0\n")),
        r"^data\.pkl offset \d+: persistent id is a str, not a tuple "
        r"naming its kind$")
    one("persid-short",
        sdict(("w", tup(s("storage"), glob("torch", "FloatStorage")) +
               BINPERSID)),
        r"^data\.pkl offset \d+: unsupported persistent id \('storage' with "
        r"2 fields\)$")
    one("persid-kind",
        sdict(("w", tup(s("evil"), i(1)) + BINPERSID)),
        r"^data\.pkl offset \d+: unsupported persistent id \('evil' with 2 "
        r"fields\)$")
    one("storage-evil",
        sdict(("w", tensor(pid("EvilStorage", "0", 2), 0, [2], [1]))),
        r"^data\.pkl offset \d+: unknown storage type torch\.EvilStorage$")
    one("storage-class-int",
        sdict(("w", tup(s("storage"), i(5), s("0"), s("cpu"), i(2)) +
               BINPERSID)),
        r"^data\.pkl offset \d+: unknown storage type int$")
    one("storage-key-float",
        sdict(("w", tup(s("storage"), glob("torch", "FloatStorage"),
                        b"G" + struct.pack(">d", 0.5), s("cpu"), i(2)) +
               BINPERSID)),
        r"^data\.pkl offset \d+: storage key is a float$")
    one("storage-key-nul",
        sdict(("w", tensor(pid("FloatStorage", "0\0x", 2), 0, [2], [1]))),
        r"^data\.pkl offset \d+: storage key holds NUL$")
    one("storage-two-dtypes",
        sdict(("w", f32("0", [2])),
              ("h", tensor(pid("HalfStorage", "0", 2), 0, [2], [1]))),
        r"^data\.pkl offset \d+: storage '0' is referenced as two different "
        r"types or sizes$")
    one("storage-two-sizes",
        sdict(("w", f32("0", [2])), ("v", f32("0", [1], numel=1))),
        r"^data\.pkl offset \d+: storage '0' is referenced as two different "
        r"types or sizes$")
    one("ordereddict-of-ints",
        sdict(("w", reduce_("collections", "OrderedDict",
                            MARK + i(1) + i(2) + LIST))),
        r"^data\.pkl offset \d+: dict from a sequence holding an int$")
    # Stack and mark discipline.
    one("tuple2-underflow", proto(2) + EMPTY_DICT + TUPLE2 + STOP,
        at % 3 + r"stack underflow$")
    one("tuple-no-mark", proto(2) + EMPTY_DICT + TUPLE + STOP,
        at % 3 + r"no MARK to pop to$")
    one("pop-mark-none", proto(2) + EMPTY_DICT + b"1" + STOP,
        at % 3 + r"no MARK to pop to$")
    one("setitem-across-mark",
        proto(2) + EMPTY_DICT + s("w") + MARK + w + SETITEM + STOP,
        r"^data\.pkl offset \d+: stack underflow$")
    one("dict-odd", proto(2) + MARK + s("w") + DICT + STOP,
        at % 9 + r"DICT with an odd number of items$")
    one("stack-global-ints",
        proto(4) + i(1) + i(2) + b"\x93" + STOP,
        at % 6 + r"STACK_GLOBAL needs two strings$")
    one("global-not-utf8", proto(2) + b"cos\xff\nsystem\n" + STOP,
        at % 2 + r"global name is not valid UTF-8$")
    one("global-no-newline", proto(2) + b"cos\nsystem",
        at % 2 + r"pickle ends inside the argument of opcode 0x63$",
        r"^data\.pkl offset \d+: input ends inside the pickle$")
    one("next-buffer", proto(5) + b"\x97" + STOP,
        at % 2 + r"out-of-band buffers \(NEXT_BUFFER\) are not supported$")
    one("int-text-bad", proto(0) + b"I12x\n" + STOP,
        at % 2 + r"bad integer text$")
    one("float-text-bad", proto(0) + b"Fnope\n" + STOP,
        at % 2 + r"bad float text$")
    one("string-unquoted", proto(0) + b"Sabc\n" + STOP,
        at % 2 + r"STRING argument is not quoted$")
    one("unicode-bad-escape", proto(0) + b"V\\ud800\n" + STOP,
        at % 2 + r"bad escape in UNICODE$")
    one("obj-no-class", proto(1) + MARK + b"o" + STOP,
        at % 3 + r"OBJ without a class$")
    # data.pkl and its record disagree about where the pickle ends.
    pkl = sdict(("w", w))
    one("no-stop", pkl[:-1],
        r"^data\.pkl offset %d: pickle ends without STOP$" % (len(pkl) - 1),
        r"^data\.pkl offset \d+: input ends inside the pickle$")
    # From a pipe the pickle's STOP comes before the record's end; the
    # message may say so, or give the record's true size - not a size
    # read from the pickle's own bytes.
    one("bytes-after-stop", pkl + b"N.",
        r"^data\.pkl offset %d: bytes after STOP$" % len(pkl),
        r"data\.pkl.*bytes follow the pickle's STOP \(at %d\)" % len(pkl))
    # Names a state dict cannot give: the same name twice, a name that
    # is not UTF-8, a name with NUL.
    one("name-twice",
        proto(2) + EMPTY_DICT + MARK + s("a") + EMPTY_DICT + s("b") + w +
        SETITEM + s("a.b") + w + SETITEMS + STOP,
        r"tensor 'a\.b' appears twice$")
    one("name-not-utf8", sdict(("w\udcff", w)),
        r"tensor name .*is not valid UTF-8$")


# ---------------------------------------------------------------------------
# 7. Unknown GLOBALs are inert.

def fam_globals(c):
    w = f32("0", [2])
    sh = s("touch pwned")
    evil = [
        ("system", reduce_("os", "system", sh), "object os.system"),
        ("posix", reduce_("posix", "system", sh), "object posix.system"),
        ("eval", reduce_("builtins", "eval",
                         s("__import__('os').system('touch pwned')")),
         "object builtins.eval"),
        ("eval2", reduce_("__builtin__", "eval",
                          s("open('pwned', 'w')")), "object builtins.eval"),
        ("exec", reduce_("builtins", "exec", s("open('pwned', 'w')")),
         "object builtins.exec"),
        ("popen", reduce_("subprocess", "Popen",
                          tup(s("touch"), s("pwned"))),
         "object subprocess.Popen"),
        ("inst", MARK + sh + b"ios\nsystem\n", "object os.system"),
        ("stack-global", s("os") + s("system") + b"\x93" + tup(sh) + REDUCE,
         "object os.system"),
        ("newobj", glob("subprocess", "Popen") + tup(sh) + b"\x81",
         "object subprocess.Popen"),
        ("getattr", glob("builtins", "getattr") +
         tup(glob("os", "system"), s("__call__")) + REDUCE + tup(sh) +
         REDUCE, "object object"),
        ("global", glob("os", "system"), "global os.system"),
        ("ext", b"\x82\x01", "global copyreg.extension.1"),
        ("built", reduce_("os", "system", sh) +
         sdict(("a", sh), top=False) + BUILD, "object os.system"),
        ("reconstructor", reduce_("copyreg", "_reconstructor",
                                  glob("os", "system"),
                                  glob("builtins", "object"), NONE),
         "object os.system"),
    ]
    pkl = sdict(("w", w), *((k, v) for k, v, _ in evil))
    c.add("inert.pt", z(pkl), ok(tens(w=W2)))
    c.add("inert.pt", None,
          listing(["w\ttensor F32 [2]"] + ["%s\t%s" % (k, what)
                                           for k, _, what in evil]),
          args=["-l"])
    c.add("inert-legacy.pt",
          legacy_bytes(sdict(("w", f32("0", [2], legacy=True)),
                             *((k, v) for k, v, _ in evil)),
                       ["0"], [(2, floats(2))]), ok(tens(w=W2)))
    # Tensors held by an object t2m cannot name: in its BUILD state they
    # are skipped with a warning; -k reaches them by name.
    thing = obj_with_state("evil", "Thing",
                           sdict(("t", f32("1", [1])), ("n", i(3)),
                                 top=False))
    two = (("0", floats(2)), ("1", floats(1, 7)))
    c.add("object-tensor.pt", z(sdict(("w", w), ("thing", thing)), two),
          ok(tens(w=W2), warn=[r"^skipping 1 tensor inside 'thing', the "
                               r"result of evil\.Thing\(\.\.\.\)$"]))
    c.add("object-tensor.pt", None,
          listing(["w\ttensor F32 [2]", "thing\tobject evil.Thing",
                   "thing.t\ttensor F32 [1]", "thing.n\tint 3"]),
          args=["-l"])
    c.add("object-tensor.pt", None,
          ok(tens(**{"thing.t": ("F32", [1], floats(1, 7))})),
          args=["-k", "thing.t"])
    # ... and in the arguments of an unknown callable, which no state
    # dict holds either: skipped, but never silently.
    c.add("call-tensor.pt",
          z(sdict(("w", w), ("call", reduce_("os", "system",
                                             f32("1", [1])))), two),
          ok(tens(w=W2), warn=[r"^skipping 1 tensor inside 'call', the "
                               r"result of os\.system\(\.\.\.\)$"]))
    c.add("newobj-tensor.pt",
          z(sdict(("w", w), ("new", glob("evil", "Thing") +
                             tup(f32("1", [1])) + b"\x81")), two),
          ok(tens(w=W2), warn=[r"^skipping 1 tensor inside 'new', an "
                               r"object of class evil\.Thing$"]))
    # A tensor subclass rebuilt through an unknown function.
    c.add("rebuild-from-type-os.pt",
          z(sdict(("w", glob("torch._tensor", "_rebuild_from_type_v2") +
                   tup(glob("os", "system"), glob("evil", "T"), tup(sh),
                       EMPTY_DICT) + REDUCE))),
          fail(r"^data\.pkl offset \d+: _rebuild_from_type_v2 of an unknown "
               r"function os\.system$"))


# ---------------------------------------------------------------------------
# 9. The legacy format.

def fam_legacy(c):
    obj = sdict(("w", f32("0", [2], legacy=True)),
                ("v", f32("1", [1], legacy=True)))
    keys = ["0", "1"]
    data = [(2, floats(2)), (1, floats(1, 5))]
    good = ok(tens(w=W2, v=("F32", [1], floats(1, 5))))
    c.add("good.pt", legacy_bytes(obj, keys, data), good)
    c.add("magic-wrong.pt", legacy_bytes(obj, keys, data,
                                         magic=0x1950a86a20f9469cfc6d),
          fail(r"^not a checkpoint format t2m knows \(first bytes 80 02 8a "
               r"0a\)$"))
    c.add("version-1000.pt", legacy_bytes(obj, keys, data, version=1000),
          fail(r"^pickle #2 \(protocol version\): legacy format version "
               r"1000 is not supported \(1001 is\)$"))
    c.add("version-str.pt",
          legacy_bytes(obj, keys, data).replace(
              proto(2) + i(1001) + STOP, proto(2) + s("1001") + STOP, 1),
          fail(r"^pickle #2 \(protocol version\): legacy format version -1 "
               r"is not supported \(1001 is\)$"))
    c.add("key-unknown.pt", legacy_bytes(obj, ["0", "1", "9"],
                                         data + [(1, floats(1))]),
          fail(r"^storage key 2 is not a storage the object uses$"))
    c.add("key-int.pt", legacy_bytes(obj, keys, data).replace(
        s("0") + s("1") + APPENDS, i(0) + s("1") + APPENDS),
          fail(r"^storage key 0 is not a storage the object uses$"))
    c.add("key-twice.pt", legacy_bytes(obj, ["0", "0"], [data[0], data[0]]),
          fail(r"^storage '0' is listed twice$"))
    c.add("key-missing.pt", legacy_bytes(obj, ["0"], data[:1]),
          fail(r"^storage '1' is not in the file$"))
    keys_dict = legacy_bytes(obj, keys, data).replace(
        proto(2) + EMPTY_LIST + MARK + s("0") + s("1") + APPENDS + STOP,
        proto(2) + EMPTY_DICT + STOP)
    c.add("keys-not-list.pt", keys_dict,
          fail(r"^pickle #5 \(storage keys\) is a dict, not a list$"))
    c.add("numel-disagrees.pt", legacy_bytes(obj, keys, [(3, floats(3)),
                                                         data[1]]),
          fail(r"^offset \d+: storage '0' holds 3 elements, the object says "
               r"2$"))
    c.add("numel-2^63.pt", legacy_bytes(obj, keys, [(-2**63, b""),
                                                    data[1]]),
          fail(r"^offset \d+: storage '0' holds 9223372036854775808 "
               r"elements, the object says 2$"))
    c.add("storage-truncated.pt",
          legacy_bytes(obj, keys, data)[:-2],
          fail(r"^offset \d+: truncated storage data \(4 bytes expected, 2 "
               r"read\)$"))
    c.add("size-truncated.pt",
          legacy_bytes(obj, keys, [data[0], (1, b"")])[:-4],
          fail(r"^offset \d+: truncated storage size \(8 bytes expected, 4 "
               r"read\)$"))
    c.add("trailing.pt", legacy_bytes(obj, keys, data, tail=b"\0"),
          fail(r"^offset \d+: data after the last storage$"))
    c.add("pid-five-fields.pt",
          legacy_bytes(sdict(("w", f32("0", [2]))), ["0"], data[:1]),
          fail(r"^pickle #4 \(the object\) offset \d+: unsupported "
               r"persistent id \('storage' with 5 fields\)$"))
    # A numel header of 2^62 bytes that the object agrees with: from a
    # file its size shows it cannot be there; no allocation may depend on
    # it before the bytes are read.
    big = 1 << 62
    o2 = sdict(("w", tensor(pid("ByteStorage", "0", big, legacy=True), 0,
                            [2], [1 << 61])))
    c.add("numel-2^62-strided.pt", legacy_bytes(o2, ["0"], [(big, b"xx")]),
          fail(r"storage|truncated", never="out of memory"))
    o3 = sdict(("w", tensor(pid("ByteStorage", "0", big, legacy=True), 0,
                            [2], [1])))
    c.add("numel-2^62.pt", legacy_bytes(o3, ["0"], [(big, b"xx")]),
          fail(r"truncated storage data|storage '0'"))
    # 20000 storages, each looked up by its key as the list names it:
    # linear time.
    n = 20000
    body = glob("torch._utils", "_rebuild_tensor_v2") + put(0) + POP + \
        s("storage") + put(1) + glob("torch", "FloatStorage") + put(2) + \
        s("cpu") + put(3) + POP + POP + POP
    body += b"".join(s("t%d" % k) + get(0) + MARK + MARK + get(1) + get(2) +
                     s(str(k)) + get(3) + i(1) + NONE + TUPLE + BINPERSID +
                     i(0) + tup(i(1)) + tup(i(1)) + NEWFALSE + EMPTY_DICT +
                     TUPLE + REDUCE for k in range(n))
    c.add("tensors-20K.pt",
          legacy_bytes(proto(2) + EMPTY_DICT + MARK + body + SETITEMS + STOP,
                       [str(k) for k in range(n)],
                       [(1, floats(1, k)) for k in range(n)]),
          ok(tens(**{"t%d" % k: ("F32", [1], floats(1, k))
                     for k in range(n)}), seconds=2))
    # sys_info says big-endian: each element is swapped.
    be = legacy_bytes(obj, keys, [(2, struct.pack(">2f", 0, 1)),
                                  (1, struct.pack(">f", 5))])
    be = be.replace(s("little_endian") + NEWTRUE,
                    s("little_endian") + NEWFALSE)
    c.add("big-endian.pt", be, good)


# ---------------------------------------------------------------------------
# 8. Truncation of real checkpoints.

def zip_layout(blob):
    """Where each record of a zip archive lies: lfh, data, data_end,
    end (after its descriptor); and the central directory's offset."""
    import io
    import zipfile
    zf = zipfile.ZipFile(io.BytesIO(blob))
    out = []
    for zi in sorted(zf.infolist(), key=lambda x: x.header_offset):
        lfh = zi.header_offset
        nlen, xlen = struct.unpack("<HH", blob[lfh + 26:lfh + 30])
        data = lfh + 30 + nlen + xlen
        end = data + zi.compress_size
        dd = end
        if zi.flag_bits & 8:
            dd += 16 if blob[end:end + 4] == b"PK\7\x08" else 12
        out.append({"name": zi.filename, "lfh": lfh, "names": lfh + 30,
                    "extra": lfh + 30 + nlen, "data": data, "data_end": end,
                    "end": dd})
    eocd = blob.rindex(b"PK\5\6")
    cd = struct.unpack("<I", blob[eocd + 16:eocd + 20])[0]
    if cd == 0xffffffff or blob.rfind(b"PK\6\6") >= 0:
        z64 = blob.rindex(b"PK\6\6")
        cd = struct.unpack("<Q", blob[z64 + 48:z64 + 56])[0]
    return out, cd


def legacy_layout(blob):
    """The five pickles' [start, end) and each storage's header offset
    and byte count, in file order."""
    import io
    import pickletools
    f = io.BytesIO(blob)
    pickles = []
    for _ in range(5):
        start = f.tell()
        for _op in pickletools.genops(f):
            pass
        pickles.append((start, f.tell()))
    return pickles, f.tell()


def legacy_itemsizes(blob, pickles):
    """Storage key -> element size, in the order the storages lie, read
    from the object pickle's persistent ids without torch."""
    import collections
    import io
    import pickle
    seen = {}

    class U(pickle.Unpickler):
        def find_class(self, module, name):
            if name.endswith("Storage"):
                return name
            if name == "OrderedDict":
                return collections.OrderedDict
            return lambda *a, **k: None

        def persistent_load(self, pid):
            seen[pid[2]] = pid[1]

    U(io.BytesIO(blob[pickles[3][0]:pickles[3][1]])).load()
    keys = pickle.loads(blob[pickles[4][0]:pickles[4][1]])
    size = {"FloatStorage": 4, "LongStorage": 8, "HalfStorage": 2}
    return {k: size[seen[k]] for k in keys}


def spread(size, n=50):
    return {size * k // n for k in range(n)}


def cut_points(size, marks):
    pts = spread(size) | {0, 1, 3, 4, size - 1}
    for m in marks:
        pts |= {m - 1, m, m + 1}
    return sorted(p for p in pts if 0 <= p < size)


def trunc_expect_common(n):
    if n == 0:
        return fail(r"^empty input$")
    if n < 4:
        return fail(r"^not a checkpoint format t2m knows")
    return None


def trunc_zip_file(n):
    e = trunc_expect_common(n)
    if e:
        return e
    if n < 22:
        return fail(r"^zip: %d bytes: too short for an archive$" % n)
    return fail(r"^zip: no end of central directory record \(truncated or "
                r"not a zip archive\)$")


def trunc_zip_pipe(n, layout, cd, full, torchscript=False):
    """Front to back: what is missing decides the message; a cut inside
    the central directory loses nothing a pipe reads."""
    e = trunc_expect_common(n)
    if e:
        return e
    if n >= cd + 4:
        return full
    if torchscript and n >= layout[0]["data"]:
        return fail(r"TorchScript archives?; read it from a file, not a "
                    r"pipe$")
    ends = r"^zip offset \d+: archive ends without a central directory$"
    for r in layout:
        if n < r["lfh"]:
            break
        if n >= r["end"]:
            continue
        if n < r["lfh"] + 4:
            return fail(ends)
        if n < r["names"]:
            return fail(r"^offset \d+: truncated zip local header")
        if n < r["extra"]:
            return fail(r"^offset \d+: truncated zip entry name")
        if n < r["data"]:
            return fail(r"^offset \d+: truncated zip extra field")
        rel = r["name"].split("/", 1)[1]
        if n < r["data_end"]:
            if rel == "data.pkl":
                return fail(r"^data\.pkl offset \d+: input ends inside the "
                            r"pickle$")
            if rel.startswith("data/"):
                return fail(r"^offset \d+: truncated storage data")
        elif rel == "data.pkl" or rel.startswith("data/"):
            return fail(r"^(offset \d+: truncated zip data descriptor|zip "
                        r"offset \d+: '[^']+': no data descriptor after its "
                        r"\d+ bytes of data \(the input ends\))")
        # A small record (version, byteorder) cut short.
        name = re_quote(r["name"])
        return fail(r"%s.*(truncated|ends)|(truncated|ends).*%s" % (name,
                                                                  name))
    return fail(ends)


def re_quote(text):
    import re
    return re.escape(text)


def trunc_legacy(n, pickles, storages_at, sizes):
    names = ["pickle #1 (magic number)", "pickle #2 (protocol version)",
             "pickle #3 (system info)", "pickle #4 (the object)",
             "pickle #5 (storage keys)"]
    e = trunc_expect_common(n)
    if e:
        return e
    if n < pickles[0][1]:
        return fail(r"^not a checkpoint format t2m knows")
    for k, (a, b) in enumerate(pickles):
        if a <= n < b or (k > 0 and n == a):
            return fail(r"^%s offset \d+: input ends inside the pickle$"
                        % re_quote(names[k]))
    at = storages_at
    for nb in sizes:
        if n < at + 8:
            return fail(r"^offset %d: truncated storage size \(8 bytes "
                        r"expected, %d read\)$" % (at, n - at))
        if n < at + 8 + nb:
            return fail(r"^offset %d: truncated storage data" % (at + 8))
        at += 8 + nb
    raise ValueError("cut %d is the whole file" % n)


def fam_trunc(c):
    import torch
    torch.manual_seed(0)
    sd = {"w": torch.randn(3, 4), "b": torch.arange(5),
          "h": torch.ones(2, dtype=torch.float16),
          "t": torch.randn(4, 3).t(), "big": torch.randn(128, 160)}
    names = {torch.float32: "F32", torch.int64: "I64", torch.float16: "F16"}
    want = ok({k: [names[v.dtype], list(v.shape),
                   v.contiguous().numpy().tobytes().hex()]
               for k, v in sd.items()})
    src = os.path.join(c.dir, "src")
    os.makedirs(src, exist_ok=True)
    torch.save(sd, os.path.join(src, "sd.pt"))
    torch.save(sd, os.path.join(src, "legacy.pt"),
               _use_new_zipfile_serialization=False)
    m = torch.jit.script(torch.nn.Linear(3, 2))
    torch.jit.save(m, os.path.join(src, "ts.pt"))
    subprocess.run(["zstd", "-q", "-f", "-19", os.path.join(src, "sd.pt"),
                    "-o", os.path.join(src, "sd.pt.zst")], check=True)
    blobs = {}
    for name in ("sd.pt", "legacy.pt", "ts.pt", "sd.pt.zst"):
        with open(os.path.join(src, name), "rb") as f:
            blobs[name] = f.read()
    # The whole files convert: the cuts below are what breaks them.
    c.add("src/sd.pt", None, want)
    c.add("src/legacy.pt", None, want)
    c.add("src/sd.pt.zst", None, want)

    def cuts(name, marks, file, pipe):
        blob = blobs[name]
        for n in cut_points(len(blob), marks):
            c.add("%s.%d" % (name, n), blob[:n], file(n), pipe(n))

    layout, cd = zip_layout(blobs["sd.pt"])
    marks = [cd, cd + 4, len(blobs["sd.pt"]) - 22]
    for r in layout:
        marks += [r["lfh"], r["lfh"] + 4, r["names"], r["extra"], r["data"],
                  r["data_end"], r["data_end"] + 4, r["end"]]
    cuts("sd.pt", marks, trunc_zip_file,
         lambda n: trunc_zip_pipe(n, layout, cd, want))
    tl, tcd = zip_layout(blobs["ts.pt"])
    marks = [tcd] + [r[k] for r in tl for k in ("lfh", "data", "data_end",
                                                "end")]
    cuts("ts.pt", marks, trunc_zip_file,
         lambda n: trunc_zip_pipe(n, tl, tcd, None, torchscript=True))
    pickles, at = legacy_layout(blobs["legacy.pt"])
    blob = blobs["legacy.pt"]
    isz = legacy_itemsizes(blob, pickles)
    sizes, k = [], at
    for key in isz:
        sizes.append(struct.unpack("<q", blob[k:k + 8])[0] * isz[key])
        k += 8 + sizes[-1]
    assert k == len(blob)
    marks = [a for p in pickles for a in p]
    k = at
    for nb in sizes:
        marks += [k, k + 8, k + 8 + nb]
        k += 8 + nb
    lexp = lambda n: trunc_legacy(n, pickles, at, sizes)
    cuts("legacy.pt", marks, lexp, lexp)
    zexp = lambda n: trunc_expect_common(n) or fail(
        r"^zstd: input ends inside a frame \(truncated\)$")
    cuts("sd.pt.zst", [], zexp, zexp)


# ---------------------------------------------------------------------------
# The checker.

# Runs argv[2:] and writes its peak RSS, in KiB, to the file argv[1].
RSS = """import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(rc)
"""


def _run(cmd, stdin=None, data=None, timeout=TIMEOUT):
    """Run cmd; returns (status, stdout, stderr) or raises on a hang."""
    p = subprocess.Popen(cmd, stdin=stdin if data is None else
                         subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise
    return p.returncode, out, err


def _pipeline(unpack, path, from_pipe, out, timeout=TIMEOUT):
    """t2m-unpack ... | t2m-pack out; from_pipe: cat path | t2m-unpack.
    Returns (unpack status, unpack stderr, pack status, pack stderr)."""
    procs = []
    src = None
    if from_pipe:
        cat = subprocess.Popen(["cat", path], stdout=subprocess.PIPE)
        procs.append(cat)
        src = cat.stdout
    u = subprocess.Popen(unpack, stdin=src if src else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    procs.append(u)
    if src:
        src.close()
    p = subprocess.Popen(["t2m-pack", out], stdin=u.stdout,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    procs.append(p)
    u.stdout.close()
    try:
        perr = p.communicate(timeout=timeout)[1]
        uerr = u.communicate(timeout=timeout)[1]
        for q in procs:
            q.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        for q in procs:
            q.kill()
            q.wait()
        raise
    return u.returncode, uerr, p.returncode, perr


def _lines(err):
    text = err.decode("utf-8", "replace")
    if not text:
        return []
    return text.split("\n")[:-1] if text.endswith("\n") else \
        text.split("\n")


def _one_line(err, prefix, exp, why):
    import re
    lines = _lines(err)
    if len(lines) != 1:
        why.append("stderr has %d lines, not 1: %r" % (
            len(lines), err.decode("utf-8", "replace")[:600]))
        return
    line = lines[0]
    if not line.startswith(prefix):
        why.append("stderr %r does not start with %r" % (line, prefix))
        return
    rest = line[len(prefix):]
    if not re.search(exp["fail"], rest):
        why.append("stderr %r does not match %r" % (line, exp["fail"]))
    if exp.get("never") and re.search(exp["never"], rest):
        why.append("stderr %r matches %r, which it must not" % (
            line, exp["never"]))


def _warnings(err, prefix, warns, why):
    import re
    lines = _lines(err)
    if len(lines) != len(warns) or not all(
            l.startswith(prefix) and re.search(w, l[len(prefix):])
            for l, w in zip(lines, warns)):
        why.append("stderr %r, expected %d line(s) matching %r" % (
            err.decode("utf-8", "replace")[:600], len(warns), warns))


def _compare(path, want, why):
    import st
    try:
        _meta, got, _ = st.read(path)
    except Exception as e:          # the output is no valid file
        why.append("output does not read back: %s" % e)
        return
    got = {k: [v[0], list(v[1]), bytes(v[2]).hex()] for k, v in got.items()}
    if got != want:
        for k in sorted(set(got) | set(want)):
            if got.get(k) != want.get(k):
                why.append("tensor %r: got %s, expected %s" % (
                    k, str(got.get(k))[:120], str(want.get(k))[:120]))


def run_case(d, idx, case, mode):
    """Every check of one case in one mode; returns the failures."""
    exp = case[mode]
    if exp is None:
        return []
    path = os.path.join(d, case["name"])
    pipe = mode == "pipe"
    unpack = ["t2m-unpack"] + case["args"] + ([] if pipe else [path])
    prefix = "t2m-unpack: %s: " % ("<stdin>" if pipe else path)
    wdir = os.path.join(d, "w%d-%s" % (idx, mode))
    os.mkdir(wdir)
    out = os.path.join(wdir, "out.safetensors")
    why = []
    limit = exp.get("seconds", TIMEOUT)
    rss = os.path.join(d, "rss%d-%s" % (idx, mode))
    if "mib" in exp:
        unpack = [sys.executable, "-c", RSS, rss] + unpack
    try:
        if "list" in exp:
            data = None
            if pipe:
                with open(path, "rb") as f:
                    data = f.read()
            rc, so, se = _run(unpack, subprocess.DEVNULL, data, limit)
            if rc != 0:
                why.append("exit status %d, expected 0" % rc)
            _warnings(se, prefix, exp["warn"], why)
            have = set(_lines(so))
            for line in exp["list"]:
                if line not in have:
                    why.append("-l lacks %r" % line)
        else:
            # t2m-unpack's status and stderr are the same whatever reads
            # its output, so one run through t2m-pack checks both.
            urc, uerr, prc, perr = _pipeline(unpack, path, pipe, out,
                                             limit)
        if "fail" in exp:
            if urc != 1:
                why.append("exit status %d, expected 1" % urc)
            _one_line(uerr, prefix, exp, why)
            if prc == 0:
                why.append("t2m-pack accepted the output")
            left = os.listdir(wdir)
            if left:
                why.append("the pipeline left %s" % left)
        elif "ok" in exp:
            if urc != 0 or prc != 0:
                why.append("pipeline exit statuses %d, %d (expected 0): "
                           "%r %r" % (urc, prc, uerr[:400], perr[:400]))
            _warnings(uerr, prefix, exp["warn"], why)
            if prc == 0:
                _compare(out, exp["ok"], why)
            if "mib" in exp:
                with open(rss) as f:
                    kib = int(f.read())
                os.unlink(rss)
                if kib > exp["mib"] << 10:
                    why.append("t2m-unpack's peak RSS %d MiB, over %d" %
                               (kib >> 10, exp["mib"]))
    except subprocess.TimeoutExpired:
        why.append("no end within %d s%s" % (
            limit, " (a hang)" if limit == TIMEOUT else ""))
    for f in os.listdir(wdir):
        os.unlink(os.path.join(wdir, f))
    os.rmdir(wdir)
    return why


def check(d):
    from concurrent.futures import ThreadPoolExecutor
    with open(os.path.join(d, "cases.json")) as f:
        cases = json.load(f)
    jobs = [(k, c, m) for k, c in enumerate(cases) for m in ("file", "pipe")]
    t0 = time.time()
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as ex:
        results = list(ex.map(lambda j: run_case(d, *j), jobs))
    bad = 0
    for (k, c, m), why in zip(jobs, results):
        if why:
            bad += 1
            print("not ok %s (%s%s): %s" % (
                c["name"], "from a pipe" if m == "pipe" else "from the file",
                "".join(" " + a for a in c["args"]), "; ".join(why)))
    runs = sum(1 for _k, c, m in jobs if c[m] is not None)
    print("%d cases, %d runs, %d failed, %.1f s" % (
        len(cases), runs, bad, time.time() - t0))
    return 1 if bad else 0


FAMILIES = {"memo": fam_memo, "nesting": fam_nesting, "sizes": fam_sizes,
            "views": fam_views, "zip": fam_zip, "pickle": fam_pickle,
            "globals": fam_globals, "legacy": fam_legacy,
            "trunc": fam_trunc}


def main(argv):
    if len(argv) == 3 and argv[1] == "check":
        return check(argv[2])
    if len(argv) == 3 and argv[1] in FAMILIES:
        c = Family(argv[2])
        FAMILIES[argv[1]](c)
        c.save()
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
