#!/usr/bin/env python3
"""Generate the torch 2.x checkpoint fixtures in tests/fixtures/torch2/.

Made with REAL torch 2.x (not Debian's 1.13), so t2m is tested on what current
PyTorch writes: float8 / unsigned dtypes via _rebuild_tensor_v3, the 2.x zip
records, numeric storage order, CRC-less zips, pickle protocols 4/5, module
state dicts, full-model pickles and TorchScript.

Exact command and versions used for the committed files
-------------------------------------------------------
    /usr/bin/python3 -m venv /work/venv-torch2
    /work/venv-torch2/bin/pip install torch==2.15.0 numpy    # PyPI; pulls the CUDA 13
        # nvidia-* wheels (~5 GB venv): the wheel's libtorch links libcudart.so.13,
        # so `pip install --no-deps torch` + pure-Python deps fails at `import torch`.
        # Runs CPU-only (no GPU needed).
    cd /work/main && /work/venv-torch2/bin/python scripts/gen-torch2-fixtures.py
            [OUTDIR, default tests/fixtures/torch2]

    torch 2.15.0+cu132 (git d0f2af8b66b20da4baa50644c0cd3f887a2eae2e), numpy 2.4.6,
    CPython 3.11.2 (Debian 12 /usr/bin/python3). Output is byte-for-byte
    reproducible (checked; the script pins PYTHONHASHSEED=0 itself). Caveat:
    model_script.pt's code/*.debug_pkl embed the absolute source paths
    (/work/main/tests/fixtures/torch2/gen_torch2_models.py and the venv's
    torch/nn/functional.py), so that one file differs if run from elsewhere.

The script also re-reads every fixture twice -- with torch.load / torch.jit.load,
and with a small torch-free reader (zip central directory + pickle.Unpickler with
stub classes + numpy strides, below) -- and asserts both give exactly the
MANIFEST.json digests, and asserts the format observations listed next.

Notes: what torch 2.15.0 actually writes (observed on these files, asserted below)
-------------------------------------------------------------------------------
* torch.save zip records, in FILE order (= central-directory order); e.g.
  standard.pt (prefix "standard/" = file basename minus extension):
      data.pkl, .format_version ("1"), .storage_alignment ("64"),
      byteorder ("little", no newline), data/0, data/1, ..., data/10, data/11,
      version ("3\n"), .data/serialization_id (40 ASCII digits)
  No .data/version in torch.save files. All records STORED (method 0), flags
  0x0808 (bit 3 data descriptor + bit 11 UTF-8), DOS date 0, and every record's
  data starts on a 64-byte boundary ("FB" extra field padded with 'Z').
  EXCEPTION: a 0-byte record (standard/data/11, the empty tensor) has flags
  0x0800, CRC 0 and sizes 0 in the local header and NO data descriptor.
* Storage order: NUMERIC = pickling order (data/0,1,2,...,9,10,11), not the
  lexicographic 0,1,10,11,2,... of torch 1.13; .format_version "1" announces it.
  Keys are still decimal strings "0","1",... in first-seen order.
* byteorder: present ("little"). .storage_alignment: present ("64").
  .format_version: present ("1"). .data/serialization_id: present in torch.save
  AND TorchScript files; it changes with the CRCs (so with any data change).
* set_crc32_options(False) exists: in nocrc.pt EVERY record (data.pkl, version,
  serialization_id too) has CRC-32 0 in its data descriptor and central
  directory; `unzip -t` reports "bad CRC". Sizes and layout are unchanged.
* pickle_protocol=4 and =5 are both accepted; data.pkl then starts PROTO 4/5,
  FRAME and uses SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL (+ SHORT_BINBYTES,
  EMPTY_SET/ADDITEMS for the bytes/set in 'meta'); proto4/5 data.pkl differ
  only in the PROTO byte. Default is PROTO 2 (GLOBAL/BINPUT/BINUNICODE).
* float8_* (incl. e4m3fnuz, e5m2fnuz, e8m0fnu) and uint16/32/64 tensors:
  GLOBAL 'torch._utils _rebuild_tensor_v3' with args
  (PERSID, offset, size, stride, requires_grad, OrderedDict(), dtype) and
  persistent id ('storage', GLOBAL 'torch.storage UntypedStorage', key, 'cpu',
  NBYTES). NOTE the storage GLOBAL's module is 'torch.storage', not 'torch'
  (the typed ones stay 'torch FloatStorage' etc.). The dtype is GLOBAL
  'torch float8_e4m3fn' / 'torch uint64' etc. Offset/size/stride are in
  ELEMENTS of that dtype (u32_tail: offset 2 = byte 8). uint8 still uses
  _rebuild_tensor_v2 + 'torch ByteStorage'. A tensor sharing a storage does
  NOT re-use the memoized persistent-id tuple: the 5-tuple is rebuilt from
  BINGETs of its memoized parts and BINPERSID'd again. pickletools of
  float8.pt data.pkl (plain dict; 'e4m3fn' = 16x16 base of all 256 bytes,
  'e4m3fn_slice' = 4x6 view at offset 40 of the same storage):
        0: \x80 PROTO      2
        2: }    EMPTY_DICT
        3: q    BINPUT     0
        5: (    MARK
        6: X        BINUNICODE 'e4m3fn'
       17: q        BINPUT     1
       19: c        GLOBAL     'torch._utils _rebuild_tensor_v3'
       52: q        BINPUT     2
       54: (        MARK
       55: (            MARK
       56: X                BINUNICODE 'storage'
       68: q                BINPUT     3
       70: c                GLOBAL     'torch.storage UntypedStorage'
      100: q                BINPUT     4
      102: X                BINUNICODE '0'
      108: q                BINPUT     5
      110: X                BINUNICODE 'cpu'
      118: q                BINPUT     6
      120: M                BININT2    256
      123: t                TUPLE      (MARK at 55)
      124: q            BINPUT     7
      126: Q            BINPERSID
      127: K            BININT1    0
      129: K            BININT1    16
      131: K            BININT1    16
      133: \x86         TUPLE2
      134: q            BINPUT     8
      136: K            BININT1    16
      138: K            BININT1    1
      140: \x86         TUPLE2
      141: q            BINPUT     9
      143: \x89         NEWFALSE
      144: c            GLOBAL     'collections OrderedDict'
      169: q            BINPUT     10
      171: )            EMPTY_TUPLE
      172: R            REDUCE
      173: q            BINPUT     11
      175: c            GLOBAL     'torch float8_e4m3fn'
      196: q            BINPUT     12
      198: t            TUPLE      (MARK at 54)
      199: q        BINPUT     13
      201: R        REDUCE
      ...
      269: X        BINUNICODE 'e4m3fn_slice'
      286: q        BINPUT     22
      288: h        BINGET     2
      290: (        MARK
      291: (            MARK
      292: h                BINGET     3
      294: h                BINGET     4
      296: h                BINGET     5
      298: h                BINGET     6
      300: M                BININT2    256
      303: t                TUPLE      (MARK at 291)
      304: q            BINPUT     23
      306: Q            BINPERSID
      307: K            BININT1    40
      ...
  Opcodes in the protocol-2 float8/unsigned pickles: PROTO EMPTY_DICT BINPUT
  MARK BINUNICODE GLOBAL BINGET TUPLE TUPLE1 TUPLE2 BINPERSID BININT1 BININT2
  NEWFALSE EMPTY_TUPLE REDUCE SETITEMS STOP.
* State dict of a module (model_sd.pt): GLOBAL 'collections OrderedDict',
  SETITEMS, then EMPTY_DICT '_metadata' -> OrderedDict {'': {'version': 1},
  'emb': ..., 'bn': {'version': 2}, 'head.fc': ...} SETITEM BUILD.
* Full-model pickle (model_full.pt): GLOBAL 'gen_torch2_models Net'
  EMPTY_TUPLE NEWOBJ, then BUILD with the module __dict__ ('training',
  '_parameters', '_buffers', '_non_persistent_buffers_set' (GLOBAL
  '__builtin__ set'), hook OrderedDicts, '_modules', plus per-class attributes);
  submodules GLOBAL 'torch.nn.modules.conv Conv2d', '... batchnorm BatchNorm2d',
  '... linear Linear', '... sparse Embedding', 'gen_torch2_models Head';
  parameters via 'torch._utils _rebuild_parameter' around _rebuild_tensor_v2;
  BatchNorm's num_batches_tracked is an int64 0-dim buffer (LongStorage).
* TorchScript (model_script.pt) records in file order: data/0..data/11 FIRST,
  then data.pkl, code/__torch__/... .py and .py.debug_pkl (DEFLATED, method 8),
  constants.pkl (empty tuple: 80 02 29 2e), version ("3\n"), byteorder
  ("little"), .data/serialization_id. No .format_version / .storage_alignment.
  data.pkl: GLOBAL '__torch__.gen_torch2_models Net' NEWOBJ ... BUILD; the
  second Linear is '__torch__.torch.nn.modules.linear.___torch_mangle_0 Linear';
  conv stride/padding lists via GLOBAL 'torch.jit._pickle build_intlist'.
"""
import hashlib
import io
import json
import os
import pickle
import pickletools
import struct
import sys
import zipfile

