#!/usr/bin/python3
"""gen-torch-fixtures.py OUTDIR - make the PyTorch fixture corpus for t2m-unpack.

Run with Debian's python3-torch (1.13):
    /usr/bin/python3 scripts/gen-torch-fixtures.py DIR
Writes each checkpoint into OUTDIR with OUTDIR/<name>.json beside it saying
what t2m should make of it (see tests/torch/README), then loads every
fixture back with torch.load and checks it holds what was saved
(tests/torch/expect.py verify).  Deterministic: fixed seeds, zip and tar
entries without timestamps, legacy storage keys renumbered.  Nothing it
makes is committed; tests run it into a scratch directory.
"""
import argparse
import collections
import io
import json
import os
import pathlib
import pickle
import pickletools
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
import zipfile
import zlib

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
# TorchScript prints class constants, and pickles hold sets, in hash
# order: fix the string hash so every run writes the same bytes.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "torch"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import expect  # noqa: E402
import models  # noqa: E402

warnings.simplefilter("ignore")


class Corpus:
    def __init__(self, outdir):
        self.dir = outdir
        self.names = []

    def path(self, file):
        return os.path.join(self.dir, file)

    def emit(self, name, file, obj, covers, note, options=(), expect_ok=True,
             error_contains=None, error_source=None, **extra):
        """Write OUTDIR/<name>.json.  obj is what was saved (in memory):
        for an 'ok' fixture the expected tensors are computed from it now
        and recorded, and verify later checks torch.load gives the same."""
        fx = collections.OrderedDict(
            file=file, expect="ok" if expect_ok else "error",
            options=list(options))
        if not expect_ok:
            fx["error_contains"] = error_contains
            fx["error_source"] = error_source
        fx["note"] = note
        fx["covers"] = covers
        fx["stdin"] = extra.pop("stdin", "same")
        fx.update(extra)
        if expect_ok:
            tensors, skipped = expect.flatten(obj, options)
            fx["tensors"] = expect.summary(expect.table(tensors))
            if skipped:
                fx["skipped"] = [f"{k}: {kind}" for k, kind in skipped]
        assert name not in self.names, name
        self.names.append(name)
        with open(self.path(name + ".json"), "w", encoding="utf-8") as f:
            f.write(dump_json(fx))


def dump_json(fx):
    """JSON with one line per field, and per entry of 'tensors'/'modules'."""
    def one(v):
        return json.dumps(v, ensure_ascii=False)
    lines = []
    for k, v in fx.items():
        if k in ("tensors", "modules"):
            inner = [f"  {one(n)}: {one(x)}" for n, x in v.items()]
            v = "{\n" + ",\n".join(inner) + "\n }" if inner else "{}"
        else:
            v = one(v)
        lines.append(f" {one(k)}: {v}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


# ---- zip archives as torch 1.13 (miniz) writes them --------------------------

def zip_records(path):
    """[(name, bytes)] of a zip, in archive order."""
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def torch_zip(records, zip64=False, zero_crc=False, align=64):
    """A zip laid out exactly as torch 1.13's writer does (checked against
    torch's own output below): stored entries, flags 0x0808 (data
    descriptor + UTF-8), no timestamps, a fake 'FB' extra field padding
    every entry's data to a multiple of 64, zip64 end records always.
    zip64=True makes every entry look like one torch writes for > 4 GiB:
    a zip64 extra in the local header (usize, csize=0), the 24-byte
    descriptor, 0xFFFFFFFF sizes and offset in the central directory with
    the real values in its zip64 extra, and 0xFFFF/0xFFFFFFFF in the end
    record so only the zip64 end record has the counts.  zero_crc writes
    CRC 0 everywhere, as torch >= 2.4 with set_crc32_options(False) does."""
    out, central = bytearray(), []
    for name, data in records:
        nb = name.encode()
        crc = 0 if zero_crc else zlib.crc32(data)
        off = len(out)
        z64 = struct.pack("<HHQQ", 1, 16, len(data), 0) if zip64 else b""
        pad = -(off + 30 + len(nb) + len(z64) + 4) % align
        extra = z64 + b"FB" + struct.pack("<H", pad) + b"Z" * pad
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 0, 0x0808, 0, 0, 0,
                           0, 0, 0, len(nb), len(extra)) + nb + extra + data
        if zip64:
            out += struct.pack("<IIQQ", 0x08074B50, crc, len(data), len(data))
        else:
            out += struct.pack("<IIII", 0x08074B50, crc, len(data), len(data))
        central.append((nb, crc, len(data), off))
    cd = len(out)
    for nb, crc, size, off in central:
        if zip64:
            extra = struct.pack("<HHQQQ", 1, 24, size, size, off)
            size = off = 0xFFFFFFFF
        else:
            extra = b""
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0, 0, 0x0808, 0,
                           0, 0, crc, size, size, len(nb), len(extra), 0, 0, 0,
                           0, off) + nb + extra
    n, cdsize, e64 = len(records), len(out) - cd, len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 0x2D, 0, 0, n, n,
                       cdsize, cd)
    out += struct.pack("<IIQI", 0x07064B50, 0, e64, 1)
    if zip64:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF,
                           0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, cdsize, cd, 0)
    return bytes(out)


def python_zip64(records):
    """The same records through Python's zipfile with force_zip64: a zip64
    extra field (sizes) in every local header, whose 32-bit size fields
    still hold the real sizes; sizes known up front so no data
    descriptors; no 64-byte alignment; no zip64 extras in the central
    directory and no zip64 end record."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        for name, data in records:
            zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            with z.open(zi, "w", force_zip64=True) as f:
                f.write(data)
    return b.getvalue()


def data_offset(blob, name):
    """Where a stored zip entry's bytes start."""
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        h = z.getinfo(name).header_offset
    nlen, xlen = struct.unpack_from("<HH", blob, h + 26)
    return h + 30 + nlen + xlen


