# Which tensors are cast: by default every float tensor (F16, BF16, F32,
# F64) not already of the target type; -k keeps only names matching one
# of its patterns, -x removes names matching one of its, both fnmatch(3)
# globs over the whole name.  Integers, BOOL, float8 and complex tensors
# pass unchanged, and so do hidden tensors, whatever the patterns say.
# A cast tensor gets the attribute cast=<the dtype it had first>; the
# rest of the manifest (info, metadata, modules, order, attributes) and
# every tensor not cast, byte for byte, pass unchanged.
set -eu
$PYTHON - <<'PY'
import numpy as np, st
rng = np.random.default_rng(5)
def f(dtype, shape, np_dtype):
    v = rng.standard_normal(int(np.prod(shape))) * 3
    return dtype, shape, v.astype(np_dtype).tobytes()
st.write("in.st", {
    "model.embed.weight": f("F32", (16, 4), "<f4"),
    "model.layers.0.attn.q.weight": f("F32", (4, 4), "<f4"),
    "model.layers.0.attn.q.bias": f("F32", (4,), "<f4"),
    "model.layers.0.attn.k.weight": f("F64", (4, 4), "<f8"),
    "model.layers.1.mlp.weight": f("F32", (8, 4), "<f4"),
    "model.norm.weight": ("BF16", (4,), (rng.standard_normal(4).astype(
        "<f4").view("<u4") >> 16).astype("<u2").tobytes()),
    "lm_head.weight": f("F16", (16, 4), "<f2"),
    "pos_ids": ("I64", (5,), np.arange(5, dtype="<i8").tobytes()),
    "mask": ("BOOL", (3,), bytes([1, 0, 1])),
    "q8": ("F8_E4M3", (4,), bytes([1, 2, 3, 0x7f])),
    "c": ("C64", (2,), np.array([1 + 2j, 3], "<c8").tobytes()),
    "u": ("U8", (3,), bytes([7, 8, 9])),
}, metadata={"format": "pt", "note": "kept"})
PY
$PYTHON - <<'PY'
import subprocess, numpy as np, torch, st, streamtool
_, src, _ = st.read("in.st")
def run(args):
    p = subprocess.run("t2m-unpack in.st | t2m-cast %s > out.t2m" % args,
                       shell=True, capture_output=True, text=True)
    assert p.returncode == 0, (args, p.stderr)
    return p.stderr
def manifest(f):
    _, recs = streamtool.parse(open(f, "rb").read())
    return streamtool.decode_manifest(recs[0].payload)
TORCH = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32,
         "F64": torch.float64}
def as_torch(d, raw):
    if d == "BF16":
        return torch.from_numpy(np.frombuffer(raw, "<i2").copy()).view(
            torch.bfloat16)
    return torch.from_numpy(np.frombuffer(raw, st.DTYPES[d][0]).copy())
def bits(t):
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()
def check(args, target, want, err=""):
    got = run(args)
    assert got == err, (args, got)
    subprocess.run("t2m-pack out.st < out.t2m", shell=True, check=True)
    _, out, _ = st.read("out.st")
    for k, (d, shape, raw) in src.items():
        od, oshape, oraw = out[k]
        assert oshape == shape, (args, k)
        if k in want:
            assert od == target, (args, k, od)
            assert oraw == bits(as_torch(d, raw).to(TORCH[target])), (args, k)
        else:
            assert (od, oraw) == (d, raw), (args, k, od)
    mi, mo = manifest("in.t2m"), manifest("out.t2m")
    assert (mi["info"], mi["meta"], mi["modules"]) == \
        (mo["info"], mo["meta"], mo["modules"]), args
    for ti, to in zip(mi["tensors"], mo["tensors"], strict=True):
        name = ti["name"].decode()
        assert ti["name"] == to["name"] and ti["shape"] == to["shape"]
        extra = [(b"cast", src[name][0].encode())] if name in want else []
        assert to["attrs"] == ti["attrs"] + extra, (args, name, to["attrs"])
subprocess.run("t2m-unpack in.st > in.t2m", shell=True, check=True)
floats = {k for k, v in src.items() if v[0] in TORCH}
layers = {k for k in floats if k.startswith("model.layers.")}
check("-t f16", "F16", floats - {"lm_head.weight"})
check("-t F32", "F32", floats - {"model.embed.weight",
                                 "model.layers.0.attn.q.weight",
                                 "model.layers.0.attn.q.bias",
                                 "model.layers.1.mlp.weight"})