# Reproducible bytes: TorchScript writes __constants__ (a set of str) in hash
# order, so pin str hashing by re-executing with PYTHONHASHSEED=0.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

warnings.filterwarnings("ignore", category=FutureWarning, module="torch.jit")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXDIR = os.path.join(REPO, "tests", "fixtures", "torch2")
sys.path.insert(0, FIXDIR)
sys.dont_write_bytecode = True   # no __pycache__ in tests/fixtures/torch2
import gen_torch2_models  # noqa: E402  (stable module name in full-model pickles)

# torch dtype -> safetensors dtype name (as in tests/lib/st.py)
ST = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.float64: "F64", torch.int64: "I64", torch.int32: "I32",
    torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
    torch.uint16: "U16", torch.uint32: "U32", torch.uint64: "U64",
    torch.float8_e4m3fn: "F8_E4M3", torch.float8_e5m2: "F8_E5M2",
}
for _n, _s in (("float8_e4m3fnuz", "F8_E4M3FNUZ"), ("float8_e5m2fnuz", "F8_E5M2FNUZ"),
               ("float8_e8m0fnu", "F8_E8M0")):
    if hasattr(torch, _n):
        ST[getattr(torch, _n)] = _s
ITEMSIZE = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2,
            "I8": 1, "U8": 1, "BOOL": 1, "U16": 2, "U32": 4, "U64": 8, "F8_E4M3": 1,
            "F8_E5M2": 1, "F8_E4M3FNUZ": 1, "F8_E5M2FNUZ": 1, "F8_E8M0": 1}


