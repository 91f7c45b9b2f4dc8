# float64 to float32, float16 and bfloat16 gives what torch's .to(dtype)
# gives, bit for bit: NaNs of several payloads and both signs (float32
# keeps the payload's top bits, quieted), the infinities, float64
# subnormals (to zero), float32 subnormals, ties at each format's
# rounding point, overflow counted on stderr, and torch's double rounding
# of float64 -> float16 through float32 (1 + 2^-11 + 2^-52 becomes 1.0,
# not the nearer 1 + 2^-10).  A float32 tensor beside it is cast to
# float16 and bfloat16, and passes unchanged with -t f32.
set -eu
$PYTHON - <<'PY'
import numpy as np, st
rng = np.random.default_rng(64)
parts = [np.array([
    0x7ff8000000000000, 0xfff8000000000000, 0x7ff0000000000001,
    0xfff0000000000001, 0x7ff4000020000000, 0xfff0000040000000,
    0x7fffffffffffffff, 0xffffffffffffffff, 0x7ff0000000000000,
    0xfff0000000000000, 0, 0x8000000000000000, 1, 0x800fffffffffffff,
    0x47efffffe0000000, 0x47efffffefffffff, 0x47effffff0000000,
    0x47f0000000000000, 0x36a0000000000000, 0x3690000000000000,
    0x3690000000000001, 0x3ff0020000000001, 0x40effc0000000000,
    0x40effe0000000000, 0x40effdffffffffff], np.uint64)]
# Around each format's rounding point, for the exponents that matter.
sign = np.arange(2, dtype=np.uint64)[:, None, None, None] << np.uint64(63)
exp = (np.arange(1023 - 160, 1023 + 130, dtype=np.uint64) <<
       np.uint64(52))[None, :, None, None]
top = (rng.integers(0, 1 << 23, 64, dtype=np.uint64) <<
       np.uint64(29))[None, None, :, None]
h = 1 << 28
low = np.array([0, 1, h - 1, h, h + 1, 2 * h - 1, 1 << 41, (1 << 41) + 1,
                (1 << 44) - 1, 1 << 44, (1 << 44) + 1],
               np.uint64)[None, None, None, :]
parts.append((sign | exp | (top ^ low)).ravel())
parts.append(rng.integers(0, 2**64, 1 << 18, dtype=np.uint64))
parts.append((rng.standard_normal(1 << 18) *
              10.0 ** rng.integers(-45, 45, 1 << 18)).view(np.uint64))
x = np.concatenate(parts).astype("<u8")
st.write("in.st", {"d": ("F64", (len(x),), x.tobytes()),
                   "s": ("F32", (2,), np.array([1.5, -2], "<f4").tobytes())})
PY
for t in f32 f16 bf16; do
	t2m-unpack in.st | t2m-cast -t $t 2> $t.err | t2m-pack $t.st
done
for cap in default native; do
	if [ $cap = default ]; then run="env ATEN_CPU_CAPABILITY=default"
	else run="env -u ATEN_CPU_CAPABILITY"; fi
	$run $PYTHON - $cap <<'PY'
import sys, numpy as np, torch, st
x = torch.from_numpy(np.frombuffer(st.read("in.st")[1]["d"][2], "<f8").copy())
np.save(f"f32.{sys.argv[1]}.npy", x.to(torch.float32).numpy().view("<u4"))
np.save(f"f16.{sys.argv[1]}.npy", x.to(torch.float16).numpy().view("<u2"))
np.save(f"bf16.{sys.argv[1]}.npy",
        x.to(torch.bfloat16).view(torch.int16).numpy().view("<u2"))
PY
done
$PYTHON - <<'PY'
import numpy as np, st
_, tensors, _ = st.read("in.st")
x = np.frombuffer(tensors["d"][2], "<u8")
finite = (x & 0x7ff0000000000000) != 0x7ff0000000000000
for t, dt, u, inf, mag in [("f32", "F32", "<u4", 0x7f800000, 0x7fffffff),
                           ("f16", "F16", "<u2", 0x7c00, 0x7fff),
                           ("bf16", "BF16", "<u2", 0x7f80, 0x7fff)]:
    _, out, _ = st.read(f"{t}.st")
    d, shape, raw = out["d"]
    assert d == dt and shape == x.shape, (t, d, shape)
    got = np.frombuffer(raw, u)
    want = np.load(f"{t}.default.npy")
    bad = np.nonzero(got != want)[0]
    assert len(bad) == 0, (t, [(hex(x[i]), hex(got[i]), hex(want[i]))
                               for i in bad[:10]], len(bad))
    native = np.load(f"{t}.native.npy")
    nan = (native & mag) > inf
    assert np.array_equal(got[~nan], native[~nan]), t
    assert ((got[nan] & mag) > inf).all(), t
    # float32 is cast too unless it is the target.
    assert out["s"][0] == ("F32" if t == "f32" else dt), (t, out["s"][0])
    n = int((finite & ((want & mag) == inf)).sum())
    assert n > 50, (t, n)
    msg = open(f"{t}.err").read()
    line = f"t2m-cast: <stdin>: 'd': {n} of {len(x)} values overflowed " \
           f"to infinity in {dt}\n"
    assert msg == line, (msg, line)
# Spot checks: payloads, the largest float32, double rounding.
g32 = np.frombuffer(st.read("f32.st")[1]["d"][2], "<u4")
g16 = np.frombuffer(st.read("f16.st")[1]["d"][2], "<u2")
for k, v in {0x7ff4000020000000: 0x7fe00001, 0xfff0000040000000: 0xffc00002,
             0x7ff0000000000001: 0x7fc00000, 0x47efffffefffffff: 0x7f7fffff,
             0x47effffff0000000: 0x7f800000, 0x36a0000000000000: 0x00000001,
             0x3690000000000000: 0, 0x3690000000000001: 1}.items():
    i = int(np.nonzero(x == k)[0][0])
    assert g32[i] == v, (hex(k), hex(g32[i]), hex(v))
i = int(np.nonzero(x == 0x3ff0020000000001)[0][0])
assert g16[i] == 0x3c00, hex(g16[i])
PY
