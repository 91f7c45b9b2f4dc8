# A stream may name a tensor "__metadata__" (nothing in the stream format
# forbids it), but safetensors reserves that key.  t2m-pack must refuse
# such a stream (exit 1, one line, no file) or write a file that still
# reads back; it must never write an unreadable file with exit 0.
$PYTHON - <<'PY' || exit 3
import streamtool as t
m = {"info": [], "meta": [(b"k", b"v")], "modules": [], "tensors": [
    {"name": "__metadata__", "dtype": 2, "ndim": 1, "reserved": b"\0\0",
     "shape": [2], "nbytes": 2, "attrs": []}]}
open("s", "wb").write(t.build([
    t.Record(b"MANI", payload=t.encode_manifest(m)),
    t.Record(b"DATA", 0, 0, b"\1\2"), t.ends(1, 1, 2)]))
PY
t2m-ls s > /dev/null || exit 3
mkdir w
t2m-pack w/out.st < s 2> err
rc=$?
if [ $rc -eq 0 ]; then
	t2m-unpack w/out.st > /dev/null ||
	    { echo "FAIL: exit 0, but t2m-unpack cannot read the file"; exit 1; }
	$PYTHON -c 'import st; st.read("w/out.st")' ||
	    { echo "FAIL: exit 0, but st.py cannot read the file"; exit 1; }
	exit 0
fi
[ $rc -eq 1 ] || { echo "FAIL: exit status $rc"; exit 1; }
[ "$(wc -l < err)" -eq 1 ] || { echo "FAIL: stderr: $(cat err)"; exit 1; }
[ -z "$(ls -A w)" ] || { echo "FAIL: left $(ls -A w)"; exit 1; }