def tensor_bytes(t):
    """Contiguous little-endian C-order bytes of a tensor (host is little-endian)."""
    assert sys.byteorder == "little"
    x = t.detach().cpu().contiguous().reshape(-1)
    return x.view(torch.uint8).numpy().tobytes()


def describe(t):
    return {"dtype": ST[t.dtype], "shape": list(t.shape),
            "sha256": hashlib.sha256(tensor_bytes(t)).hexdigest()}


def gen(seed):
    g = torch.Generator().manual_seed(seed)
    return g


# ---------------------------------------------------------------- fixtures
def fx_float8():
    sd = {}
    # all 256 byte patterns (incl. NaN/Inf/-0 encodings), as a 16x16 e4m3fn base
    base = torch.arange(256, dtype=torch.uint8).view(torch.float8_e4m3fn).reshape(16, 16)
    sd["e4m3fn"] = base
    sd["e4m3fn_T"] = base.t()                       # non-contiguous view, same storage
    sd["e4m3fn_slice"] = base.reshape(-1)[40:64].reshape(4, 6)  # storage offset 40
    g = gen(1)
    x = torch.randn(3, 5, generator=g) * 4
    e5 = x.to(torch.float8_e5m2)
    sd["e5m2"] = e5
    sd["e5m2_T"] = e5.t()
    sd["e5m2_col"] = e5[:, 2]                        # offset 2, stride 5
    for name in ("float8_e4m3fnuz", "float8_e5m2fnuz"):
        if hasattr(torch, name):
            sd[name.replace("float8_", "")] = (torch.randn(2, 3, generator=g) * 2).to(getattr(torch, name))
    return sd


