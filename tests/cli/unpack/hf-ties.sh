# Hugging Face's converter (and safetensors' save_model) drops a name
# that shares another's storage and records it in __metadata__, the
# dropped name as the key and the kept one as the value.  t2m-unpack gives
# that name back as a tie, as it does t2m-pack's "t2m.tie." records, so
# the stream is the state dict the file was made from.  Any other pair
# stays metadata: "format", a key that names a tensor of the file, a value
# that names none, a pair without dots.
set -u
failed=0
fail() { echo "FAIL: $*"; failed=1; }
$PYTHON - <<'PY' || exit 3
import struct, st
t = {"model.embed.weight": ("F32", [4, 3], struct.pack("<12f", *range(12))),
     "model.norm.weight": ("F32", [3], struct.pack("<3f", 1, 2, 3)),
     "top": ("F32", [1], struct.pack("<f", 5))}
st.write("hf.st", t, metadata={
    "format": "pt", "lm_head.weight": "model.embed.weight",
    "note": "model.norm", "missing": "no.such", "plain": "top",
    "model.norm.weight": "model.embed.weight"})
PY
t2m-unpack hf.st | t2m-ls -j > ls.json || fail "t2m-ls: exit $?"
t2m-unpack -l hf.st > list || fail "-l: exit $?"
grep -q '^lm_head.weight	tensor F32 \[4, 3\]$' list || fail "-l: $(cat list)"
t2m-unpack hf.st | t2m-pack once.st || fail "pack: exit $?"
t2m-unpack hf.st | t2m-pack -d twice.st || fail "pack -d: exit $?"
t2m-unpack once.st | t2m-pack -d again.st || fail "again: exit $?"
$PYTHON - <<'PY' || fail "contents"
import json, sys, st
bad = []
m = json.load(open("ls.json"))
names = [(t["name"], t["attrs"].get("t2m.tie")) for t in m["tensors"]]
if names != [("model.embed.weight", None), ("model.norm.weight", None),
             ("top", None), ("lm_head.weight", "model.embed.weight")]:
    bad.append(f"tensors {names}")
if m["metadata"] != {"format": "pt", "note": "model.norm",
                     "missing": "no.such", "plain": "top",
                     "model.norm.weight": "model.embed.weight"}:
    bad.append(f"metadata {m['metadata']}")
meta, t, _ = st.read("once.st")
if sorted(t) != ["model.embed.weight", "model.norm.weight", "top"] or \
        meta.get("t2m.tie.lm_head.weight") != "model.embed.weight" or \
        "lm_head.weight" in meta:
    bad.append(f"once.st: {sorted(t)}, {meta}")
for f in ("twice.st", "again.st"):
    meta, t, _ = st.read(f)
    if t.get("lm_head.weight") != t["model.embed.weight"]:
        bad.append(f"{f}: lm_head.weight {t.get('lm_head.weight')}")
if bad:
    sys.exit("\n".join(bad))
PY
exit $failed
