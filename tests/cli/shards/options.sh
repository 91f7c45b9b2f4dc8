# The options with a sharded checkpoint.  -l checks the shards against
# the index, then lists each shard as -l lists it alone, in shard order.
# -s skips what t2m cannot convert in any shard: the skipped tensor counts
# as present, and the warning names its shard; without -s the error does.
"$PYTHON" "$T2M_TOP/tests/cli/shards/fixture.py" --only bin || exit 3
bad=0

t2m-unpack -l bin > all.txt || bad=1
for f in bin/pytorch_model-0000[123]-of-00003.bin; do
	t2m-unpack -l "$f"
done > each.txt
cmp -s all.txt each.txt || { echo "-l differs from the shards'" >&2; bad=1; }
[ -s all.txt ] || bad=1

# A quantized tensor in the second shard, named in the index.
"$PYTHON" - <<'PY' || exit 3
import json
import torch
p = "bin/pytorch_model-00002-of-00003.bin"
sd = torch.load(p)
sd["q.weight"] = torch.quantize_per_tensor(torch.ones(2, 2), 0.1, 0,
                                           torch.qint8)
torch.save(sd, p)
p = "bin/pytorch_model.bin.index.json"
i = json.load(open(p))
i["weight_map"]["q.weight"] = "pytorch_model-00002-of-00003.bin"
json.dump(i, open(p, "w"))
PY
t2m-unpack -s bin | t2m-pack skipped.safetensors || bad=1
"$PYTHON" "$T2M_TOP/tests/cli/shards/same.py" full.safetensors \
    skipped.safetensors || bad=1
t2m-unpack -s bin | t2m-ls -l | grep -c '^info skipped=.*q.weight'
t2m-unpack bin > out.t2m
[ $? -eq 1 ] && [ ! -s out.t2m ] || bad=1
# -l lists it, as -l lists what it cannot convert.
t2m-unpack -l -s bin | grep -c '^q.weight'
exit $bad
