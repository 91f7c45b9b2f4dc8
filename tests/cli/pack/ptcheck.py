"""ptcheck - checks of the PyTorch checkpoints t2m-pack writes, for the
tests in tests/cli/pack (imported; not a test itself).

The zip is checked with Python's zipfile and by reading the local
headers by hand (the layout torch.save uses); the tensors are read with
torch.load(weights_only=True) and compared bit for bit.  No t2m code.

    zip_problems(path, archive, n)   what is wrong with the archive
                                     (n storages, or a list of keys)
    load(path)                       name -> (st dtype, shape, bytes)
    compare(want, got)               mismatch lines (expect.py's)
    symbolic(path)                   data.pkl unpickled without torch
"""
import collections
import io
import os
import pickle
import struct
import sys
import warnings
import zipfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "torch"))    # expect.py

warnings.simplefilter("ignore")


def zip_problems(path, archive, ntensors):
    """Entries in torch.save's order, stored, CRCs right (testzip), data
    64-byte aligned, no data descriptors, byteorder and version right.
    ntensors: the storages data/0 .. data/N-1, or a list of their keys."""
    bad = []
    blob = open(path, "rb").read()
    z = zipfile.ZipFile(path)
    names = [i.filename for i in z.infolist()]
    want = ([f"{archive}/data.pkl", f"{archive}/byteorder"] +
            [f"{archive}/data/{i}" for i in (range(ntensors)
             if isinstance(ntensors, int) else ntensors)] +
            [f"{archive}/version"])
    if names != want:
        bad.append(f"entries {names[:4]}..., expected {want[:4]}...")
    if z.testzip() is not None:
        bad.append(f"bad CRC in {z.testzip()}")
    end = 0
    for i in z.infolist():
        if i.compress_type != zipfile.ZIP_STORED:
            bad.append(f"{i.filename}: compressed")
        h = blob[i.header_offset:i.header_offset + 30]
        sig, _, flags, method, _, _, crc, cs, us, nl, xl = struct.unpack(
            "<IHHHHHIIIHH", h)
        if sig != 0x04034B50 or flags & 8:
            bad.append(f"{i.filename}: local header {sig:x} flags {flags:x}")
        data = i.header_offset + 30 + nl + xl
        if data % 64:
            bad.append(f"{i.filename}: data at {data}, not 64-aligned")
        if i.file_size < 0xFFFFFFFF and (crc, cs, us) != (
                i.CRC, i.file_size, i.file_size):
            bad.append(f"{i.filename}: local header sizes/CRC differ "
                       f"from the central directory's")
        if i.header_offset < end:
            bad.append(f"{i.filename}: overlaps the entry before")
        end = data + i.file_size
    if z.read(f"{archive}/byteorder") != b"little":
        bad.append("byteorder is not 'little'")
    if z.read(f"{archive}/version") != b"3\n":
        bad.append("version is not '3\\n'")
    return bad


def load(path, torch_module=None):
    """torch.load(path, weights_only=True) as a table; also the object."""
    import torch
    sd = torch.load(path, weights_only=True)
    if type(sd) is not collections.OrderedDict:
        raise TypeError(f"{path}: a {type(sd).__name__}, not an OrderedDict")
    for k, t in sd.items():
        # torch's own strides for the shape: a dimension of 0 counts as 1
        want = [1] * t.dim()
        for i in range(t.dim() - 2, -1, -1):
            want[i] = want[i + 1] * max(t.shape[i + 1], 1)
        if t.requires_grad or list(t.stride()) != want or \
                t.storage_offset() or t.storage().size() != t.numel():
            raise ValueError(f"{path}: {k}: not a plain contiguous tensor "
                             f"of its own storage")
    return table(sd), sd


def table(sd):
    """name -> (safetensors dtype, shape, C-order bytes), as expect.table,
    for any number of dimensions (numpy stops at 32)."""
    import expect
    import torch
    out = collections.OrderedDict()
    for k, t in sd.items():
        flat = t.detach().contiguous().reshape(-1)
        if flat.dtype == torch.bfloat16:
            flat = flat.view(torch.int16)
        out[k] = (expect.ST_DTYPE[t.dtype], tuple(t.shape),
                  flat.numpy().tobytes())
    return out


def compare(want, got):
    import expect
    return expect.compare(want, got)


class Global:
    """A pickled global, callable: a call is recorded, not made."""

    def __init__(self, module, name):
        self.name = f"{module}.{name}"

    def __call__(self, *args):
        return ("call", self.name, args)

    def __eq__(self, other):
        return isinstance(other, Global) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return self.name


class Symbolic(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        return Global(module, name)

    def persistent_load(self, pid):
        return ("pid", pid)


def symbolic(path):
    """data.pkl of the checkpoint at path, with globals and calls as
    records: {name: ('call', func, args)} for a state dict."""
    z = zipfile.ZipFile(path)
    pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
    return Symbolic(io.BytesIO(z.read(pkl))).load()
