#!/usr/bin/python3
"""A lazy checkpoint reader with Python's standard library only.

usage: lazy_reader.py IN OUT     (IN "-" reads the checkpoint from stdin)

The other baseline scripts/bench compares t2m with: the best a user can
do in Python without loading the tensors.  data.pkl, in the zip that
torch.save writes, is parsed by a pickle.Unpickler whose find_class maps
torch's rebuild functions and storage types to small stand-ins and every
other class (nn.Module subclasses included) to an inert record, and whose
persistent_load turns each storage reference into a descriptor.  Each
tensor's bytes are then copied from its zip member (<archive>/data/<key>)
into a safetensors file through one reused 1 MiB buffer, so memory stays
small whatever the checkpoint's size.  torch.save stores members
uncompressed, so a member's bytes are read straight from the file at the
offset its local header gives, without zipfile's CRC-32 (which would
cost more than the copy); a compressed member would go through zipfile.
Only contiguous tensors are handled (enough for the bench's inputs); a
tensor under two names (a tied embedding: the same storage, offset,
shape and strides) is written once, under its first name, the second
recorded in __metadata__ as t2m-pack records it ("t2m.tie.<second>":
"<first>").  No layout conversion.

A zip cannot be read from a pipe with zipfile (its directory is at the
end), so from stdin the checkpoint is first spooled to a temporary file
beside OUT.
"""
import collections
import json
import os
import pickle
import struct
import sys
import tempfile
import zipfile

CHUNK = 1 << 20

# storage class -> (safetensors dtype, bytes per element)
STORAGES = {"DoubleStorage": ("F64", 8), "FloatStorage": ("F32", 4),
            "HalfStorage": ("F16", 2), "BFloat16Storage": ("BF16", 2),
            "LongStorage": ("I64", 8), "IntStorage": ("I32", 4),
            "ShortStorage": ("I16", 2), "CharStorage": ("I8", 1),
            "ByteStorage": ("U8", 1), "BoolStorage": ("BOOL", 1)}


class Storage:
    """What persistent_load gives for ('storage', type, key, location,
    numel): where the bytes are, not the bytes."""
    def __init__(self, stype, key, numel):
        self.dtype, self.itemsize = stype
        self.key, self.numel = key, numel


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, offset
        self.shape, self.stride = list(size), list(stride)

    def nbytes(self):
        n = 1
        for d in self.shape:
            n *= d
        return n * self.storage.itemsize

    def contiguous(self):
        want = 1
        for d, s in reversed(list(zip(self.shape, self.stride))):
            if d != 1 and s != want:
                return False
            want *= d
        return True


def rebuild_tensor(storage, offset, size, stride, *rest):
    return Tensor(storage, offset, size, stride)


def rebuild_parameter(data, *rest):
    return data


class Record:
    """Any other class in the pickle: kept as its constructor arguments and
    state, never executed."""
    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state


class Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return rebuild_parameter
        if module == "torch" and name in STORAGES:
            return STORAGES[name]
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module in ("builtins", "__builtin__") and name in ("set", "dict",
                                                              "list"):
            return super().find_class(module, name)
        return type(name, (Record,), {"qualname": f"{module}.{name}"})

    def persistent_load(self, pid):
        kind, stype, key, _, numel = pid
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind}")
        return Storage(stype, key, numel)


def tensors(obj, prefix=""):
    """(name, Tensor) in state_dict order, from a state dict or a pickled
    nn.Module (parameters, then persistent buffers, then submodules)."""
    if isinstance(obj, dict):
        for name, t in obj.items():
            if isinstance(t, Tensor):
                yield prefix + name, t
        return
    state = getattr(obj, "state", None)
    if not isinstance(state, dict) or "_modules" not in state:
        raise SystemExit(f"lazy_reader.py: not a state dict or a module: "
                         f"{type(obj).__name__}")
    skip = state.get("_non_persistent_buffers_set", set())
    for name, t in state["_parameters"].items():
        if t is not None:
            yield prefix + name, t
    for name, t in state["_buffers"].items():
        if t is not None and name not in skip:
            yield prefix + name, t
    for name, m in state["_modules"].items():
        if m is not None:
            yield from tensors(m, f"{prefix}{name}.")


def data_offset(z, f, name):
    """Where a stored member's bytes start in f, from its local header;
    None for a compressed member."""
    info = z.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    f.seek(info.header_offset)
    h = f.read(30)
    if h[:4] != b"PK\x03\x04":
        sys.exit(f"lazy_reader.py: {name}: bad local header")
    n, m = struct.unpack("<HH", h[26:30])
    return info.header_offset + 30 + n + m


def copy(src, out, n, view, name):
    """Copy n bytes from src's position to out through view."""
    while n:
        k = src.readinto(view[:min(n, len(view))])
        if not k:
            sys.exit(f"lazy_reader.py: {name}: storage too short")
        out.write(view[:k])
        n -= k


def convert(f, dst):
    """Write the checkpoint in the seekable binary file f to dst."""
    view = memoryview(bytearray(CHUNK))
    with zipfile.ZipFile(f) as z:
        pkl = next(n for n in z.namelist() if n.endswith("/data.pkl")
                   or n == "data.pkl")
        base = pkl[:-len("data.pkl")]
        with z.open(pkl) as p:
            named = list(tensors(Unpickler(p).load()))
        header, ties, first, off = {}, {}, {}, 0
        for name, t in named:
            if not t.contiguous():
                sys.exit(f"lazy_reader.py: {name}: not contiguous")
            n = t.nbytes()
            keep = first.setdefault((t.storage.key, t.offset,
                                     tuple(t.shape), tuple(t.stride)), name)
            if keep != name and n:
                ties[f"t2m.tie.{name}"] = keep
                continue
            header[name] = {"dtype": t.storage.dtype, "shape": t.shape,
                            "data_offsets": [off, off + n]}
            off += n
        named = [(name, t) for name, t in named if name in header]
        if ties:
            header = {"__metadata__": ties, **header}
        text = json.dumps(header).encode()
        text += b" " * (-len(text) % 8)
        with open(dst, "wb", buffering=0) as out:
            out.write(struct.pack("<Q", len(text)) + text)
            for name, t in named:
                member = f"{base}data/{t.storage.key}"
                skip = t.offset * t.storage.itemsize
                at = data_offset(z, f, member)
                if at is None:
                    with z.open(member) as m:
                        m.seek(skip)
                        copy(m, out, t.nbytes(), view, name)
                else:
                    f.seek(at + skip)
                    copy(f, out, t.nbytes(), view, name)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: lazy_reader.py IN OUT")
    src, dst = sys.argv[1:]
    if src != "-":
        with open(src, "rb", buffering=0) as f:
            convert(f, dst)
        return
    with tempfile.TemporaryFile(
            dir=os.path.dirname(os.path.abspath(dst)),
            buffering=0) as spool:
        view = memoryview(bytearray(CHUNK))
        while k := sys.stdin.buffer.raw.readinto(view):
            spool.write(view[:k])
        spool.seek(0)
        convert(spool, dst)


if __name__ == "__main__":
    main()