def rename_prefix(records, prefix):
    return [(prefix + "/" + n.split("/", 1)[1], d) for n, d in records]


# ---- legacy formats ---------------------------------------------------------

def pickle_end(f):
    for _ in pickletools.genops(f):
        pass
    return f.tell()


class Inert:
    """Stands in for every class while scanning a pickle."""

    def __init__(self, *a, **k):
        pass

    def __setstate__(self, state):
        pass

    def __setitem__(self, k, v):
        pass

    def append(self, v):
        pass

    def extend(self, v):
        pass


def renumber_legacy(blob):
    """_legacy_save keys storages by C pointer values (str(storage._cdata))
    and writes them in the order of those strings, both different on every
    run.  Rename them "100000", "100001", ... by first use in the object
    pickle and put the key list and the storages in that order, so the
    file is reproducible and otherwise exactly what torch writes.
    (Protocol 2 pickles hold no byte offsets: strings may change length.)"""
    f = io.BytesIO(blob)
    for _ in range(3):
        pickle_end(f)
    start = f.tell()
    end = pickle_end(f)
    list_end = pickle_end(f)
    new = {}                               # old key -> (new key, itemsize)

    class Scan(pickle.Unpickler):
        def find_class(self, mod, name):
            return type(name, (Inert,), {})

        def persistent_load(self, pid):
            if pid[0] == "storage":
                dtype = getattr(torch, pid[1].__name__).dtype
                new.setdefault(pid[2], (str(100000 + len(new)),
                                        torch._utils._element_size(dtype)))
            return Inert

    Scan(io.BytesIO(blob[start:end])).load()
    keys = pickle.loads(blob[end:list_end])
    assert keys == sorted(keys) and set(keys) == set(new)
    data, at = {}, list_end
    for k in keys:
        n = struct.unpack_from("<q", blob, at)[0]
        data[k], at = blob[at:at + 8 + n * new[k][1]], at + 8 + n * new[k][1]
    assert at == len(blob)
    obj = blob[start:end]
    for k, (nk, _) in new.items():
        old = b"X" + struct.pack("<I", len(k)) + k.encode()
        assert obj.count(old) >= 1, k
        obj = obj.replace(old, b"X" + struct.pack("<I", len(nk)) + nk.encode())
    order = sorted(new, key=lambda k: new[k][0])
    return (blob[:start] + obj +
            pickle.dumps([new[k][0] for k in order], protocol=2) +
            b"".join(data[k] for k in order))


class Ref:
    """A tensor in the 0.1.x 'pickle' member: pickled as a persistent id."""

    def __init__(self, key):
        self.key = key


def old_tar(path):
    """The torch 0.1.x tar format, written by hand (torch >= 0.2 cannot
    write it; 1.13 still reads it in _legacy_load's legacy_load): PAX tar
    with members sys_info, pickle, tensors, storages.  Returns the state
    dict it holds, as tensors."""
    base = {  # storage key -> (storage class, tensor class, data)
        1001: (torch.FloatStorage, torch.FloatTensor, torch.arange(12.0) - 5.5),
        1002: (torch.LongStorage, torch.LongTensor,
               torch.tensor([-3, 2 ** 40, 7, 0, -(2 ** 62)])),
        1003: (torch.HalfStorage, torch.HalfTensor,
               torch.tensor([0.5, -1.0, 65504.0, 6e-8], dtype=torch.float16)),
        1004: (torch.DoubleStorage, torch.DoubleTensor,
               torch.linspace(-1, 1, 6, dtype=torch.float64)),
        1005: (torch.ByteStorage, torch.ByteTensor,
               torch.tensor([0, 1, 254, 255], dtype=torch.uint8)),
    }
    # A storage view (pre-0.2 storages could be views of others): key
    # 1006 is elements 6..11 of storage 1001.
    views = [(1006, 1001, 6, 6)]
    vbase = {1006: base[1001][2][6:].clone()}
    # tensor key -> (name, storage key, size, stride, offset)
    tensors = collections.OrderedDict([
        (2001, ("fc.weight", 1001, (2, 3), (3, 1), 0)),
        (2002, ("fc.weight_t", 1001, (3, 2), (1, 3), 0)),
        (2003, ("fc.view", 1006, (2, 2), (2, 1), 1)),
        (2004, ("ids", 1002, (5,), (1,), 0)),
        (2005, ("half", 1003, (2, 2), (2, 1), 0)),
        (2006, ("double.step", 1004, (3,), (2,), 1)),
        (2007, ("bytes", 1005, (4,), (1,), 0)),
    ])
    state, refs = collections.OrderedDict(), collections.OrderedDict()
    for key, (name, skey, size, stride, off) in tensors.items():
        data = base[skey][2] if skey in base else vbase[skey]
        state[name] = torch.as_strided(data, size, stride, off)
        refs[name] = Ref(key)

    def dump(o):
        return pickle.dumps(o, protocol=2)

    sys_info = dump(dict(protocol_version=1000, little_endian=True,
                         type_sizes=dict(short=2, int=4, long=8)))
    pk = io.BytesIO()
    p = pickle.Pickler(pk, protocol=2)
    p.persistent_id = lambda o: str(o.key) if isinstance(o, Ref) else None
    p.dump(refs)
    tens = bytearray(dump(len(tensors)))
    for key, (name, skey, size, stride, off) in tensors.items():
        ttype = base[skey if skey in base else 1001][1]
        tens += dump((key, skey, ttype))
        tens += struct.pack("<q", len(size))      # int32 ndim + 4 pad bytes
        tens += struct.pack(f"<{len(size)}q", *size)
        tens += struct.pack(f"<{len(size)}q", *stride)
        tens += struct.pack("<q", off)
    stor = bytearray(dump(len(base)))
    for key, (stype, _, data) in base.items():
        stor += dump((key, "cpu", stype))
        stor += struct.pack("<q", data.numel()) + expect.raw_bytes(data)
    stor += dump(views)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, blob in (("sys_info", sys_info), ("pickle", pk.getvalue()),
                           ("tensors", bytes(tens)), ("storages", bytes(stor))):
            add_tar(tar, name, blob)
    return state


