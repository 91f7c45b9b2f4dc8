# safetensors has no C128: a stream holding one is valid (t2m-ls reads
# it) but t2m-pack refuses it, naming the tensor, and writes nothing.
$PYTHON - <<'PY' || exit 3
import streamtool as t
m = {"info": [], "meta": [], "modules": [], "tensors": [
    {"name": "z", "dtype": 17, "ndim": 1, "reserved": b"\0\0", "shape": [1],
     "nbytes": 16, "attrs": []}]}
open("s", "wb").write(t.build([
    t.Record(b"MANI", payload=t.encode_manifest(m)),
    t.Record(b"DATA", 0, 0, bytes(range(16))), t.ends(1, 1, 16)]))
PY
t2m-ls s || exit 3
mkdir w
cd w && t2m-pack out.st < ../s
rc=$?
[ -z "$(ls -A)" ] || { echo "FAIL: left $(ls -A)"; exit 3; }
exit $rc
