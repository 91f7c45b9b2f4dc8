# -j on the round-trip corpus is JSON that says what the safetensors file
# says: every name (non-ASCII, quotes, backslashes, control characters),
# dtype, shape and size, in data order, and the metadata.
$PYTHON -m gen_st corpus in.st || exit 3
t2m-unpack in.st | t2m-ls -j > out.json || exit 1
$PYTHON - <<'PY'
import json, sys
import st
meta, tensors, _ = st.read("in.st")
with open("out.json", "rb") as f:
    text = f.read().decode("utf-8")
assert text.endswith("}\n") and text.count("\n") == 1, "not one line"
j = json.loads(text)
fails = []
if j["info"] != {"format": "safetensors", "source": "in.st"}:
    fails.append(f"info {j['info']!r}")
if j["metadata"] != meta:
    fails.append(f"metadata {j['metadata']!r}, expected {meta!r}")
if j["modules"] != []:
    fails.append(f"modules {j['modules']!r}")
# st.read gives the tensors in header order; data order is what to list.
import struct
blob = open("in.st", "rb").read()
(n,) = struct.unpack("<Q", blob[:8])
hdr = json.loads(blob[8:8 + n])
hdr.pop("__metadata__", None)
order = sorted(hdr, key=lambda k: hdr[k]["data_offsets"])
want = [{"name": k, "dtype": tensors[k][0], "shape": list(tensors[k][1]),
         "bytes": len(tensors[k][2]), "attrs": {}} for k in order]
if j["tensors"] != want:
    for got, w in zip(j["tensors"], want):
        if got != w:
            fails.append(f"listed {got!r}, expected {w!r}")
    if len(j["tensors"]) != len(want):
        fails.append(f"{len(j['tensors'])} tensors, expected {len(want)}")
for f in fails:
    print("FAIL:", f)
sys.exit(1 if fails else 0)
PY