def add_tar(tar, name, blob):
    ti = tarfile.TarInfo(name)
    ti.size, ti.mtime, ti.mode = len(blob), 0, 0o644
    tar.addfile(ti, io.BytesIO(blob))


# ---- objects ----------------------------------------------------------------

def rnd(*shape, dtype=torch.float32):
    return torch.randn(*shape).to(dtype)


def dtype_zoo():
    f32 = torch.tensor([0.0, -0.0, 1e-40, float("inf"), -float("inf"),
                        float("nan"), 3.4028235e38, -1.5])
    nanbits = torch.tensor([0x7FC00001, -0x00400001, 0x7F800001, 1],
                           dtype=torch.int32).view(torch.float32)
    return collections.OrderedDict([
        ("f64", torch.tensor([0.0, -0.0, 5e-324, float("inf"), float("nan"),
                              np.pi, 1e308, -2.0], dtype=torch.float64)
         .reshape(2, 4)),
        ("f32", f32.reshape(4, 2)),
        ("f32.nan_payloads", nanbits),
        ("f16", torch.tensor([0.0, -0.0, 6e-8, 65504.0, float("inf"),
                              float("nan"), 0.1, -2.0], dtype=torch.float16)),
        ("bf16", torch.tensor([1.0, -2.5, 3e38, 1e-39, float("inf"),
                               float("nan"), 3.140625, -0.0],
                              dtype=torch.bfloat16).reshape(2, 2, 2)),
        ("i64", torch.tensor([-2 ** 63, 2 ** 63 - 1, -1, 0, 2 ** 40])),
        ("i32", torch.tensor([-2 ** 31, 2 ** 31 - 1, -1, 0],
                             dtype=torch.int32)),
        ("i16", torch.tensor([-32768, 32767, -1, 0], dtype=torch.int16)),
        ("i8", torch.tensor([-128, 127, -1, 0, 5], dtype=torch.int8)),
        ("u8", torch.tensor([0, 1, 127, 128, 255], dtype=torch.uint8)),
        ("bool", torch.tensor([[True, False, True], [False, False, True]])),
        ("c64", torch.tensor([1 + 2j, -0.0 - 1j, complex(float("inf"), 0.5)],
                             dtype=torch.complex64)),
    ])


def net_state(seed=0):
    return models.build(models.Net, seed).state_dict()


def module_tree(m):
    return collections.OrderedDict(
        (path, type(sub).__module__ + "." + type(sub).__qualname__)
        for path, sub in m.named_modules())


def adam_state(model):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(2, 3, 5, 5)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    return opt.state_dict(), sched.state_dict()


# ---- the corpus --------------------------------------------------------------

