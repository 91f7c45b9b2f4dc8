# What a PyTorch checkpoint cannot hold is refused before anything is
# written, naming the tensor, exit 1: a hidden tensor (a stream still in
# MLX's layout, which t2m-transpose -r brings back), and F4 and F6, which
# PyTorch has no dtype for.  Safetensors output of the same streams is
# not affected.  Each case: the message exact, nothing in the directory.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
$PYTHON - <<'PY' || exit 3
import streamtool as t


def stream(path, tensors):
    m = {"info": [], "meta": [], "modules": [], "tensors": []}
    recs = []
    for i, (name, dtype, shape, data, attrs) in enumerate(tensors):
        m["tensors"].append({"name": name, "dtype": dtype,
                             "ndim": len(shape), "reserved": b"\0\0",
                             "shape": shape, "nbytes": len(data),
                             "attrs": attrs})
        if data:
            recs.append(t.Record(b"DATA", i, 0, data))
    open(path, "wb").write(t.build(
        [t.Record(b"MANI", payload=t.encode_manifest(m))] + recs +
        [t.ends(len(tensors), len(recs), sum(len(r.payload) for r in recs))]))


w = ("w", 10, [2], bytes(8), [])
stream("hidden", [w, ("bn.num_batches_tracked", 12, [], bytes(8),
                      [(b"t2m.hidden", b"1")])])
stream("f4", [w, ("q", 21, [4], b"\x12\x34", [])])
stream("f6", [w, ("r", 22, [4], b"\x01\x02\x03", [])])
stream("f6b", [w, ("s", 23, [4], b"\x01\x02\x03", [])])
PY
mkdir w
check() {	# stream target message
	(cd w && t2m-pack "$2" < "../$1") > out 2> err
	rc=$?
	[ $rc -eq 1 ] || fail "$1 > $2: exit status $rc"
	[ -s out ] && fail "$1 > $2: wrote to stdout"
	[ "$(cat err)" = "$3" ] || fail "$1 > $2: stderr '$(cat err)'"
	[ -z "$(ls -A w)" ] || fail "$1 > $2: left $(ls -A w)"
	rm -rf w/* w/.[!.]*
}
check hidden x.pt "t2m-pack: x.pt: tensor 'bn.num_batches_tracked' is hidden, kept for t2m-transpose -r: run the stream through t2m-transpose -r first"
check f4 x.pth "t2m-pack: x.pth: tensor 'q': PyTorch has no F4 dtype"
check f6 x.bin "t2m-pack: x.bin: tensor 'r': PyTorch has no F6_E2M3 dtype"
check f6b x.PT "t2m-pack: x.PT: tensor 's': PyTorch has no F6_E3M2 dtype"
# The same streams make safetensors; the hidden tensor into the header.
for s in hidden f4 f6 f6b; do
	t2m-pack w/$s.st < $s || fail "$s > safetensors: exit status $?"
done
t2m-unpack w/hidden.st | t2m-ls > ls || fail "reading hidden.st"
grep -q "bn.num_batches_tracked (hidden)" ls || fail "hidden.st: $(cat ls)"
exit $status
