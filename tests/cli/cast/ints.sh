# Integers pass unchanged unless -i names a type.  With -i every integer
# tensor (I8 to I64, U8 to U64; not BOOL) takes that type, each value
# kept, as torch's .to(dtype) keeps it; a value the type cannot hold is
# an error (exit 1, one line naming the record, the tensor, the element
# and the value; no end record) where torch would wrap it.
set -u
fail() { echo "FAIL: $*"; status=1; }
status=0
$PYTHON - <<'PY' || exit 3
import numpy as np, st
rng = np.random.default_rng(32)
def t(d, v):
    return d, (len(v),), np.array(v, st.DTYPES[d][0]).tobytes()
small = list(range(128)) * 2
# Values every integer type holds.
st.write("fit.st", {d.lower(): t(d, small) for d in
                    ["I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64"]} |
         {"b": t("BOOL", [True, False]), "f": t("F32", [1.5, -2.25])})
# The full range of each signed type, to I64; I64 that fit I32, to I32.
st.write("wide.st", {
    "i8": t("I8", list(range(-128, 128))),
    "i16": t("I16", rng.integers(-2**15, 2**15, 1000)),
    "i32": t("I32", list(rng.integers(-2**31, 2**31, 1000)) +
             [-2**31, 2**31 - 1]),
    "u32": t("U32", [0, 2**32 - 1]),
})
st.write("narrow.st", {"n": t("I64", list(rng.integers(-2**31, 2**31, 1000))
                              + [-2**31, 2**31 - 1])})
st.write("big.st", {"big": t("I64", [0, 1, -5, 2**31, 7])})
st.write("neg.st", {"neg": t("I8", [3, -1])})
st.write("huge.st", {"huge": t("U64", [2**64 - 1])})
st.write("low.st", {"low": t("I64", [-2**31 - 1])})
st.write("u8.st", {"u8": t("U8", [127, 128])})
PY
for ty in i64 i32 i16 i8 u8 u16 u32 u64; do
	t2m-unpack fit.st | t2m-cast -i $ty 2> err | t2m-pack fit-$ty.st ||
	    fail "fit -i $ty: $(cat err)"
	[ -s err ] && fail "fit -i $ty: stderr: $(cat err)"
done
t2m-unpack wide.st | t2m-cast -i I64 | t2m-pack wide.st.out || fail wide
t2m-unpack narrow.st | t2m-cast -i I32 | t2m-pack narrow.st.out || fail narrow
t2m-unpack fit.st | t2m-cast -t f16 | t2m-pack none.st || fail none
$PYTHON - <<'PY' || fail "values"
import numpy as np, torch, st
T = {"I8": torch.int8, "I16": torch.int16, "I32": torch.int32,
     "I64": torch.int64, "U8": torch.uint8}
def same(src, out, to):
    for k, (d, shape, raw) in src.items():
        od, oshape, oraw = out[k]
        if d in ("BOOL", "F32") or d == to:
            assert (od, oraw) == (d, raw), (to, k)
            continue
        assert od == to and oshape == shape, (to, k, od)
        v = np.frombuffer(raw, st.DTYPES[d][0]).astype(object)
        w = np.frombuffer(oraw, st.DTYPES[od][0]).astype(object)
        assert (v == w).all(), (to, k)
        if d in T and to in T:
            want = torch.from_numpy(np.frombuffer(raw, st.DTYPES[d][0])
                                    .copy()).to(T[to]).numpy().tobytes()
            assert oraw == want, (to, k)
fit = st.read("fit.st")[1]
for ty in ["i64", "i32", "i16", "i8", "u8", "u16", "u32", "u64"]:
    same(fit, st.read(f"fit-{ty}.st")[1], ty.upper())
same(st.read("wide.st")[1], st.read("wide.st.out")[1], "I64")
same(st.read("narrow.st")[1], st.read("narrow.st.out")[1], "I32")
# Without -i, integers pass unchanged.
out = st.read("none.st")[1]
for k, v in fit.items():
    if v[0] != "F32":
        assert out[k] == v, k
PY

# Values that do not fit.  Records hold 8 bytes (-C 8), so element k of a
# tensor is in record k + 2; with -C 3 the message names the record that
# completes the element.
rec_at() {	# rec_at STREAM N: "record N at offset X"
	$PYTHON -m streamtool records "$1" |
	    awk -v n="$2" '$1 == n { print "record " n " at offset " $2 }'
}
check() {	# check FILE -i TYPE CHUNK RECORD WHAT
	t2m-unpack -C $4 $1 > s || { fail "$1: unpack"; return; }
	t2m-cast -i $3 < s > out 2> err
	rc=$?
	[ $rc -eq 1 ] || fail "$1 -i $3: exit status $rc"
	want="t2m-cast: <stdin>: $(rec_at s $5): $6"
	[ "$(cat err)" = "$want" ] || fail "$1: stderr: $(cat err) (expected $want)"
	t2m-ls out > /dev/null 2>&1 && fail "$1: its output was accepted"
}
check big.st -i I32 8 5 "'big': element 3: 2147483648 does not fit in I32"
check big.st -i I32 3 12 "'big': element 3: 2147483648 does not fit in I32"
check big.st -i U64 8 4 "'big': element 2: -5 does not fit in U64"
check neg.st -i u8 1 3 "'neg': element 1: -1 does not fit in U8"
check huge.st -i i64 1M 2 "'huge': element 0: 18446744073709551615 does not fit in I64"
check low.st -i i32 1M 2 "'low': element 0: -2147483649 does not fit in I32"
check u8.st -i i8 1M 2 "'u8': element 1: 128 does not fit in I8"
exit $status