def fx_float8_e8m0():
    g = gen(2)
    return {"scales": (torch.rand(2, 4, generator=g) * 64 + 2 ** -10).to(torch.float8_e8m0fnu)}


def fx_unsigned():
    u16 = torch.tensor([[0, 1, 255, 256], [0x7FFF, 0x8000, 0xFFFE, 0xFFFF]], dtype=torch.uint16)
    u32 = torch.tensor([0, 1, 0x12345678, 2 ** 31, 2 ** 32 - 1], dtype=torch.uint32)
    u64 = torch.tensor([[0, 1], [2 ** 63, 2 ** 64 - 1], [0x0102030405060708, 2 ** 32]],
                       dtype=torch.uint64)
    return {
        "u16": u16,
        "u32": u32,
        "u32_tail": u32[2:],                   # same storage, storage offset 2 (8 bytes)
        "u64": u64,
        "u64_T": u64.t(),                      # same storage, strides (1, 2)
        "u8": torch.tensor([0, 127, 128, 255], dtype=torch.uint8),  # v2 path, for contrast
    }


def fx_standard():
    """12 storages (> 10) so that numeric vs lexicographic data/ order shows."""
    g = gen(3)
    sd = {}
    sd["t00_f32"] = torch.randn(3, 4, generator=g)
    sd["t01_f16"] = torch.randn(5, generator=g).half()
    sd["t02_bf16"] = torch.randn(2, 3, generator=g).bfloat16()
    sd["t03_i64"] = torch.tensor([-(2 ** 63), -1, 0, 1, 2 ** 63 - 1], dtype=torch.int64)
    sd["t04_bool"] = torch.tensor([[True, False, True], [False, False, True]])
    sd["t05_f32_scalar"] = torch.tensor(3.25)
    sd["t06_f16"] = torch.randn(2, 2, 2, generator=g).half()
    sd["t07_bf16"] = torch.randn(7, generator=g).bfloat16()
    sd["t08_i64"] = torch.arange(6, dtype=torch.int64).reshape(2, 3)
    sd["t09_bool"] = torch.tensor([True])
    sd["t10_f32"] = torch.randn(4, 2, generator=g)
    sd["t11_f32_empty"] = torch.zeros(0, 3)
    return sd


def fx_nocrc():
    g = gen(4)
    return {"weight": torch.randn(4, 3, generator=g), "bias": torch.randn(4, generator=g).half(),
            "fp8": torch.randn(6, generator=g).to(torch.float8_e4m3fn)}


def fx_proto():
    g = gen(5)
    w = torch.randn(3, 4, generator=g)
    return {"w": w, "wT": w.t(), "b": torch.randn(3, generator=g).bfloat16(),
            "ids": torch.arange(5, dtype=torch.int64),
            "fp8": torch.randn(4, generator=g).to(torch.float8_e5m2),
            "u16": torch.tensor([1, 65535], dtype=torch.uint16),
            "meta": {"step": 3, "blob": b"\x00\xffbytes", "tags": {3, 1, 2}}}


def make_model():
    torch.manual_seed(6)
    m = gen_torch2_models.Net()
    g = gen(7)
    with torch.no_grad():
        m.bn.running_mean.copy_(torch.randn(2, generator=g))
        m.bn.running_var.copy_(torch.rand(2, generator=g) + 0.5)
        m.bn.weight.copy_(torch.randn(2, generator=g))
        m.bn.num_batches_tracked.fill_(7)
    m.eval()
    return m


# ---------------------------------------------------------------- inspection
def records(path):
    """[(name, offset, method, flags, crc, size)] in FILE order."""
    with zipfile.ZipFile(path) as z:
        out = []
        for i in sorted(z.infolist(), key=lambda i: i.header_offset):
            out.append((i.filename, i.header_offset, i.compress_type, i.flag_bits, i.CRC, i.file_size))
    return out


