"""An independent safetensors reader and writer for the tests, built on
numpy and the format's README only (no t2m code), so a t2m bug cannot hide
behind a matching bug here.

Tensors are (dtype-string, shape, raw little-endian bytes) triples; the
numpy view of them is made on demand for value comparisons.
"""
import json
import struct

import numpy as np

# safetensors dtype -> (numpy dtype used to view the bytes, bits per element)
DTYPES = {
    "BOOL": ("?", 8), "U8": ("<u1", 8), "I8": ("<i1", 8),
    "I16": ("<i2", 16), "U16": ("<u2", 16), "F16": ("<f2", 16),
    "BF16": ("<u2", 16), "I32": ("<i4", 32), "U32": ("<u4", 32),
    "F32": ("<f4", 32), "F64": ("<f8", 64), "I64": ("<i8", 64),
    "U64": ("<u8", 64), "F8_E4M3": ("<u1", 8), "F8_E5M2": ("<u1", 8),
    "F8_E8M0": ("<u1", 8), "F8_E4M3FNUZ": ("<u1", 8),
    "F8_E5M2FNUZ": ("<u1", 8), "C64": ("<c8", 64),
}


def nbytes(dtype, shape):
    n = 1
    for d in shape:
        n *= d
    return n * DTYPES[dtype][1] // 8


def write(path, tensors, metadata=None, order=None, pad=True):
    """tensors: dict name -> (dtype, shape, bytes). order: names in data order."""
    names = order if order is not None else list(tensors)
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    off = 0
    for name in names:
        dtype, shape, data = tensors[name]
        assert len(data) == nbytes(dtype, shape), name
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [off, off + len(data)]}
        off += len(data)
    text = json.dumps(header, ensure_ascii=False).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in names:
            f.write(tensors[name][2])


def read(path):
    """Returns (metadata, {name: (dtype, shape, bytes)}, header_bytes),
    checking the layout rules the format's README states."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    text = blob[8:8 + n]
    header = json.loads(text.decode("utf-8"))
    meta = header.pop("__metadata__", None)
    data = blob[8 + n:]
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1], k)
                   for k, v in header.items())
    at = 0
    for b, e, k in spans:
        assert b == at, f"{k}: hole or overlap at {b} (expected {at})"
        at = e
    assert at == len(data), f"{len(data) - at} stray bytes after the data"
    out = {}
    for k, v in header.items():
        b, e = v["data_offsets"]
        assert e - b == nbytes(v["dtype"], v["shape"]), k
        out[k] = (v["dtype"], tuple(v["shape"]), data[b:e])
    return meta, out, blob[:8 + n]


def untie(meta, tab):
    """tab with the tied tensors t2m-pack wrote once put back: the
    __metadata__ key "t2m.tie.NAME" whose value names a tensor is the
    tensor NAME again, with that one's bytes."""
    out = dict(tab)
    for k, v in (meta or {}).items():
        if k.startswith("t2m.tie.") and k[8:] not in tab and v in tab:
            out[k[8:]] = tab[v]
    return out


def values(dtype, shape, raw):
    return np.frombuffer(raw, dtype=DTYPES[dtype][0]).reshape(shape)
