# The plan lists every tensor once, in the input's order, however a
# module's tensors are spread through it (sorted as in a safetensors file,
# a module's own tensors fall between its children's); what each becomes
# is what t2m-transpose writes; a checkpoint and its stream give the same
# report.
set -eu
$PYTHON - <<'PY'
import collections, torch
t = collections.OrderedDict()
for i in range(1500):
    t["m.a%04d" % i] = torch.ones(2)
    t["m.a%04d_sub.weight" % i] = torch.ones(3, 2)
t["m.weight_g"] = torch.ones(2, 1)
t["m.weight_v"] = torch.ones(2, 3)
t["conv.weight"] = torch.ones(4, 3, 3, 3)
t["conv.bias"] = torch.ones(4)
t["attn.in_proj_weight"] = torch.ones(6, 2)
t["attn.in_proj_bias"] = torch.ones(6)
t["attn.out_proj.weight"] = torch.ones(2, 2)
t["rnn.weight_ih_l0"] = torch.ones(12, 2)
t["rnn.weight_hh_l0"] = torch.ones(12, 4)
t["rnn.bias_ih_l0"] = torch.ones(12)
t["rnn.bias_hh_l0"] = torch.ones(12)
torch.save(collections.OrderedDict((k, t[k]) for k in sorted(t)), "sorted.pt")
torch.save(collections.OrderedDict((k, t[k]) for k in reversed(t)), "reversed.pt")
PY
for f in sorted reversed; do
	t2m-unpack $f.pt > $f.t2m
	t2m-analyze $f.pt > $f.json
	t2m-analyze < $f.t2m > s.json
	cmp $f.json s.json
	t2m-ls -j < $f.t2m > in.json
	t2m-transpose < $f.t2m 2> /dev/null | t2m-ls -j > out.json
	$PYTHON - $f.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
names = [t["name"] for t in json.load(open("in.json"))["tensors"]]
plan = [p["name"] for p in r["plan"]]
assert plan == names, (len(plan), len(names), [(a, b) for a, b in zip(plan, names) if a != b][:3])
made = {(t["name"], t["dtype"], tuple(t["shape"]), t["attrs"].get("t2m.hidden") == "1")
        for t in json.load(open("out.json"))["tensors"]}
said = {(o["name"], o["dtype"], tuple(o["shape"]), o.get("hidden", False))
        for p in r["plan"] for o in p["to"]}
assert made == said, (sorted(made - said)[:3], sorted(said - made)[:3])
assert r["tensors"]["count"] == 3011, r["tensors"]
PY
done
