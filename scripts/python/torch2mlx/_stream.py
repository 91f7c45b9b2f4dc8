"""Writing a t2m stream (t2m-stream(5), version 1.0) from a state dict.

The writer serializes; it converts nothing.  Each tensor's bytes are
written straight from the tensor's memory in data records of at most
1 MiB: a tensor is made contiguous (or copied to the CPU) only when it
has to be, one tensor at a time, so the model is never copied whole.
"""
import ctypes
import struct
import sys
import zlib

import torch

MAGIC = b"\x89T2M\r\n\x1a\n"
CHUNK = 1 << 20                 # largest data record payload we write
_SMALL = 64 << 10               # writes below this are gathered

# Limits of t2m-stream(5), checked here so that a bad name fails in
# Python, naming the tensor, rather than as a malformed stream in C.
_MAX_STR = 1 << 20
_MAX_PAIRS = 1 << 16
_MAX_TENSORS = 1 << 24
_MAX_MANIFEST = 1 << 30
_MAX_NDIM = 64

# torch dtype name -> (stream dtype code, safetensors name).  Looked up
# by name: a torch that lacks a dtype simply never produces it.
_CODES = {
    "bool": (1, "BOOL"), "uint8": (2, "U8"), "int8": (3, "I8"),
    "int16": (4, "I16"), "uint16": (5, "U16"), "float16": (6, "F16"),
    "bfloat16": (7, "BF16"), "int32": (8, "I32"), "uint32": (9, "U32"),
    "float32": (10, "F32"), "float64": (11, "F64"), "int64": (12, "I64"),
    "uint64": (13, "U64"), "float8_e4m3fn": (14, "F8_E4M3"),
    "float8_e5m2": (15, "F8_E5M2"), "complex64": (16, "C64"),
    "complex128": (17, "C128"), "float8_e8m0fnu": (18, "F8_E8M0"),
    "float8_e4m3fnuz": (19, "F8_E4M3FNUZ"),
    "float8_e5m2fnuz": (20, "F8_E5M2FNUZ"),
}
DTYPES = {getattr(torch, n): c for n, c in _CODES.items()
          if isinstance(getattr(torch, n, None), torch.dtype)}


def crc32(b):
    return zlib.crc32(b) & 0xFFFFFFFF


def stream_header():
    h = MAGIC + struct.pack("<HHI", 1, 0, 0)
    return h + struct.pack("<I", crc32(h))


def record_header(tag, index, offset, length, pcrc):
    h = tag + struct.pack("<IQQI", index, offset, length, pcrc)
    return h + struct.pack("<I", crc32(h))


def _str(s, what):
    if not isinstance(s, str):
        raise TypeError(f"{what}: {s!r} is not a string")
    try:
        b = s.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"{what}: {s!r} is not valid UTF-8 ({e.reason})") \
            from None
    if b"\0" in b:
        raise ValueError(f"{what}: {s!r} holds a NUL character")
    if len(b) > _MAX_STR:
        raise ValueError(f"{what}: longer than 1 MiB")
    return struct.pack("<I", len(b)) + b


def _attrs(pairs, what):
    if len(pairs) > _MAX_PAIRS:
        raise ValueError(f"{what}: more than {_MAX_PAIRS} pairs")
    out = [struct.pack("<I", len(pairs))]
    for k, v in pairs.items():
        out.append(_str(k, f"{what} key"))
        out.append(_str(v, f"{what} value of {k!r}"))
    return b"".join(out)


class Tensor:
    """One manifest entry: the name, the tensor to write and its layout;
    tie, the name of an earlier entry that is the same tensor (t2m.tie)."""

    __slots__ = ("name", "tensor", "code", "shape", "nbytes", "tie")

    def __init__(self, name, t):
        self.name, self.tensor = name, t
        self.code = DTYPES[t.dtype][0]
        self.shape = tuple(int(d) for d in t.shape)
        self.nbytes = t.numel() * t.element_size()
        self.tie = None


def _view(t):
    """What makes two names one tensor, as t2m-unpack sees it: the same
    storage, offset, sizes, strides and dtype."""
    s = t.untyped_storage() if hasattr(t, "untyped_storage") else \
        t.storage()
    return (s.data_ptr(), t.storage_offset(), tuple(t.shape),
            tuple(t.stride()), t.dtype)


