# What the index names and the shards do not hold: a missing shard, a
# tensor missing from its shard.  One message naming the index and the
# shard (and the tensor), exit 1, not a byte of stream, and at the end of
# a pipeline no output file.  Found before any data is written: the
# stream's manifest comes first, and is made from every shard.
"$PYTHON" "$T2M_TOP/tests/cli/shards/fixture.py" || exit 3
bad=0
. "$T2M_TOP/tests/lib/fails.sh"

# A shard missing: the last one, so every other was there.
cp -R st st1
rm st1/model-00003-of-00003.safetensors
fails t2m-unpack st1
fails t2m-unpack st1/model.safetensors.index.json
t2m-unpack st1 | t2m-pack out.safetensors
[ ! -e out.safetensors ] || { echo "out.safetensors written" >&2; bad=1; }
cp -R bin bin1
rm bin1/pytorch_model-00002-of-00003.bin
fails t2m-unpack bin1

# A tensor missing from its shard (rewritten without it, by st.py and by
# torch.save), the shard before it complete.
cp -R st st2
cp -R bin bin2
"$PYTHON" - <<'PY' || exit 3
import torch
import st
path = "st2/model-00002-of-00003.safetensors"
meta, t, _ = st.read(path)
del t["layers.1.fc1.bias"]
st.write(path, t, metadata=meta)
path = "bin2/pytorch_model-00003-of-00003.bin"
sd = torch.load(path)
del sd["norm.bias"]
torch.save(sd, path)
PY
fails t2m-unpack st2
t2m-unpack st2 | t2m-transpose | t2m-pack out.safetensors
[ ! -e out.safetensors ] || { echo "out.safetensors written" >&2; bad=1; }
fails t2m-unpack bin2/pytorch_model.bin.index.json
exit $bad
