# Between the 16-bit formats, and from them to float32, every one of the
# 65536 bit patterns converts as torch's .to(dtype) converts it, bit for
# bit: bfloat16 -> float16 (overflow from 65520 up counted on stderr,
# underflow to float16 subnormals and zero, NaN made 0x7e00 with its
# sign), float16 -> bfloat16 (rounded to nearest even; NaN 0x7fc0),
# float16 and bfloat16 -> float32 (exact; a float16 NaN made quiet).
set -eu
$PYTHON - <<'PY'
import numpy as np, st
a = np.arange(65536, dtype="<u2").tobytes()
st.write("in.st", {"h": ("F16", (256, 256), a), "b": ("BF16", (65536,), a)})
PY
t2m-unpack in.st | t2m-cast -t f16 2> to16.err | t2m-pack to16.st
t2m-unpack in.st | t2m-cast -t bf16 2> tobf.err | t2m-pack tobf.st
t2m-unpack in.st | t2m-cast -t f32 2> to32.err | t2m-pack to32.st
$PYTHON - <<'PY'
import numpy as np, torch, st
a = np.arange(65536, dtype=np.uint16)
h = torch.from_numpy(a.view(np.float16).copy()).reshape(256, 256)
b = torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16)
def bits(t):
    n = t.element_size()
    v = t.view({2: torch.int16, 4: torch.int32}[n]).numpy()
    return v.view({2: "<u2", 4: "<u4"}[n]).tobytes()
def check(f, name, dtype, want):
    d, shape, raw = st.read(f)[1][name]
    assert d == dtype, (f, name, d)
    if raw != bits(want):
        g = np.frombuffer(raw, "<u2" if want.element_size() == 2 else "<u4")
        w = np.frombuffer(bits(want), g.dtype)
        i = np.nonzero(g != w)[0]
        raise SystemExit(f"{f} {name}: {len(i)} differ, first: "
                         f"{[(hex(a[k]), hex(g[k]), hex(w[k])) for k in i[:8]]}")
check("to16.st", "b", "F16", b.to(torch.float16))
check("to16.st", "h", "F16", h)
check("tobf.st", "h", "BF16", h.to(torch.bfloat16))
check("tobf.st", "b", "BF16", b)
check("to32.st", "h", "F32", h.to(torch.float32))
check("to32.st", "b", "F32", b.to(torch.float32))
# The count: finite bfloat16 values torch made infinite in float16.
f = b.to(torch.float16)
n = int((torch.isinf(f) & torch.isfinite(b)).sum())
assert n == 2 * (0x7f80 - 0x4780), n
want = f"t2m-cast: <stdin>: 'b': {n} of 65536 values overflowed to infinity in F16\n"
assert open("to16.err").read() == want, open("to16.err").read()
# Widening and float16 -> bfloat16 never overflow, so say nothing.
assert open("tobf.err").read() == "" and open("to32.err").read() == ""
PY
