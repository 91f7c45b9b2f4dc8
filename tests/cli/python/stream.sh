# The stream export() writes, against t2m-stream(5) and the command line:
# every dtype torch 1.13 has, a tensor not contiguous, a slice, an empty
# tensor, a scalar, a tensor over 1 MiB, a non-persistent buffer (not in
# the state dict), a tied pair (written once, t2m.tie.head.weight in the
# metadata): the file is t2m-unpack's of torch.save(state_dict)
# with the type map, byte for byte.  The stream itself: info format,
# source and class, data records of at most 1 MiB, valid to t2m-ls.
# Lazily conjugated or negated tensors go out as their values (torch
# 1.13's torch.save loses those bits, so they are checked against torch
# here).  A config.json in the current directory is not taken for the
# model's.  Exporting 128 MiB of weights grows Python's peak memory by
# well under one copy of them.
PYTHONPATH=$T2M_TOP/scripts/python:$PYTHONPATH
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE
exec "$PYTHON" - <<'EOF'
import json, resource, struct, subprocess, sys
import torch
from torch import nn
import streamtool, st
import torch2mlx
from torch2mlx import _stream

def fail(msg):
    sys.exit("FAIL: " + msg)

def sh(cmd):
    return subprocess.run(cmd, shell=True, check=True, text=True,
                          stdout=subprocess.PIPE).stdout

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64,
          torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64,
          torch.bool, torch.complex64]

class Every(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(700, 600)               # 1.6 MiB: 2 records
        self.conv = nn.ConvTranspose2d(3, 5, 2)     # needs the type map
        self.w = nn.Parameter(torch.randn(5, 7).t())        # transposed
        for dt in DTYPES:
            self.register_buffer(f"b_{str(dt)[6:]}",
                                 (torch.randn(3, 4) * 10).to(dt))
        self.register_buffer("sliced", torch.arange(20.).reshape(4, 5)[1:3,
                                                                      ::2])
        self.register_buffer("empty", torch.zeros(0, 3))
        self.register_buffer("scalar", torch.tensor(3.5))
        self.register_buffer("tmp", torch.ones(2), persistent=False)
        self.emb = nn.Embedding(6, 4)
        self.head = nn.Linear(4, 6, bias=False)
        self.head.weight = self.emb.weight

torch.manual_seed(0)
model = Every()
torch.save(model.state_dict(), "sd.pt")
with open("map.json", "w") as f:
    json.dump(torch2mlx.typemap(model), f)
sh("t2m-unpack sd.pt | t2m-transpose -m map.json | t2m-pack cli.safetensors")
with open("config.json", "w") as f:
    f.write("not JSON: the Python front end must not read it")
r = torch2mlx.export(model, "py.safetensors")
if open("py.safetensors", "rb").read() != open("cli.safetensors",
                                               "rb").read():
    fail("export() and the CLI differ")
meta, tensors, _ = st.read("py.safetensors")
if "tmp" in tensors or tensors["conv.weight"][1] != (5, 2, 2, 3) or \
        tensors["w"][1] != (7, 5) or tensors["scalar"][1] != () or \
        tensors["empty"][1] != (0, 3) or "head.weight" in tensors or \
        meta.get("t2m.tie.head.weight") != "emb.weight":
    fail(f"unexpected tensors: {sorted(tensors)} {meta}")
print(f"ok {len(tensors)} tensors of {len(DTYPES)} dtypes: the CLI's file")

# The stream, written to a file.
entries = _stream.tensors(model.state_dict())
with open("s.t2m", "wb") as f:
    _stream.write(f.write, entries, {"format": "torch-module", "source":
                                     "<python>", "class": "x.Every"}, {})
head, recs = streamtool.parse(open("s.t2m", "rb").read())
if head != streamtool.stream_header() or recs[0].tag != b"MANI" or \
        recs[-1].tag != b"ENDS":
    fail("stream header, manifest or end record wrong")
data = [x for x in recs if x.tag == b"DATA"]
k = [e.name for e in entries].index("fc.weight")
fc = [x for x in data if x.index == k]
if max(x.length for x in data) > 1 << 20 or [x.length for x in fc] != \
        [1 << 20, 700 * 600 * 4 - (1 << 20)]:
    fail(f"data records: {[x.length for x in fc]}")
ls = sh("t2m-ls -l < s.t2m")
if not ls.startswith("info format=torch-module\ninfo source=<python>\n"
                     "info class=x.Every\n"):
    fail(f"t2m-ls: {ls[:200]}")
print(f"ok stream: {len(recs)} records, data records of at most 1 MiB")

# Lazy conjugate and negative bits: the values, not the memory.
class Lazy(nn.Module):
    def __init__(self):
        super().__init__()
        z = torch.randn(6, dtype=torch.complex64)
        self.register_buffer("conj", z.conj())
        self.register_buffer("neg", z.conj().imag)
m = Lazy()
assert m.conj.is_conj() and m.neg.is_neg()
torch2mlx.export(m, "lazy.safetensors")
_, t, _ = st.read("lazy.safetensors")
for n in ("conj", "neg"):
    want = getattr(m, n).resolve_conj().resolve_neg().contiguous()
    if t[n][2] != bytes(want.view(torch.uint8).flatten().tolist()):
        fail(f"{n}: the bytes are not the tensor's values")
print("ok lazily conjugated and negated tensors")

# Memory: no second copy of the weights in Python.
big = nn.Linear(4096, 8192, bias=False)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
torch2mlx.export(big, "/dev/null")
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
if grown > 16:
    fail(f"exporting 128 MiB grew the peak by {grown:.0f} MiB")
print(f"ok 128 MiB exported, peak memory grown by {grown:.1f} MiB")
EOF