check("-t bf16 -k 'model.layers.*'", "BF16", layers)
check("-t bf16 -k '*.q.*' -k lm_head.weight", "BF16",
      {"model.layers.0.attn.q.weight", "model.layers.0.attn.q.bias",
       "lm_head.weight"})
check("-t f16 -x '*.bias' -x 'lm_head.*'", "F16",
      floats - {"model.layers.0.attn.q.bias", "lm_head.weight"})
check("-t f16 -k 'model.*' -x '*norm*' -x 'model.layers.[1-9].*'", "F16",
      {"model.embed.weight", "model.layers.0.attn.q.weight",
       "model.layers.0.attn.q.bias", "model.layers.0.attn.k.weight"})
check("-t f16 -k 'model.layers.?.attn.[qk].weight'", "F16",
      {"model.layers.0.attn.q.weight", "model.layers.0.attn.k.weight"})
# Patterns naming tensors of other types cast nothing.
check("-t f16 -k pos_ids -k mask -k q8 -k c -k u", "F16", set())
# A pattern that matches nothing is said, not fatal.
check("-t f16 -k 'model.layer.*' -k '*.bias'", "F16",
      {"model.layers.0.attn.q.bias"},
      "t2m-cast: <stdin>: -k 'model.layer.*' matches no tensor\n")
check("-t f16 -x '*'", "F16", set())
PY
# Cast twice: the attribute keeps the first dtype.
t2m-unpack in.st | t2m-cast -t bf16 | t2m-cast -t f16 | t2m-ls -l > ls.txt
grep -A1 'model.embed.weight$' ls.txt | tr -s ' \t' ' ' > got
printf 'F16 [16, 4] 128 model.embed.weight\n cast=F32\n' | cmp - got
grep -A1 'model.norm.weight$' ls.txt | tr -s ' \t' ' ' > got
printf 'F16 [4] 8 model.norm.weight\n cast=BF16\n' | cmp - got

# Hidden tensors are never cast: t2m-transpose hides an LSTM's two
# biases (merging them) and a BatchNorm's num_batches_tracked.
$PYTHON - <<'PY'
import torch, torch.nn as nn
torch.manual_seed(0)
m = nn.Sequential()
m.add_module("bn", nn.BatchNorm2d(4))
m.add_module("lstm", nn.LSTM(4, 8))
torch.save(m, "full.pt")
PY
t2m-unpack full.pt | t2m-transpose > mlx.t2m
t2m-cast -t f16 -i i32 < mlx.t2m > cast.t2m
t2m-cast -t bf16 -k 'lstm.*' -k 'bn.*' < mlx.t2m > cast2.t2m
$PYTHON - <<'PY'
import streamtool
def tensors(f):
    _, recs = streamtool.parse(open(f, "rb").read())
    m = streamtool.decode_manifest(recs[0].payload)
    return {t["name"].decode(): (t["dtype"], dict(t["attrs"]))
            for t in m["tensors"]}
before = tensors("mlx.t2m")
hidden = {k for k, (d, a) in before.items() if a.get(b"t2m.hidden") == b"1"}
assert hidden == {"lstm.bias_ih_l0", "lstm.bias_hh_l0",
                  "bn.num_batches_tracked"}, hidden
F16, BF16, F32, I32, I64 = 6, 7, 10, 8, 12
for f, fl in [("cast.t2m", F16), ("cast2.t2m", BF16)]:
    for k, (d, a) in tensors(f).items():
        if k in hidden:
            assert (d, a) == before[k], (f, k)
        else:
            assert d == (fl if before[k][0] == F32 else
                         I32 if f == "cast.t2m" else I64), (f, k, d)
PY
t2m-pack a.st < mlx.t2m && t2m-pack b.st < cast.t2m
$PYTHON - <<'PY'
import json, st
ma, ta, _ = st.read("a.st")
mb, tb, _ = st.read("b.st")
# The hidden tensors and the recipes back are in __metadata__, unchanged.
assert ma == mb
assert json.loads(ma["t2m.hidden.lstm.bias_ih_l0"])["dtype"] == "F32"
assert all(v[0] == "F16" for v in tb.values()), tb
PY
