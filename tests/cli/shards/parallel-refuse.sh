# What scripts/t2m-shards refuses, before converting anything: a layer
# whose tensors lie in two shards, which t2m-transpose cannot convert
# shard by shard (an LSTM's biases: the shard fails alone) or would
# convert otherwise (an attention's in_proj_bias alone passes unchanged).
# And a conversion that fails (a quantized tensor, which t2m-analyze only
# notes).  Each: exit 1, the message, the one-process path suggested, no
# outdir (an empty one given left as it was) and no temporary left.  The one-process path converts the split
# checkpoints right.
shards=$T2M_TOP/scripts/t2m-shards
bad=0
refused() {
	"$shards" "$@" > out.txt
	s=$?
	[ $s -eq 1 ] || { echo "exit $s: $*" >&2; bad=1; }
	[ ! -s out.txt ] || { echo "output: $*" >&2; bad=1; }
	[ ! -e out ] || { echo "out exists: $*" >&2; bad=1; }
	[ -z "$(ls -A | grep '^\.out\.')" ] || { echo "temporary: $*" >&2; bad=1; }
}
for split in lstm attn; do
	mkdir $split
	(cd $split && "$PYTHON" "$T2M_TOP/tests/cli/shards/fixture.py" \
	    --split $split) || exit 3
	refused -j 2 $split/st out
	refused $split/bin out
	t2m-unpack $split/full.pt | t2m-transpose 2>/dev/null |
	    t2m-pack $split/ref.safetensors
	t2m-unpack $split/bin | t2m-transpose 2>/dev/null |
	    t2m-pack $split/one.safetensors
	"$PYTHON" "$T2M_TOP/tests/cli/shards/same.py" $split/ref.safetensors \
	    $split/one.safetensors || bad=1
done

# A shard whose conversion fails: the others are stopped or thrown away.
"$PYTHON" - <<'PY' || exit 3
import json
import torch
p = "attn/bin/pytorch_model-00003-of-00003.bin"
sd = torch.load(p)
sd["q.weight"] = torch.quantize_per_tensor(torch.ones(2, 2), 0.1, 0,
                                           torch.qint8)
torch.save(sd, p)
p = "attn/bin/pytorch_model.bin.index.json"
i = json.load(open(p))
i["weight_map"]["layers.0.attn.in_proj_bias"] = \
    "pytorch_model-00001-of-00003.bin"
i["weight_map"]["q.weight"] = "pytorch_model-00003-of-00003.bin"
json.dump(i, open(p, "w"))
p = "attn/bin/pytorch_model-00001-of-00003.bin"
sd = torch.load(p)
sd["layers.0.attn.in_proj_bias"] = torch.load(
    "attn/bin/pytorch_model-00002-of-00003.bin")["layers.0.attn.in_proj_bias"]
torch.save(sd, p)
p = "attn/bin/pytorch_model-00002-of-00003.bin"
sd = torch.load(p)
del sd["layers.0.attn.in_proj_bias"]
torch.save(sd, p)
PY
refused -j 1 attn/bin out 2> err.txt
grep -v "'conv.weight': a 3-D weight" err.txt >&2
# An empty outdir given is left as it was: written only by a rename.
mkdir out
"$shards" -j 1 attn/bin out 2> /dev/null && bad=1
[ -d out ] && [ -z "$(ls -A out)" ] || { echo "out changed" >&2; bad=1; }
exit $bad