def raw_record(path, name):
    """A record's bytes, read through the local header (no CRC check)."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(name)
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        h = f.read(30)
        assert h[:4] == b"PK\x03\x04"
        n, m = struct.unpack("<HH", h[26:30])
        start = info.header_offset + 30 + n + m
        f.seek(start)
        data = f.read(info.compress_size)
    if info.compress_type == zipfile.ZIP_DEFLATED:
        import zlib
        data = zlib.decompress(data, -15)
    return start, data


def dis(pkl):
    s = io.StringIO()
    pickletools.dis(pkl, out=s)
    return s.getvalue()


# -------------------------------------------- torch-free re-reader (cross-check)
class Stub:
    """Stands for any class in the pickle (modules, OrderedDict, ...)."""

    def __init__(self, *a, **k):
        self._args = a

    def __setstate__(self, st):
        self._state = st


class _Dtype:
    def __init__(self, name):
        self.name = name


STORAGE_TO_ST = {"FloatStorage": "F32", "HalfStorage": "F16", "BFloat16Storage": "BF16",
                 "DoubleStorage": "F64", "LongStorage": "I64", "IntStorage": "I32",
                 "ShortStorage": "I16", "CharStorage": "I8", "ByteStorage": "U8",
                 "BoolStorage": "BOOL"}
DTYPE_TO_ST = {"float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
               "float8_e4m3fnuz": "F8_E4M3FNUZ", "float8_e5m2fnuz": "F8_E5M2FNUZ",
               "float8_e8m0fnu": "F8_E8M0", "uint16": "U16", "uint32": "U32", "uint64": "U64"}


class RawTensor:
    def __init__(self, st, shape, data):
        self.st, self.shape, self.data = st, shape, data


def raw_load(path, pkl_name="data.pkl"):
    """Load a torch zip with pickle + numpy only; tensors -> RawTensor."""
    recs = [r[0] for r in records(path)]
    prefix = recs[0].split("/", 1)[0] + "/"
    _, pkl = raw_record(path, prefix + pkl_name)
    storages = {}

    def rebuild(storage, offset, size, stride, *rest, dtype=None):
        st, buf = storage
        if dtype is not None:
            st = dtype
        isz = ITEMSIZE[st]
        n = 1
        for d in size:
            n *= d
        if n == 0:
            return RawTensor(st, list(size), b"")
        raw = np.frombuffer(buf, dtype=np.dtype("V%d" % isz))
        arr = np.lib.stride_tricks.as_strided(raw[offset:], shape=tuple(size),
                                              strides=tuple(s * isz for s in stride))
        return RawTensor(st, list(size), np.ascontiguousarray(arr).tobytes())

    def v2(storage, offset, size, stride, requires_grad, hooks, *meta):
        return rebuild(storage, offset, size, stride)

    def v3(storage, offset, size, stride, requires_grad, hooks, dtype, *meta):
        return rebuild(storage, offset, size, stride, dtype=DTYPE_TO_ST[dtype.name])

    def param(t, requires_grad, hooks, *state):
        return t

    def ident(x, *a):
        return x

    class U(pickle.Unpickler):
        def find_class(self, mod, name):
            if (mod, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return v2
            if (mod, name) == ("torch._utils", "_rebuild_tensor_v3"):
                return v3
            if (mod, name) == ("torch._utils", "_rebuild_parameter"):
                return param
            if mod == "torch.jit._pickle":
                return ident
            if name.endswith("Storage"):      # torch.<X>Storage, torch.storage UntypedStorage
                return name
            if mod == "torch":
                return _Dtype(name)
            if (mod, name) in (("collections", "OrderedDict"), ("builtins", "set"),
                               ("__builtin__", "set"), ("_codecs", "encode"),
                               ("builtins", "dict")):
                return super().find_class(mod, name)
            return type(name, (Stub,), {"_qual": mod + "." + name})

        def persistent_load(self, pid):
            kind, stype, key, loc, numel = pid
            if key not in storages:
                _, buf = raw_record(path, prefix + "data/" + key)
                if stype == "UntypedStorage":
                    assert len(buf) == numel
                    st = None
                else:
                    st = STORAGE_TO_ST[stype]
                    assert len(buf) == numel * ITEMSIZE[st], (key, len(buf), numel)
                storages[key] = (st, buf)
            return storages[key]

    return U(io.BytesIO(pkl)).load()


def flatten(obj, prefix, out):
    """t2m naming: dict keys joined with '.'; module trees -> state_dict names."""
    if isinstance(obj, RawTensor):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, Stub):
        st = getattr(obj, "_state", None)
        if st is None:
            st = obj.__dict__
        if isinstance(st, dict) and "_parameters" in st:    # eager nn.Module
            for part in ("_parameters", "_buffers"):
                for k, v in st[part].items():
                    if v is not None:
                        flatten(v, f"{prefix}.{k}" if prefix else k, out)
            for k, v in st["_modules"].items():
                flatten(v, f"{prefix}.{k}" if prefix else k, out)
        elif isinstance(st, dict):                           # TorchScript object
            for k, v in st.items():
                if isinstance(v, (RawTensor, Stub)):
                    flatten(v, f"{prefix}.{k}" if prefix else k, out)
    return out


# ---------------------------------------------------------------- main
def main():
    outdir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else FIXDIR)
    os.makedirs(outdir, exist_ok=True)
    P = lambda n: os.path.join(outdir, n)  # noqa: E731
    manifest = {"torch_version": torch.__version__,
                "generator": "scripts/gen-torch2-fixtures.py", "fixtures": {}}

    def add(fname, expect_tensors, note):
        manifest["fixtures"][fname] = {
            "expect": "ok", "options": [], "note": note,
            "tensors": {k: describe(v) for k, v in expect_tensors.items()}}

    def save(fname, obj, note, **kw):
        torch.save(obj, P(fname), **kw)
        flat = {}

        def fl(o, pre):
            if isinstance(o, torch.Tensor):
                flat[pre] = o
            elif isinstance(o, dict):
                for k, v in o.items():
                    fl(v, f"{pre}.{k}" if pre else k)
        fl(obj, "")
        add(fname, flat, note)

    save("float8.pt", fx_float8(),
         "float8 e4m3fn/e5m2/e4m3fnuz/e5m2fnuz via _rebuild_tensor_v3 + UntypedStorage; "
         "e4m3fn base holds all 256 byte patterns; transposed views and storage offsets "
         "(e4m3fn_slice offset 40, e5m2_col offset 2 stride 5) share storages")
    save("float8_e8m0.pt", fx_float8_e8m0(),
         "float8_e8m0fnu (MX scales) via _rebuild_tensor_v3; safetensors F8_E8M0")
    save("unsigned.pt", fx_unsigned(),
         "uint16/uint32/uint64 via _rebuild_tensor_v3 + UntypedStorage (numel = nbytes), "
         "extreme values, transposed u64 view; u8 still via _rebuild_tensor_v2 ByteStorage")
    save("standard.pt", fx_standard(),
         "F32/F16/BF16/I64/BOOL, 12 storages written data/0..11 in numeric order; "
         ".format_version, .storage_alignment, byteorder records; 0-dim and empty tensor")
    torch.serialization.set_crc32_options(False)
    try:
        save("nocrc.pt", fx_nocrc(),
             "saved with torch.serialization.set_crc32_options(False): every CRC-32 field is 0")
    finally:
        torch.serialization.set_crc32_options(True)
    save("proto4.pt", fx_proto(), "torch.save(pickle_protocol=4): FRAME/STACK_GLOBAL/MEMOIZE; "
         "nested dict 'meta' with non-tensor values (int, bytes, set)", pickle_protocol=4)
    save("proto5.pt", fx_proto(), "torch.save(pickle_protocol=5)", pickle_protocol=5)

    model = make_model()
    sd = model.state_dict()
    torch.save(sd, P("model_sd.pt"))
    add("model_sd.pt", sd, "state_dict of gen_torch2_models.Net (Embedding, Conv2d, "
        "BatchNorm2d incl. num_batches_tracked, Linear, nested head.fc); OrderedDict with "
        "_metadata BUILD")
    torch.save(model, P("model_full.pt"))
    add("model_full.pt", sd, "full-model pickle torch.save(model): GLOBAL "
        "'gen_torch2_models Net', NEWOBJ/BUILD module tree, _rebuild_parameter; names are "
        "model.state_dict() names")
    scripted = torch.jit.script(model)
    torch.jit.save(scripted, P("model_script.pt"))
    add("model_script.pt", scripted.state_dict(), "TorchScript torch.jit.script(Net) saved "
        "with torch.jit.save: storages before data.pkl, code/ deflated, constants.pkl")

    manifest["fixtures"] = dict(sorted(manifest["fixtures"].items()))
    with open(P("MANIFEST.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=False)
        f.write("\n")

    verify(outdir, manifest)


# ---------------------------------------------------------------- checks
def verify(outdir, manifest):
    P = lambda n: os.path.join(outdir, n)  # noqa: E731
    total = 0
    for fname, fx in manifest["fixtures"].items():
        path = P(fname)
        total += os.path.getsize(path)
        want = fx["tensors"]
        # 1. torch round trip
        if fname == "model_script.pt":
            got = torch.jit.load(path).state_dict()
        elif fname == "model_full.pt":
            got = torch.load(path, weights_only=False).state_dict()
        else:
            obj = torch.load(path, weights_only=False)
            got = {}

            def fl(o, pre):
                if isinstance(o, torch.Tensor):
                    got[pre] = o
                elif isinstance(o, dict):
                    for k, v in o.items():
                        fl(v, f"{pre}.{k}" if pre else k)
            fl(obj, "")
        assert {k: describe(v) for k, v in got.items()} == want, fname
        # 2. torch-free re-read
        raw = flatten(raw_load(path), "", {})
        rawd = {k: {"dtype": v.st, "shape": v.shape,
                    "sha256": hashlib.sha256(v.data).hexdigest()} for k, v in raw.items()}
        assert rawd == want, (fname, set(rawd) ^ set(want))

    # 3. format observations
    names = [r[0] for r in records(P("standard.pt"))]
    assert names == ["standard/data.pkl", "standard/.format_version",
                     "standard/.storage_alignment", "standard/byteorder"] + \
        ["standard/data/%d" % i for i in range(12)] + \
        ["standard/version", "standard/.data/serialization_id"], names
    for n, want in ((".format_version", b"1"), (".storage_alignment", b"64"),
                    ("byteorder", b"little"), ("version", b"3\n")):
        assert raw_record(P("standard.pt"), "standard/" + n)[1] == want, n
    sid = raw_record(P("standard.pt"), "standard/.data/serialization_id")[1]
    assert len(sid) == 40 and sid.isdigit(), sid
    for fname in manifest["fixtures"]:
        for name, off, method, flags, crc, size in records(P(fname)):
            start, _ = raw_record(P(fname), name)
            if method == 0:
                assert start % 64 == 0, (fname, name, start)
            if fname == "nocrc.pt":
                assert crc == 0, (name, crc)
            elif size:
                assert crc != 0, (fname, name)
    f8 = dis(raw_record(P("float8.pt"), "float8/data.pkl")[1])
    for s in ("GLOBAL     'torch._utils _rebuild_tensor_v3'", "GLOBAL     'torch.storage UntypedStorage'",
              "GLOBAL     'torch float8_e4m3fn'", "GLOBAL     'torch float8_e5m2'"):
        assert s in f8, s
    assert "_rebuild_tensor_v2" not in f8
    un = dis(raw_record(P("unsigned.pt"), "unsigned/data.pkl")[1])
    for s in ("uint16", "uint32", "uint64", "UntypedStorage", "_rebuild_tensor_v3",
              "'torch ByteStorage'"):
        assert s in un, s
    for p in (4, 5):
        d = dis(raw_record(P("proto%d.pt" % p), "proto%d/data.pkl" % p)[1])
        assert d.split("\n")[0].endswith("PROTO      %d" % p) and "STACK_GLOBAL" in d, p
    full = dis(raw_record(P("model_full.pt"), "model_full/data.pkl")[1])
    assert "'gen_torch2_models'" in full or "gen_torch2_models Net" in full
    ts = [r[0].split("/", 1)[1] for r in records(P("model_script.pt"))]
    assert ts.index("data.pkl") > max(i for i, n in enumerate(ts) if n.startswith("data/"))
    assert "constants.pkl" in ts
    total += os.path.getsize(P("MANIFEST.json"))
    print("ok: %d fixtures verified (torch + torch-free reader), %d bytes total"
          % (len(manifest["fixtures"]), total))


if __name__ == "__main__":
    main()
