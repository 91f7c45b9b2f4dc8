# float32 to float16 and to bfloat16 gives what torch's .to(dtype) gives,
# bit for bit, on a corpus of 4.6 million values: every sign, exponent and
# top-10-bit mantissa with the bits below at and around the float16
# rounding point; every top half with the bits below at and around the
# bfloat16 rounding point; NaNs of several payloads and both signs, the
# infinities, subnormals of float32 and those that become float16
# subnormals, values from 65504 up that overflow; a million random ones.
# Overflow to infinity is counted on stderr as torch's results count it.
#
# torch's reference is its default CPU kernel (c10::Half and
# c10::BFloat16).  Its AVX2/AVX-512 kernel for float32 -> bfloat16 writes
# NaN as 0xffff rather than 0x7fc0; against it, every value but NaNs is
# compared bit for bit and NaNs must stay NaN.
set -eu
$PYTHON - <<'PY'
import numpy as np, st
parts = []
sign = np.arange(2, dtype=np.uint32)[:, None, None, None] << 31
exp = np.arange(256, dtype=np.uint32)[None, :, None, None] << 23
top = np.arange(1024, dtype=np.uint32)[None, None, :, None] << 13
low = np.array([0, 1, 0xfff, 0x1000, 0x1001, 0x1fff],
               np.uint32)[None, None, None, :]
parts.append((sign | exp | top | low).ravel())
hi = np.arange(65536, dtype=np.uint32)[:, None] << 16
parts.append((hi | np.array([0, 1, 0x7fff, 0x8000, 0x8001, 0xffff],
                            np.uint32)[None, :]).ravel())
parts.append(np.array([
    0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fa00000, 0xffa00000,
    0x7fffffff, 0xffffffff, 0x7f802000, 0x7fc02000, 0x7f801000, 0x7f800000,
    0xff800000, 0x00000001, 0x80000001, 0x007fffff, 0x33000000, 0x33000001,
    0x33800000, 0x387fe000, 0x387ff000, 0x477fe000, 0x477fefff, 0x477ff000,
    0x477ff001, 0x7f7fffff, 0x7f7f8000, 0x7f7f7fff], np.uint32))
parts.append(np.random.default_rng(8).integers(0, 2**32, 1 << 20,
                                               dtype=np.uint32))
x = np.concatenate(parts).astype("<u4")
st.write("in.st", {"x": ("F32", (len(x),), x.tobytes())})
PY
for t in f16 bf16; do
	t2m-unpack in.st | t2m-cast -t $t 2> $t.err | t2m-pack $t.st
done
# The reference, from each of torch's kernels.
for cap in default native; do
	if [ $cap = default ]; then run="env ATEN_CPU_CAPABILITY=default"
	else run="env -u ATEN_CPU_CAPABILITY"; fi
	$run $PYTHON - $cap <<'PY'
import sys, numpy as np, torch, st
x = torch.from_numpy(np.frombuffer(st.read("in.st")[1]["x"][2], "<f4").copy())
np.save(f"f16.{sys.argv[1]}.npy", x.to(torch.float16).numpy().view("<u2"))
np.save(f"bf16.{sys.argv[1]}.npy",
        x.to(torch.bfloat16).view(torch.int16).numpy().view("<u2"))
PY
done
$PYTHON - <<'PY'
import numpy as np, st
x = np.frombuffer(st.read("in.st")[1]["x"][2], "<u4")
finite = (x & 0x7f800000) != 0x7f800000
for t, dt, inf in [("f16", "F16", 0x7c00), ("bf16", "BF16", 0x7f80)]:
    d, shape, raw = st.read(f"{t}.st")[1]["x"]
    assert d == dt and shape == x.shape, (t, d, shape)
    got = np.frombuffer(raw, "<u2")
    want = np.load(f"{t}.default.npy")
    bad = np.nonzero(got != want)[0]
    assert len(bad) == 0, (t, [(hex(x[i]), hex(got[i]), hex(want[i]))
                               for i in bad[:10]], len(bad))
    native = np.load(f"{t}.native.npy")
    nan = (native & 0x7fff) > inf
    assert np.array_equal(got[~nan], native[~nan]), t
    assert ((got[nan] & 0x7fff) > inf).all(), t
    # What became of the NaNs, and of values no format can hold.
    assert ((got[~finite & ((x & 0x7fffff) != 0)] & 0x7fff) > inf).all()
    assert (got[x == 0x7f800000] == inf).all() and \
        (got[x == 0xff800000] == inf | 0x8000).all()
    n = int((finite & ((want & 0x7fff) == inf)).sum())
    assert n > 50, (t, n)
    msg = open(f"{t}.err").read()
    line = f"t2m-cast: <stdin>: 'x': {n} of {len(x)} values overflowed " \
           f"to infinity in {dt}\n"
    assert msg == line, (msg, line)
PY
# Spot checks a reader can follow: 65504 is float16's largest value,
# 65520 the first to round to infinity, 2^-24 its least subnormal.
$PYTHON - <<'PY'
import numpy as np, st
x = np.frombuffer(st.read("in.st")[1]["x"][2], "<u4")
got = np.frombuffer(st.read("f16.st")[1]["x"][2], "<u2")
want = {0x477fe000: 0x7bff, 0x477fefff: 0x7bff, 0x477ff000: 0x7c00,
        0x33800000: 0x0001, 0x33000000: 0x0000, 0x33000001: 0x0001,
        0x387fe000: 0x0400, 0x7fa00000: 0x7e00, 0xffa00000: 0xfe00,
        0x7f800001: 0x7e00}
for k, v in want.items():
    i = int(np.nonzero(x == k)[0][0])
    assert got[i] == v, (hex(k), hex(got[i]), hex(v))
gb = np.frombuffer(st.read("bf16.st")[1]["x"][2], "<u2")
for k, v in {0x7fc00000: 0x7fc0, 0xffa00000: 0x7fc0, 0x3f808000: 0x3f80,
             0x3f818000: 0x3f82, 0x7f7fffff: 0x7f80, 0x00000001: 0x0000,
             0x00008000: 0x0000, 0x00018000: 0x0002}.items():
    i = int(np.nonzero(x == k)[0][0])
    assert gb[i] == v, (hex(k), hex(gb[i]), hex(v))
PY
