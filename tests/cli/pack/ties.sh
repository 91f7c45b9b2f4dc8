# Tied tensors (t2m.tie, t2m-stream(5)) in streams made by hand: t2m-pack
# writes a tie's bytes once, under the tensor it names, with
# "t2m.tie.<name>" in __metadata__; a tie it cannot honour (naming no
# tensor, itself, a tie, one of another shape or dtype; hidden; its key
# taken) is written whole.  -d writes every tie whole.  t2m-unpack makes
# the recorded ties tensors again, and a PyTorch checkpoint gives a tie
# the storage of the tensor it names.  A tie whose bytes are not those of
# the tensor it names is an invalid stream: one message, exit 1, no file
# (at either end of a tie, which is what t2m-pack compares).
set -u
$PYTHON - <<'PY' || exit 3
import struct
import streamtool as t

F32, I32 = 10, 8
A = struct.pack("<2f", 1.5, -2.0)


def tensor(name, shape, tie=None, dtype=F32, hidden=False):
    attrs = [(b"t2m.tie", tie.encode())] if tie else []
    if hidden:
        attrs.append((b"t2m.hidden", b"1"))
    n = 4
    for d in shape:
        n *= d
    return {"name": name, "dtype": dtype, "ndim": len(shape),
            "reserved": b"\0\0", "shape": shape, "nbytes": n,
            "attrs": attrs}


def stream(path, tensors, data, meta=()):
    m = {"info": [], "meta": list(meta), "modules": [], "tensors": tensors}
    recs = [t.Record(b"MANI", payload=t.encode_manifest(m))]
    recs += [t.Record(b"DATA", i, 0, b) for i, b in enumerate(data)]
    recs.append(t.ends(len(tensors), len(data), sum(map(len, data))))
    open(path, "wb").write(t.build(recs))


ts = [tensor("a", [2]), tensor("b", [2], "a"), tensor("c", [2], "zz"),
      tensor("d", [3], "a"), tensor("e", [2], "b"), tensor("f", [2], "f"),
      tensor("g", [2], "a"), tensor("h", [2], "a", hidden=True),
      tensor("i", [2], "a", dtype=I32)]
data = [A, A, b"c" * 8, b"d" * 12, A, b"f" * 8, A, A, b"i" * 8]
stream("s", ts, data, [(b"t2m.tie.g", b"x")])
# for PyTorch: no hidden tensor, no metadata (so g is a tie there)
stream("p", ts[:7] + ts[8:], data[:7] + data[8:])
# b tied to a, but other bytes: before a's and after them
stream("bad1", ts[:2], [A, A[:4] + b"\0\0\0\0"])
stream("bad2", [ts[1], ts[0]], [b"\0" * 8, A])
# 400 KB, in 1 MiB records: b differs in its last element only
big = struct.pack("<100000f", *range(100000))
stream("bad3", [tensor("a", [100000]), tensor("b", [100000], "a")],
       [big, big[:-4] + b"\0\0\0\0"])
PY

status=0
fail() { echo "FAIL: $*"; status=1; }

t2m-pack out.st < s || fail "pack: exit $?"
t2m-pack -d apart.st < s || fail "pack -d: exit $?"
t2m-unpack out.st > back || fail "unpack: exit $?"
t2m-pack out.pt < p || fail "pack .pt: exit $?"
$PYTHON - <<'PY' || fail "contents"
import struct, sys
import st, streamtool as t
A = struct.pack("<2f", 1.5, -2.0)
meta, tab, _ = st.read("out.st")
bad = []
if sorted(tab) != ["a", "c", "d", "e", "f", "g", "i"]:
    bad.append(f"out.st tensors {sorted(tab)}")
want = {"format": "pt", "t2m.tie.b": "a", "t2m.tie.g": "x"}
if {k: v for k, v in meta.items() if not k.startswith("t2m.hidden.")} \
        != want or "t2m.hidden.h" not in meta:
    bad.append(f"out.st metadata {meta}")
if tab["a"][2] != A or tab["e"][2] != A or tab["g"][2] != A:
    bad.append("out.st bytes")
meta, tab, _ = st.read("apart.st")
if sorted(tab) != list("abcdefgi") or "t2m.tie.b" in meta or \
        tab["b"][2] != A:
    bad.append(f"apart.st {sorted(tab)} {meta}")
# out.st read back: b is a tensor again, tied to a; g's key stays
_, recs = t.parse(open("back", "rb").read())
m = t.decode_manifest(recs[0].payload)
names = [x["name"] for x in m["tensors"]]
ties = {x["name"]: dict(x["attrs"]).get(b"t2m.tie") for x in m["tensors"]}
got = {}
for r in recs:
    if r.tag == b"DATA":
        got[names[r.index]] = got.get(names[r.index], b"") + r.payload
if ties.get(b"b") != b"a" or got.get(b"b") != A or \
        (b"t2m.tie.g", b"x") not in m["meta"] or \
        any(k == b"t2m.tie.b" for k, _ in m["meta"]):
    bad.append(f"back: {names} {ties} {m['meta']}")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
$PYTHON - <<'PY' || fail "out.pt"
import sys, zipfile, torch
z = sorted(zipfile.ZipFile("out.pt").namelist())
d = torch.load("out.pt")
ptr = {k: v.storage().data_ptr() for k, v in d.items()}
ok = ptr["a"] == ptr["b"] == ptr["g"] and len(set(ptr.values())) == 6 and \
    "out/data/1" not in z and torch.equal(d["b"], torch.tensor([1.5, -2.0]))
sys.exit(0 if ok else f"{z} {ptr}")
PY
for s in bad1 bad2 bad3; do
	for o in o.st o.pt; do
		mkdir w
		t2m-pack w/$o < $s 2> err && fail "$s -> $o: exit 0"
		grep -q "tensor 'b' has the attribute t2m.tie=a, but not its bytes" \
		    err && [ "$(wc -l < err)" -eq 1 ] ||
		    fail "$s -> $o: stderr: $(cat err)"
		[ -z "$(ls -A w)" ] || fail "$s -> $o: left $(ls -A w)"
		rm -rf w
	done
done
exit $status