def generate(c):
    P = c.path
    torch.manual_seed(1234)
    np.random.seed(1234)

    # -- zip state dicts: archive prefix, storage order, zip details --------
    net = models.build(models.Net, 0)
    sd = net.state_dict()
    assert len(sd) > 10 and hasattr(sd, "_metadata")
    torch.save(sd, P("sd-path.v2.pt"))
    recs = zip_records(P("sd-path.v2.pt"))
    names = [n for n, _ in recs]
    assert names[0] == "sd-path.v2/data.pkl" and names[-1] == "sd-path.v2/version"
    keys = [n.rsplit("/", 1)[1] for n in names if "/data/" in n]
    assert keys == sorted(keys) != sorted(keys, key=int), keys
    blob = open(P("sd-path.v2.pt"), "rb").read()
    assert torch_zip(recs) == blob, "torch_zip no longer matches torch's writer"
    c.emit("sd-path", "sd-path.v2.pt", sd,
           ["zip", "prefix from path", "storages in lexicographic order",
            "data descriptors", "OrderedDict _metadata", "int64 scalar buffer"],
           f"torch.save(Net().state_dict(), 'sd-path.v2.pt'): prefix "
           f"'sd-path.v2/' (basename minus last extension); {len(keys)} "
           f"storages stored as data/{','.join(keys[:4])},... (lexicographic); "
           f"every entry stored, 64-aligned by an 'FB' extra field, sizes and "
           f"CRC in a data descriptor (flag bit 3) - torch always writes them; "
           f"the pickle ends with BUILD of the OrderedDict's _metadata.")

    buf = io.BytesIO()
    torch.save(sd, buf)
    open(P("sd-bytesio.pt"), "wb").write(buf.getvalue())
    assert zip_records(P("sd-bytesio.pt"))[0][0] == "archive/data.pkl"
    assert torch_zip(zip_records(P("sd-bytesio.pt"))) == buf.getvalue()
    c.emit("sd-bytesio", "sd-bytesio.pt", sd, ["zip", "prefix archive/"],
           "torch.save(state_dict, BytesIO): prefix 'archive/'.")

    with tempfile.TemporaryDirectory() as tmp:
        torch.save(sd, os.path.join(tmp, "modèle ü.v1.pt"))
        blob_u = open(os.path.join(tmp, "modèle ü.v1.pt"), "rb").read()
    open(P("sd-unicode-path.pt"), "wb").write(blob_u)
    assert zip_records(P("sd-unicode-path.pt"))[0][0] == "modèle ü.v1/data.pkl"
    c.emit("sd-unicode-path", "sd-unicode-path.pt", sd,
           ["zip", "prefix from path", "odd prefix"],
           "torch.save(state_dict, 'modèle ü.v1.pt') by torch 1.13 itself: "
           "the prefix is the UTF-8 'modèle ü.v1/' (newer torch writes "
           "'archive/' for non-ASCII paths).  libarchive in the C locale "
           "returns ARCHIVE_WARN and a NULL pathname for such names: call "
           "setlocale(LC_CTYPE, a UTF-8 locale) first.")

    odd = rename_prefix(recs, "odd prefix+ü.v1")
    open(P("sd-oddprefix.pt"), "wb").write(torch_zip(odd))
    c.emit("sd-oddprefix", "sd-oddprefix.pt", sd, ["zip", "odd prefix"],
           "sd-path.v2.pt rewritten with the prefix 'odd prefix+ü.v1/' "
           "(space, '+', UTF-8, dots); torch takes the prefix from the first "
           "entry, so must t2m.")

    open(P("zip64-python.pt"), "wb").write(python_zip64(recs))
    c.emit("zip64-python", "zip64-python.pt", sd, ["zip", "zip64"],
           "sd-path.v2.pt rewritten by Python zipfile with force_zip64=True "
           "on each entry, names kept, stored: every local header carries a "
           "zip64 extra field (0x0001) with the sizes (its 32-bit fields "
           "hold them too); no data descriptors, no 64-byte alignment, no "
           "zip64 end record.  zip64-torch is the thorough zip64 case.")

    open(P("zip64-torch.pt"), "wb").write(torch_zip(recs, zip64=True))
    c.emit("zip64-torch", "zip64-torch.pt", sd, ["zip", "zip64"],
           "sd-path.v2.pt rewritten as torch's writer lays out entries over "
           "4 GiB, for every entry: local zip64 extra (usize, csize=0; the "
           "32-bit local sizes stay 0, as miniz leaves them) before the 'FB' "
           "padding, 24-byte zip64 data descriptors, central "
           "directory sizes and offsets 0xFFFFFFFF with the values in zip64 "
           "extras, end record counts 0xFFFF so only the zip64 end record has "
           "them.")

    order = [r for r in recs if r[0].endswith("/version")] + \
        [r for r in recs if not r[0].endswith("/version")]
    open(P("zip-version-first.pt"), "wb").write(torch_zip(order))
    c.emit("zip-version-first", "zip-version-first.pt", sd,
           ["zip", "entry order"],
           "sd-path.v2.pt with 'version' as the first entry, as some 1.x "
           "releases wrote it: data.pkl is not entry 0.")

    pre = "sd-path.v2/"
    data = sorted(((n, d) for n, d in recs if "/data/" in n),
                  key=lambda r: int(r[0].rsplit("/", 1)[1]))
    new = [r for r in recs if r[0] == pre + "data.pkl"] + [
        (pre + ".format_version", b"1"), (pre + ".storage_alignment", b"64"),
        (pre + "byteorder", b"little")] + data + [
        (pre + "version", b"3\n"),
        (pre + ".data/serialization_id", b"12345678901234567890" * 2)]
    open(P("zip-torch27-layout.pt"), "wb").write(torch_zip(new))
    c.emit("zip-torch27-layout", "zip-torch27-layout.pt", sd,
           ["zip", "entry order", "numeric storage order", "byteorder record"],
           "sd-path.v2.pt re-laid as torch >= 2.7 orders a zip (emulated, not "
           "written by torch 2.x): data.pkl, .format_version, "
           ".storage_alignment, byteorder=little, data/0,1,2,... in numeric "
           "order, version, .data/serialization_id.")

    open(P("crc0.pt"), "wb").write(torch_zip(recs, zero_crc=True))
    c.emit("crc0", "crc0.pt", None, ["zip", "crc"],
           "every CRC field 0 (as torch >= 2.4 writes with "
           "set_crc32_options(False)); CRC checked by default: must fail. "
           "torch.load reads it (torch never checks CRCs).",
           expect_ok=False, error_contains="CRC", error_source="container")
    c.emit("crc0-ignore", "crc0.pt", sd, ["zip", "crc", "option -c"],
           "crc0.pt with -c (ignore CRCs): converts.", options=["-c"])

    bad = bytearray(blob)
    at = data_offset(blob, pre + "data/0")
    bad[at] ^= 0x01                       # gamma[0]'s lowest mantissa bit
    open(P("crc-bad.pt"), "wb").write(bytes(bad))
    bad_sd = torch.load(io.BytesIO(bytes(bad)))
    assert [k for k in sd if not torch.equal(sd[k], bad_sd[k])] == ["gamma"]
    c.emit("crc-bad", "crc-bad.pt", None, ["zip", "crc"],
           "sd-path.v2.pt with one bit of data/0 (gamma) flipped and the "
           "CRCs left as they were: a real CRC mismatch, must fail without "
           "-c.",
           expect_ok=False, error_contains="CRC", error_source="container")
    c.emit("crc-bad-ignore", "crc-bad.pt", bad_sd, ["zip", "crc", "option -c"],
           "crc-bad.pt with -c: converts, holding the flipped bit exactly as "
           "torch.load reads it.", options=["-c"])

    # -- legacy formats ------------------------------------------------------
    torch.manual_seed(7)
    base = torch.arange(24.0)
    legacy = collections.OrderedDict([
        ("w.f32", rnd(3, 4)), ("w.f64", rnd(2, 3, dtype=torch.float64)),
        ("w.f16", rnd(5, dtype=torch.float16)),
        ("w.bf16", rnd(2, 2, dtype=torch.bfloat16)),
        ("n.i64", torch.tensor([1, -2, 2 ** 50])),
        ("n.i32", torch.tensor([7, -8], dtype=torch.int32)),
        ("n.u8", torch.tensor([0, 200, 255], dtype=torch.uint8)),
        ("n.bool", torch.tensor([True, False])),
        ("v.base", base.reshape(4, 6)),
        ("v.transposed", base.reshape(4, 6).t()),
        ("v.slice", base[5:17:3]),
        ("v.tail", base[20:]),
    ])
    legacy._metadata = collections.OrderedDict({"": {"version": 1}})
    b = io.BytesIO()
    torch.save(legacy, b, _use_new_zipfile_serialization=False)
    open(P("legacy.pt"), "wb").write(renumber_legacy(b.getvalue()))
    c.emit("legacy", "legacy.pt", legacy,
           ["legacy", "dtypes", "views", "shared storage"],
           "torch.save(..., _use_new_zipfile_serialization=False): magic "
           "pickle, protocol, sys_info, the object, the key list, then raw "
           "storages each after an int64 numel.  v.* are four views of one "
           "24-element storage (transposed, step 3, offset 20).  Storage keys "
           "renumbered from pointer values to fixed strings of equal length.")

    m = models.build(models.Net, 2)
    b = io.BytesIO()
    torch.save(m, b, _use_new_zipfile_serialization=False)
    open(P("legacy-fullmodel.pt"), "wb").write(renumber_legacy(b.getvalue()))
    c.emit("legacy-fullmodel", "legacy-fullmodel.pt", m,
           ["legacy", "full model"],
           "torch.save(models.Net(), legacy format): classes arrive as "
           "('module', cls, source_file, source) persistent ids; tensors "
           "exactly model.state_dict() (no block.cache, no 'unused').",
           modules=module_tree(m))

    state = old_tar(P("tar-0.1.pt"))
    c.emit("tar-0.1", "tar-0.1.pt", state, ["tar format 0.1.x", "views"],
           "the torch 0.1.x tar format, hand-made after reference §2 and the "
           "0.1 source: members sys_info, pickle, tensors, storages; tensors "
           "are persistent ids; storage 1006 is a storage view (elements "
           "6..11 of 1001); fc.weight_t is transposed, double.step strided.")

    # -- TorchScript -----------------------------------------------------------
    torch.manual_seed(11)
    lin = torch.jit.script(nn.Linear(4, 3))
    torch.jit.save(lin, P("ts-script-linear.pt"))
    c.emit("ts-script-linear", "ts-script-linear.pt", lin,
           ["torchscript", "script"],
           "torch.jit.script(nn.Linear(4, 3)): storages data/* come before "
           "data.pkl; code/ entries deflated.", loader="torch.jit.load",
           stdin="may-refuse")

    conv = nn.Conv2d(3, 2, 3)
    tr = torch.jit.trace(conv, torch.randn(1, 3, 6, 6))
    torch.jit.save(tr, P("ts-trace-conv.pt"))
    c.emit("ts-trace-conv", "ts-trace-conv.pt", tr, ["torchscript", "trace"],
           "torch.jit.trace(nn.Conv2d(3, 2, 3)).", loader="torch.jit.load",
           stdin="may-refuse")

    net = models.build(models.Net, 3)
    s = torch.jit.script(net)
    torch.jit.save(s, P("ts-script-tree.pt"),
                   _extra_files={"meta.json": '{"made_by": "t2m tests"}'})
    c.emit("ts-script-tree", "ts-script-tree.pt", s,
           ["torchscript", "script", "submodules", "extra files"],
           "torch.jit.script(models.Net()) with _extra_files: extra/meta.json "
           "first, > 10 storages.  Note torch 1.13 scripting keeps the "
           "non-persistent buffer block.cache in the scripted module's "
           "state_dict() (TorchScript has no persistence flag), so it IS "
           "expected here, unlike in fullmodel.", loader="torch.jit.load",
           stdin="may-refuse")

    tr = torch.jit.trace(net, torch.randn(2, 3, 5, 5))
    torch.jit.save(tr, P("ts-trace-tree.pt"))
    c.emit("ts-trace-tree", "ts-trace-tree.pt", tr,
           ["torchscript", "trace", "submodules"],
           "torch.jit.trace(models.Net()): mangled class names; "
           "block.cache expected as in ts-script-tree.", loader="torch.jit.load",
           stdin="may-refuse")

    wc = models.build(models.WithConst, 4)
    tr = torch.jit.trace(wc, torch.randn(2, 3))
    torch.jit.save(tr, P("ts-trace-const.pt"))
    c.emit("ts-trace-const", "ts-trace-const.pt", tr,
           ["torchscript", "trace", "constants"],
           "traced module using a tensor constant: constants.pkl refers to "
           "constants/0, which is not in the state dict and must not be "
           "output.", loader="torch.jit.load", stdin="may-refuse")

    tiny = torch.jit.script(models.build(models.Tiny, 5))
    torch.jit.save(tiny, P("ts-script-tied.pt"))
    c.emit("ts-script-tied", "ts-script-tied.pt", tiny,
           ["torchscript", "tied weights"],
           "scripted models.Tiny: embed.weight and out.weight are one "
           "Parameter; both names expected, same bytes.",
           loader="torch.jit.load", stdin="may-refuse")

    # -- compressed wrappers ------------------------------------------------------
    with tempfile.TemporaryDirectory() as tmp:
        inner = os.path.join(tmp, "model.pt")
        sd1 = net_state(6)
        torch.save(sd1, inner)
        subprocess.run(["zstd", "-q", "-f", "-o", P("model.pt.zst"), inner],
                       check=True)
        c.emit("zst", "model.pt.zst", sd1, ["zstd"],
               "zstd -q of a torch.save zip (prefix 'model/'): "
               "decompressed as a stream.", wrapper="zst")

        inner = os.path.join(tmp, "pytorch_model.bin")
        sd2 = net_state(7)
        torch.save(sd2, inner)
        with tarfile.open(P("bundle.tar"), "w",
                          format=tarfile.PAX_FORMAT) as tar:
            add_tar(tar, "checkpoints/pytorch_model.bin",
                    open(inner, "rb").read())
        c.emit("tar", "bundle.tar", sd2, ["tar bundle"],
               "a PAX tar holding one zip checkpoint, "
               "checkpoints/pytorch_model.bin (prefix 'pytorch_model/').",
               wrapper="tar", member="checkpoints/pytorch_model.bin")

        tb = os.path.join(tmp, "bundle.tar")
        with tarfile.open(tb, "w", format=tarfile.PAX_FORMAT) as tar:
            add_tar(tar, "legacy.pt", open(P("legacy.pt"), "rb").read())
        subprocess.run(["zstd", "-q", "-f", "-o", P("bundle.tar.zst"), tb],
                       check=True)
        c.emit("tar-zst", "bundle.tar.zst", legacy,
               ["tar bundle", "zstd", "legacy"],
               "zstd of a tar holding legacy.pt (the legacy format, whose "
               "storages follow the pickles so it streams).",
               wrapper="tar.zst", member="legacy.pt")

    # -- dtypes and unsupported tensors ----------------------------------------
    zoo = dtype_zoo()
    torch.save(zoo, P("dtypes.pt"))
    c.emit("dtypes", "dtypes.pt", zoo, ["dtypes"],
           "one tensor per dtype safetensors has: F64 F32 F16 BF16 I64 I32 "
           "I16 I8 U8 BOOL C64, with signed zeros, subnormals, infinities, "
           "extremes, and NaNs whose payload bits must survive.")

    ok = collections.OrderedDict(keep=torch.arange(4.0))
    unsupported = [
        ("complex128", "z.c128",
         torch.tensor([1 + 1j, -2.5j], dtype=torch.complex128), "complex128",
         "complex128 has no safetensors dtype: t2m-unpack reads it, the "
         "pipeline must still fail (t2m-pack refuses it) with a message "
         "that says complex128; -s leaves it out at t2m-unpack"),
        ("quantized", "q.weight",
         torch.quantize_per_tensor(torch.tensor([0.1, -0.2, 0.3]), 0.1, 0,
                                   torch.qint8),
         "q.weight", "quantize_per_tensor (qint8), _rebuild_qtensor"),
        ("quantized-per-channel", "qc.weight",
         torch.quantize_per_channel(rnd(2, 3),
                                    torch.tensor([0.1, 0.2],
                                                 dtype=torch.float64),
                                    torch.tensor([0, 1]), 0, torch.quint8),
         "qc.weight", "quantize_per_channel (quint8): the quantizer "
         "parameters hold two tensors (scales, zero points) that must not "
         "be output either"),
        ("sparse-coo", "sp.coo",
         torch.sparse_coo_tensor(torch.tensor([[0, 1], [1, 0]]),
                                 torch.tensor([1.0, 2.0]), (2, 2)),
         "sp.coo", "sparse COO (_rebuild_sparse_tensor holds indices and "
         "values tensors)"),
        ("sparse-csr", "sp.csr",
         torch.tensor([[0.0, 1.0], [2.0, 0.0]]).to_sparse_csr(),
         "sp.csr", "sparse CSR (crow, col and values tensors)"),
        ("meta", "m.weight", torch.empty(2, 3, device="meta"), "m.weight",
         "meta tensor: _rebuild_meta_tensor_no_storage, no data record"),
    ]
    for name, key, t, contains, what in unsupported:
        obj = collections.OrderedDict(ok)
        obj[key] = t
        obj["later"] = torch.ones(2, dtype=torch.int16)
        torch.save(obj, P(name + ".pt"))
        c.emit(name, name + ".pt", None, ["unsupported tensors"],
               f"{what}: an error naming the tensor.", expect_ok=False,
               error_contains=contains, error_source="tensor")
        c.emit(name + "-skip", name + ".pt", obj,
               ["unsupported tensors", "option -s"],
               f"{name}.pt with -s: {key} left out with a warning, the "
               f"rest converted.", options=["-s"])

    # -- views -------------------------------------------------------------------
    torch.manual_seed(21)
    x = torch.arange(30.0)
    mtx = rnd(6, 9)
    views = [
        ("views-transpose", collections.OrderedDict([
            ("lin.weight_t", rnd(3, 5).t()),
            ("perm", rnd(2, 3, 4).permute(2, 0, 1))]),
         "transposed (.t()) and permuted: non-contiguous strides"),
        ("views-step", collections.OrderedDict([
            ("every2", x[::2]), ("grid", mtx[::2, 1::3]),
            ("rows", mtx[1::4])]),
         "sliced with steps: x[::2], m[::2, 1::3], m[1::4]"),
        ("views-channels-last", collections.OrderedDict([
            ("conv.weight",
             rnd(4, 3, 3, 2).contiguous(memory_format=torch.channels_last)),
            ("conv3d.weight",
             rnd(2, 3, 2, 2, 2).contiguous(
                 memory_format=torch.channels_last_3d))]),
         "channels_last conv weights (NHWC / NDHWC strides); the output "
         "must be the logical NCHW C order"),
        ("views-offset", collections.OrderedDict([
            ("tail", x[3:]), ("row", mtx[2]), ("col", mtx[:, 4]),
            ("slab", mtx[1:3, 2:7]), ("one_row", mtx[2:3, 1:5])]),
         "storage offsets: x[3:], a row, a column (strided), a block, and "
         "a (1, 4) piece of a row, contiguous although its size-1 dim has "
         "stride 9, not 4"),
        ("views-shared", collections.OrderedDict([
            ("a", x[:12].reshape(3, 4)), ("aT", x[:12].reshape(3, 4).t()),
            ("slice", x[2:8:2]), ("emb.weight", mtx), ("head.weight", mtx)]),
         "several tensors sharing one storage (a, aT, slice and the rest "
         "of x); tied weights: emb.weight and head.weight are the same "
         "tensor object, both names expected with the same bytes"),
        ("views-big-storage", collections.OrderedDict([
            ("head", torch.arange(999.0)[0:5]),
            ("mid", rnd(1000)[100:110].view(2, 5))]),
         "storages larger than their views: torch saves all 999 / 1000 "
         "elements; only the view's values are expected"),
        ("views-expand", collections.OrderedDict([
            ("bias", torch.arange(3.0).reshape(3, 1).expand(3, 4)),
            ("row", torch.arange(4, dtype=torch.int32).expand(2, 4))]),
         "expand(): stride 0 dims (torch saves them as such); the output "
         "repeats the values"),
    ]
    for name, obj, what in views:
        torch.save(obj, P(name + ".pt"))
        strides = "; ".join(f"{k}: size {list(t.shape)} stride "
                            f"{list(t.stride())} offset {t.storage_offset()}"
                            for k, t in obj.items())
        c.emit(name, name + ".pt", obj, ["views"], f"{what}.  {strides}.")

    # -- containers -----------------------------------------------------------------
    torch.manual_seed(31)
    plain = {"enc.weight": rnd(3, 2), "enc.bias": rnd(3),
             "dec.weight": rnd(2, 3)}
    torch.save(plain, P("plain-dict.pt"))
    c.emit("plain-dict", "plain-dict.pt", plain, ["containers"],
           "a plain dict of tensors (EMPTY_DICT, no _metadata BUILD).")

    od = collections.OrderedDict(plain)
    torch.save(od, P("ordereddict.pt"))
    c.emit("ordereddict", "ordereddict.pt", od, ["containers"],
           "an OrderedDict without _metadata (no BUILD).")

    nested = {
        "a": {"b": rnd(2), "c": {"d": rnd(1, 2)}},
        "l": [rnd(3), rnd(2, 2)],
        "layers": [{"w": rnd(2)}, {"w": rnd(2), "note": "x"}],
        "tup": (torch.tensor([1, 2]), "text", None),
        "ints": {0: rnd(1), 7: rnd(1)},
        "n": None, "s": "string", "i": 5, "f": 1.5, "big": 2 ** 70,
        "raw": b"\x00\xffbytes", "set": {1, 2}, "empty": {},
    }
    torch.save(nested, P("nested.pt"))
    c.emit("nested", "nested.pt", nested, ["containers", "flattening"],
           "nested dicts, lists, tuples and int keys flattened with '.': "
           "a.b, a.c.d, l.0, l.1, layers.0.w, tup.0, ints.7, ...; non-tensor "
           "values (None, str, int, float, 2**70, bytes, set) are skipped.")

    params = collections.OrderedDict([
        ("p", nn.Parameter(rnd(2, 2))),
        ("frozen", nn.Parameter(rnd(3), requires_grad=False)),
        ("plain", rnd(2))])
    torch.save(params, P("parameters.pt"))
    c.emit("parameters", "parameters.pt", params, ["containers", "nn.Parameter"],
           "nn.Parameter values (_rebuild_parameter around "
           "_rebuild_tensor_v2, requires_grad True and False) beside a "
           "plain tensor.")

    lm = models.build(models.Net, 8)
    opt, sched = adam_state(lm)
    lsd = collections.OrderedDict(("model." + k, v)
                                  for k, v in lm.state_dict().items())
    ckpt = {
        "epoch": 3, "global_step": 120, "pytorch-lightning_version": "1.9.5",
        "state_dict": lsd,
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {
            "total": {"ready": 4, "completed": 3}}}},
        "callbacks": {"ModelCheckpoint{'monitor': 'val_loss'}": {
            "best_model_score": torch.tensor(0.25),
            "best_model_path": "/ckpt/epoch=2.ckpt"}},
        "optimizer_states": [opt],
        "lr_schedulers": [sched],
        "hparams_name": "kwargs",
        "hyper_parameters": {
            "data_dir": pathlib.PosixPath("/data/train"),
            "args": argparse.Namespace(lr=1e-3, layers=[1, 2], name="run"),
            "lr": np.float32(0.001), "steps": np.int64(1000),
            "mean": np.array([0.5, 0.25]), "dtype": np.dtype("float16"),
        },
    }
    torch.save(ckpt, P("lightning.ckpt"))
    c.emit("lightning", "lightning.ckpt", ckpt,
           ["containers", "lightning", "state_dict entry"],
           "a Lightning-style checkpoint: 'state_dict' is selected by "
           "default, names exactly as in it (model.stem.0.weight, ...); the "
           "rest (Adam state with int keys and step tensors, StepLR state, "
           "a callback tensor, hyper_parameters with pathlib.PosixPath, "
           "argparse.Namespace, numpy scalars, a numpy array and dtype) is "
           "parsed but not output.")

    wrappers = [
        ("model", {"model": net_state(9), "optimizer": opt, "epoch": 4}),
        ("model_state_dict", {"model_state_dict": net_state(10),
                              "optimizer_state_dict": opt, "loss": 0.5}),
        ("module", {"module": net_state(11), "buffer_names": ["x"],
                    "ds_version": "0.9"}),
        ("ema", {"model": net_state(12), "ema": net_state(13),
                 "updates": 100}),
    ]
    for key, obj in wrappers:
        torch.save(obj, P(f"wrap-{key}.pt"))
        c.emit(f"wrap-{key}", f"wrap-{key}.pt", obj,
               ["containers", "option -k"],
               f"{{'{key}': state_dict, ...}} selected with -k {key}"
               + ("; a 'model' entry sits beside it and must not be chosen"
                  if key == "ema" else "") + ".", options=["-k", key])

    m = models.build(models.Net, 14)
    torch.save(m, P("fullmodel.pt"))
    c.emit("fullmodel", "fullmodel.pt", m, ["full model"],
           "torch.save(models.Net()): tensors exactly as model.state_dict() "
           "names them: no non-persistent buffer block.cache, no None "
           "parameter 'unused'; Sequential, ModuleList, ModuleDict, a custom "
           "Block, BatchNorm2d (num_batches_tracked int64 scalar).  "
           "'modules' lists each module path and class for the manifest.",
           modules=module_tree(m))

    tiny = models.build(models.Tiny, 15)
    torch.save(tiny, P("fullmodel-tied.pt"))
    c.emit("fullmodel-tied", "fullmodel-tied.pt", tiny,
           ["full model", "tied weights"],
           "torch.save(models.Tiny()): embed.weight and out.weight are one "
           "Parameter (one storage); both names expected.",
           modules=module_tree(tiny))

    # -- pickle protocols -----------------------------------------------------------
    torch.manual_seed(41)
    psd = collections.OrderedDict([("w", rnd(2, 3)), ("b", rnd(3, dtype=torch.float16)),
                                   ("ids", torch.arange(3))])
    pobj = {"state_dict": psd, "extras": {
        "bytes": b"\x00\x01\xfe", "set": {3, 4}, "frozen": frozenset({5}),
        "big": 2 ** 70, "neg": -(2 ** 40), "f": 0.1, "u": "ünï",
        "t": (1, 2, 3), "none": None, "long_str": "x" * 300}}
    for proto in (1, 3, 4, 5):
        torch.save(pobj, P(f"proto{proto}.pt"), pickle_protocol=proto)
        c.emit(f"proto{proto}", f"proto{proto}.pt", pobj,
               ["pickle protocol"],
               f"torch.save(..., pickle_protocol={proto}) of {{'state_dict': "
               f"..., 'extras': bytes, set, frozenset, big ints, ...}}; "
               f"'state_dict' selected."
               + (" Protocol 4+ opcodes: FRAME, SHORT_BINUNICODE, MEMOIZE, "
                  "STACK_GLOBAL, SHORT_BINBYTES, EMPTY_SET/ADDITEMS."
                  if proto >= 4 else "")
               + (" Protocol 1: no PROTO opcode, no TUPLE1-3/NEWTRUE."
                  if proto == 1 else "")
               + " (Protocol 0 cannot be written: torch.save asserts, "
                 "persistent ids must be strings there.)")

    # -- small and odd tensors --------------------------------------------------------
    scal = collections.OrderedDict([
        ("s.f32", torch.tensor(3.5)), ("s.i64", torch.tensor(-7)),
        ("s.bool", torch.tensor(True)),
        ("s.bf16", torch.tensor(1.5, dtype=torch.bfloat16)),
        ("s.f64", torch.tensor(-0.0, dtype=torch.float64)),
        ("s.from_view", torch.arange(5.0)[3])])
    torch.save(scal, P("scalars.pt"))
    c.emit("scalars", "scalars.pt", scal, ["scalars"],
           "shape () tensors (size () stride ()), one a view at offset 3: "
           "safetensors shape [].")

    empty = collections.OrderedDict([
        ("e.0x3", torch.zeros(0, 3)), ("e.0", torch.zeros(0, dtype=torch.int64)),
        ("e.2x0x4", torch.empty(2, 0, 4, dtype=torch.int32)),
        ("e.sliced", torch.arange(5.0)[5:]), ("after", torch.ones(2))])
    torch.save(empty, P("empty.pt"))
    c.emit("empty", "empty.pt", empty, ["zero-element tensors"],
           "zero-element tensors: 0-byte data/N records, and a 0-element "
           "view at offset 5 of a 5-element storage.")

    uni = collections.OrderedDict([
        ("ü.gewicht", rnd(2)), ("名前.重み", rnd(2)), ("emoji.🙂", rnd(1)),
        ("with space", rnd(1)), ("ascii", rnd(1))])
    torch.save(uni, P("unicode-keys.pt"))
    c.emit("unicode-keys", "unicode-keys.pt", uni, ["non-ASCII keys"],
           "non-ASCII and space-containing keys (BINUNICODE, UTF-8).")

    many = collections.OrderedDict(
        (f"layer{i}.w", torch.full((2,), float(i))) for i in range(300))
    many["wide"] = torch.arange(70000, dtype=torch.int32).to(torch.uint8)
    torch.save(many, P("many.pt"))
    c.emit("many", "many.pt", many, ["many tensors"],
           "301 tensors: memo ids past 255 (LONG_BINPUT/LONG_BINGET), "
           "3-digit storage keys in lexicographic order, a dim of 70000 "
           "(BININT).")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    a = ap.parse_args()
    t0 = time.time()
    os.makedirs(a.outdir, exist_ok=True)
    c = Corpus(a.outdir)
    generate(c)
    problems = expect.verify(a.outdir,
                             log=lambda s: print(s, file=sys.stderr),
                             only=[c.path(n + ".json") for n in c.names])
    files = {json.load(open(c.path(n + ".json"))).get("file") for n in c.names}
    size = sum(os.path.getsize(c.path(f)) for f in files)
    print(f"gen-torch-fixtures: {len(c.names)} fixtures, {len(files)} files, "
          f"{size} bytes, {time.time() - t0:.1f} s, "
          f"{problems} verify problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
