# What the shards hold and the index does not say: a tensor the index does
# not name, a tensor in another shard than the index says, a tensor in two
# shards.  One message naming the shard and the tensor, exit 1, nothing
# written.
"$PYTHON" "$T2M_TOP/tests/cli/shards/fixture.py" || exit 3
bad=0
. "$T2M_TOP/tests/lib/fails.sh"
for d in extra moved twice twice2 binextra; do
	case $d in bin*) cp -R bin $d ;; *) cp -R st $d ;; esac
done
"$PYTHON" - <<'PY' || exit 3
import json
import torch
import st

S = "model-%05d-of-00003.safetensors"


def edit(d, k, f):
    meta, t, _ = st.read("%s/%s" % (d, S % k))
    f(t)
    st.write("%s/%s" % (d, S % k), t, metadata=meta)


def index(d, f):
    p = d + "/model.safetensors.index.json"
    i = json.load(open(p))
    f(i["weight_map"])
    json.dump(i, open(p, "w"))


# A tensor in shard 2 the index does not name.
edit("extra", 2, lambda t: t.update(stray=("U8", (3,), b"abc")))
# norm.weight moved from shard 3 to shard 1; the index not told.
_, t3, _ = st.read("st/" + S % 3)
edit("moved", 1, lambda t: t.update({"norm.weight": t3["norm.weight"]}))
edit("moved", 3, lambda t: t.pop("norm.weight"))
# norm.weight also in shard 1: the index puts it in 3, then in 1.
edit("twice", 1, lambda t: t.update({"norm.weight": t3["norm.weight"]}))
edit("twice2", 1, lambda t: t.update({"norm.weight": t3["norm.weight"]}))
index("twice2", lambda m: m.update({"norm.weight": S % 1}))
# A torch shard with one tensor more.
p = "binextra/pytorch_model-00001-of-00003.bin"
sd = torch.load(p)
sd["stray"] = torch.zeros(2)
torch.save(sd, p)
PY
for d in extra moved twice twice2 binextra; do
	fails t2m-unpack $d
done
exit $bad
