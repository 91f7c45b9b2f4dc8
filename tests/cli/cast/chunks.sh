# Data records of any size, elements split between records, tensors'
# records interleaved, ancillary records among them: the same cast as
# from whole tensors.  t2m-unpack -C 1, 3, 5 and 7 split every element of
# 2, 4 and 8 bytes; streamtool's odd-but-valid streams interleave the
# tensors and cut them into one-byte records.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
mkdir good
$PYTHON - <<'PY' || exit 3
import numpy as np, st
rng = np.random.default_rng(7)
def bits(n, u):
    return rng.integers(0, np.iinfo(u).max, n, dtype=u, endpoint=True)
st.write("in.st", {
    "a32": ("F32", (3, 67), (rng.standard_normal(201) * 1e4)
            .astype("<f4").tobytes()),
    "r32": ("F32", (97,), bits(97, np.uint32).astype("<u4").tobytes()),
    "d64": ("F64", (51,), (rng.standard_normal(51) * 1e5)
            .astype("<f8").tobytes()),
    "r64": ("F64", (33,), bits(33, np.uint64).astype("<u8").tobytes()),
    "h": ("F16", (77,), bits(77, np.uint16).astype("<u2").tobytes()),
    "b": ("BF16", (79,), bits(79, np.uint16).astype("<u2").tobytes()),
    "i": ("I64", (13,), rng.integers(-99, 99, 13).astype("<i8").tobytes()),
    "k": ("I16", (7,), rng.integers(-99, 99, 7).astype("<i2").tobytes()),
    "s": ("F32", (), np.float32(3.5).tobytes()),
    "e": ("F32", (0, 4), b""),
    "u": ("U8", (5,), bytes(range(5))),
})
PY
for t in f16 bf16 f32; do
	t2m-unpack in.st | t2m-cast -t $t -i i32 2> want-$t.err |
	    t2m-pack want-$t.st || exit 3
	for c in 1 3 5 7 1M; do
		t2m-unpack -C $c in.st | t2m-cast -t $t -i i32 2> err |
		    t2m-pack out.st || fail "-t $t -C $c: exit status"
		cmp -s want-$t.st out.st || fail "-t $t -C $c: output differs"
		cmp -s want-$t.err err || fail "-t $t -C $c: stderr: $(cat err)"
	done
done
# The expected warnings: random bits overflow, in F16 and BF16 only.
grep -q "^t2m-cast: <stdin>: 'r32': [0-9]* of 97 values overflowed to infinity in F16$" want-f16.err ||
    fail "no overflow reported: $(cat want-f16.err)"
t2m-unpack -C 6 in.st > s && $PYTHON -m streamtool good s good || exit 3
while read -r name; do
	t2m-cast -t bf16 -i i32 < good/$name 2> err | t2m-pack out.st ||
	    fail "$name: exit status"
	cmp -s want-bf16.st out.st || fail "$name: output differs"
	cmp -s want-bf16.err err || fail "$name: stderr: $(cat err)"
done < good/LIST
grep -q interleaved good/LIST && grep -q one-byte good/LIST || fail "LIST"
exit $status
