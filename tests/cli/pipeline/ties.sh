# Tied weights through every filter, from a real checkpoint: an embedding
# tied to an output layer (both pass unchanged), two convolutions sharing
# one weight (permuted, so written apart) and a float64 pair (made float32,
# so written apart).  t2m-rename follows a tie or drops it with its tensor,
# t2m-cast keeps it when it casts both, t2m-pack -s puts it in the shard
# of its tensor and leaves it out of the index, t2m-unpack of the shards
# gives it back, t2m-shards converts shards holding ties, t2m-analyze
# counts it.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }

$PYTHON - <<'PY' || exit 3
import torch
torch.manual_seed(3)
m = torch.nn.Module()
m.emb = torch.nn.Embedding(11, 6)
m.head = torch.nn.Linear(6, 11, bias=False)
m.head.weight = m.emb.weight
m.c1 = torch.nn.Conv2d(3, 4, 3, bias=False)
m.c2 = torch.nn.Conv2d(3, 4, 3, bias=False)
m.c2.weight = m.c1.weight
m.register_buffer("d1", torch.randn(5, dtype=torch.float64))
m.register_buffer("d2", m.d1)
torch.save(m.state_dict(), "m.pt")
PY

t2m-unpack m.pt | t2m-transpose | t2m-pack conv.st || fail "transpose"
t2m-unpack m.pt | t2m-rename -s emb.=embed. | t2m-pack renamed.st ||
    fail "rename -s"
t2m-unpack m.pt | t2m-rename -d 'emb.*' | t2m-pack dropped.st ||
    fail "rename -d"
t2m-unpack m.pt | t2m-cast -t f16 -k head.weight | t2m-pack one.st ||
    fail "cast one"
t2m-unpack m.pt | t2m-cast -t f16 | t2m-pack both.st || fail "cast both"
t2m-unpack m.pt | t2m-transpose | t2m-pack -s 300 shards || fail "shards"
t2m-unpack shards | t2m-pack again.st || fail "shards back"
t2m-unpack shards | t2m-pack -d whole.st || fail "shards back, -d"
t2m-unpack m.pt | t2m-pack -s 300 raw || fail "raw shards"
t2m-shards raw mlx || fail "t2m-shards"
t2m-unpack mlx | t2m-pack viashards.st || fail "t2m-shards back"
t2m-unpack m.pt | t2m-analyze > report.json || fail "analyze"

$PYTHON - <<'PY' || fail "contents"
import json, sys
import torch
import st
sd = torch.load("m.pt")
bad = []


def check(path, names, ties):
    meta, tab, _ = st.read(path)
    have = {k[8:]: v for k, v in meta.items() if k.startswith("t2m.tie.")}
    if sorted(tab) != sorted(names) or have != ties:
        bad.append(f"{path}: {sorted(tab)} {have}")
    return st.untie(meta, tab)


def value(tab, n):
    d, shape, raw = tab[n]
    return torch.from_numpy(st.values(d, shape, raw).copy())


tab = check("conv.st", ["emb.weight", "c1.weight", "c2.weight", "d1", "d2"],
            {"head.weight": "emb.weight"})
w = sd["c1.weight"].permute(0, 2, 3, 1)
for n, v in (("head.weight", sd["emb.weight"]), ("c1.weight", w),
             ("c2.weight", w), ("d2", sd["d1"].float())):
    if not torch.equal(value(tab, n), v):
        bad.append(f"conv.st: {n}: values")
check("renamed.st", ["embed.weight", "c1.weight", "d1"],
      {"head.weight": "embed.weight", "c2.weight": "c1.weight",
       "d2": "d1"})
tab = check("dropped.st", ["head.weight", "c1.weight", "d1"],
            {"c2.weight": "c1.weight", "d2": "d1"})
if not torch.equal(value(tab, "head.weight"), sd["emb.weight"]):
    bad.append("dropped.st: head.weight: values")
tab = check("one.st", ["emb.weight", "head.weight", "c1.weight", "d1"],
            {"c2.weight": "c1.weight", "d2": "d1"})
if tab["head.weight"][0] != "F16" or tab["emb.weight"][0] != "F32":
    bad.append("one.st: dtypes")
check("both.st", ["emb.weight", "c1.weight", "d1"],
      {"head.weight": "emb.weight", "c2.weight": "c1.weight", "d2": "d1"})
index = json.load(open("shards/model.safetensors.index.json"))["weight_map"]
if "head.weight" in index:
    bad.append(f"index: {index}")
meta, tab, _ = st.read("shards/" + index["emb.weight"])
if meta.get("t2m.tie.head.weight") != "emb.weight":
    bad.append(f"shard of emb.weight: {meta}")
# Read back, the shards give the tie again: written once, or whole.
tab = check("again.st", ["emb.weight", "c1.weight", "c2.weight", "d1", "d2"],
            {"head.weight": "emb.weight"})
if not torch.equal(value(tab, "head.weight"), sd["emb.weight"]):
    bad.append("again.st: head.weight: values")
tab = check("whole.st", ["emb.weight", "head.weight", "c1.weight",
                         "c2.weight", "d1", "d2"], {})
if not torch.equal(value(tab, "head.weight"), sd["emb.weight"]):
    bad.append("whole.st: head.weight: values")
# t2m-shards converts shards with ties as the one pipeline does.
if open("viashards.st", "rb").read() != open("conv.st", "rb").read():
    bad.append("viashards.st differs from conv.st")
index = json.load(open("mlx/model.safetensors.index.json"))["weight_map"]
if sorted(index) != ["c1.weight", "c2.weight", "d1", "d2", "emb.weight"]:
    bad.append(f"t2m-shards index: {sorted(index)}")
t = json.load(open("report.json"))["tensors"]["ties"]
if t != {"count": 3, "bytes": 11 * 6 * 4 + 4 * 3 * 9 * 4 + 5 * 8}:
    bad.append(f"report: {t}")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
exit $status
