# The manifest kept in step.  A DataParallel-wrapped model, pickled
# whole, stripped with -u: its module tree is the plain model's (the
# DataParallel root dropped, module the new root), and so it stays after
# t2m-transpose - hidden tensors, every tensor's module attribute and the
# t2m.reverse recipes renamed alike - and the way back gives the plain
# state dict bit for bit.  Renaming before or after t2m-transpose gives
# the same file.
set -eu
$PYTHON - <<'PY'
import os, torch, torch.nn as nn
torch.manual_seed(7)
m = nn.Sequential()
m.add_module("lstm", nn.LSTM(4, 8))
m.add_module("mha", nn.MultiheadAttention(8, 2))
m.add_module("wn", nn.utils.weight_norm(nn.Conv1d(4, 5, 3)))
m.add_module("bn", nn.BatchNorm1d(5))
m.add_module("act", nn.ReLU())
os.mkdir("plain"); os.mkdir("dp")
torch.save(m, "plain/m.pt")
torch.save(nn.DataParallel(m), "dp/m.pt")
torch.save(m.state_dict(), "sd.pt")
PY
# Made where they stand, so that both streams' info names m.pt.
(cd plain && t2m-unpack m.pt > ../plain.t2m && t2m-unpack m.pt |
    t2m-transpose > ../plain.mlx)
(cd dp && t2m-unpack m.pt > ../dp.t2m && t2m-unpack m.pt |
    t2m-transpose > ../dp.mlx)
# The wrapped streams differ, or the comparisons below prove nothing.
t2m-ls -l dp.mlx > dp-as-is.txt
t2m-ls -l plain.mlx > plain-mlx.txt
! cmp -s dp-as-is.txt plain-mlx.txt
grep -q '^module module\.lstm$' dp-as-is.txt
grep -q '^F32 .*  module\.lstm\.bias_ih_l0 (hidden)$' dp-as-is.txt

t2m-rename -u < dp.t2m | t2m-ls -l > a.txt
t2m-ls -l plain.t2m > b.txt
cmp a.txt b.txt
t2m-rename -u < dp.mlx | t2m-ls -l > a.txt
cmp a.txt plain-mlx.txt
t2m-rename -u < dp.mlx | t2m-ls -j > a.json
t2m-ls -j plain.mlx > b.json
cmp a.json b.json
# What they hold, read as JSON: paths, module attributes, hidden names.
$PYTHON - <<'PY'
import json
j = json.load(open("a.json"))
paths = [m["path"] for m in j["modules"]]
assert paths == ["", "lstm", "mha", "mha.out_proj", "wn", "bn", "act"], paths
assert j["modules"][0]["attrs"]["class"].endswith(".Sequential"), j["modules"][0]
t = {x["name"]: x["attrs"] for x in j["tensors"]}
for name in ["lstm.bias_ih_l0", "lstm.bias_hh_l0", "wn.weight_g", "wn.weight_v",
             "bn.num_batches_tracked"]:
    assert t[name].get("t2m.hidden") == "1", name
assert t["lstm.0.Wx"]["module"] == "lstm"
assert t["mha.out_proj.weight"]["module"] == "mha.out_proj"
r = json.loads(j["metadata"]["t2m.reverse"])
assert r["recipes"]["lstm.weight_ih_l0"] == {"from": "lstm.0.Wx"}, r
assert "mha.in_proj_weight" in r["recipes"], r
assert all(not n.startswith("module") for n in r["consumed"]), r
PY
# Another name for everything: a new root, every path under it.
t2m-rename -s =net < plain.mlx | t2m-ls -j > net.json
$PYTHON - <<'PY'
import json
j = json.load(open("net.json"))
assert [m["path"] for m in j["modules"]] == ["net", "net.lstm", "net.mha",
    "net.mha.out_proj", "net.wn", "net.bn", "net.act"], j["modules"]
for x in j["tensors"]:
    assert x["name"].startswith("net."), x
    assert x["attrs"]["module"].startswith("net."), x
r = json.loads(j["metadata"]["t2m.reverse"])
for k, v in r["recipes"].items():
    assert k.startswith("net."), k
    for s in [v["from"]] if "from" in v else v["concat"]:
        assert s.startswith("net."), s
PY
# The way back, and renaming before or after the conversion.
t2m-unpack sd.pt | t2m-pack sd.st
t2m-rename -u < dp.mlx | t2m-transpose -r | t2m-pack back.st
cmp sd.st back.st
t2m-rename -u < dp.t2m | t2m-transpose | t2m-pack before.st
t2m-rename -u < dp.mlx | t2m-pack after.st
t2m-pack plain.st < plain.mlx
cmp before.st plain.st
cmp after.st plain.st
# Renamed MLX weights come back under the new names.
t2m-rename -s =net < plain.mlx | t2m-transpose -r | t2m-pack net-back.st
t2m-unpack sd.pt | t2m-rename -s =net | t2m-pack net-sd.st
cmp net-back.st net-sd.st
# Selection takes the modules whose tensors all went, and keeps those
# that never had any (the ReLU); the recipes keep only what is left.
t2m-rename -k 'lstm.*' < plain.mlx | t2m-ls -j > lstm.json
$PYTHON - <<'PY'
import json
j = json.load(open("lstm.json"))
assert [m["path"] for m in j["modules"]] == ["", "lstm", "act"], j["modules"]
r = json.loads(j["metadata"]["t2m.reverse"])
assert sorted(r["recipes"]) == ["lstm.weight_hh_l0", "lstm.weight_ih_l0"], r
assert r["consumed"] == ["lstm.0.Wx", "lstm.0.Wh", "lstm.0.bias"], r
PY