def _refuse(name, t):
    """Why t2m cannot carry tensor t, or None; said as t2m-unpack says it."""
    if isinstance(t, torch.nn.parameter.UninitializedParameter) or \
            isinstance(t, getattr(torch.nn.parameter, "UninitializedBuffer",
                                  ())):
        return (f"tensor {name!r} is not initialized yet (a lazy module): "
                "run the model once before converting")
    if t.is_quantized:
        return (f"tensor {name!r} is a quantized tensor ({t.dtype}), "
                "which t2m cannot convert")
    if t.layout != torch.strided:
        return (f"tensor {name!r} is a {t.layout} tensor, which t2m "
                "cannot convert")
    if getattr(t, "is_nested", False):
        return f"tensor {name!r} is a nested tensor, which t2m cannot convert"
    if t.device.type == "meta":
        return (f"tensor {name!r} is a meta tensor (it has no data), "
                "which t2m cannot convert")
    if t.dtype not in DTYPES:
        return f"tensor {name!r} has dtype {t.dtype}, which t2m cannot carry"
    if t.dim() > _MAX_NDIM:
        return f"tensor {name!r} has more than {_MAX_NDIM} dimensions"
    return None


def tensors(state_dict):
    """The manifest entries of a state dict, in its order.  Values that
    are not tensors (an _extra_state object) are passed over, as
    t2m-unpack passes over what is not a tensor in a checkpoint."""
    out, first = [], {}
    for name, t in state_dict.items():
        if not isinstance(t, torch.Tensor):
            continue
        why = _refuse(name, t)
        if why:
            raise TypeError(why)
        e = Tensor(name, t)
        if e.nbytes:
            e.tie = first.setdefault(_view(t), name)
            if e.tie == name:
                e.tie = None
        out.append(e)
    if len(out) > _MAX_TENSORS:
        raise ValueError(f"{len(out)} tensors: a stream holds at most "
                         f"{_MAX_TENSORS}")
    return out


def manifest(entries, info, metadata):
    parts = [_attrs(info, "info"), _attrs(metadata, "metadata"),
             struct.pack("<II", 0, len(entries))]
    for e in entries:
        parts.append(_str(e.name, "tensor name"))
        parts.append(struct.pack("<BBBB", e.code, len(e.shape), 0, 0))
        parts.append(struct.pack(f"<{len(e.shape)}QQ", *e.shape, e.nbytes))
        parts.append(_attrs({"t2m.tie": e.tie} if e.tie else {},
                            "attributes"))
    payload = b"".join(parts)
    if len(payload) > _MAX_MANIFEST:
        raise ValueError("the manifest is larger than 1 GiB")
    return payload


def _memory(t):
    """A memoryview of tensor t's bytes in C order, as safetensors holds
    them, and the tensor that owns the memory (keep it alive while the
    view is used).  Copies only what must be copied: a tensor on another
    device, a strided view, or one with a lazy conjugate or negation."""
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.is_complex() and t.is_conj():
        t = t.resolve_conj()
    if hasattr(t, "is_neg") and t.is_neg():
        t = t.resolve_neg()
    if not t.is_contiguous():
        t = t.contiguous()
    n = t.numel() * t.element_size()
    buf = (ctypes.c_ubyte * n).from_address(t.data_ptr())
    return memoryview(buf).cast("B"), t


class _Out:
    """Write-all on a file descriptor, gathering small writes."""

    def __init__(self, write):
        self.write_raw, self.pending = write, bytearray()

    def write(self, b):
        if len(b) < _SMALL:
            self.pending += b
            if len(self.pending) >= _SMALL:
                self.flush()
            return
        self.flush()
        self.write_raw(b)

    def flush(self):
        if self.pending:
            self.write_raw(bytes(self.pending))
            self.pending.clear()


def write(write_raw, entries, info, metadata):
    """Write the whole stream of entries with write_raw(bytes-like), which
    must write everything or raise.  Nothing is written after a failure,
    so a stream cut short has no end record."""
    if sys.byteorder != "little":
        raise NotImplementedError("torch2mlx writes tensors from memory and "
                                  "needs a little-endian machine")
    out = _Out(write_raw)
    mani = manifest(entries, info, metadata)
    out.write(stream_header())
    out.write(record_header(b"MANI", 0, 0, len(mani), crc32(mani)))
    out.write(mani)
    nrecords = nbytes = 0
    for index, e in enumerate(entries):
        if e.nbytes == 0:
            continue
        mv, owner = _memory(e.tensor)
        if len(mv) != e.nbytes:     # changed under us since the manifest
            raise RuntimeError(f"tensor {e.name!r} changed size while "
                               "being written")
        for at in range(0, e.nbytes, CHUNK):
            piece = mv[at:at + CHUNK]
            out.write(record_header(b"DATA", index, at, len(piece), 0))
            out.write(piece)
            nrecords += 1
        nbytes += e.nbytes
        del mv, owner
    end = struct.pack("<QQQ", len(entries), nrecords, nbytes)
    out.write(record_header(b"ENDS", 0, 0, len(end), crc32(end)))
    out.write(end)
    out.flush()
