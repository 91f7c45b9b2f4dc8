# An index from a stranger: shard names that are paths ("../", "/",
# ".", ".."), JSON that is not an index, shards that are not checkpoints,
# an index with no path to be beside.  Each: one message with the byte of
# the index at fault or the shard, exit 1, nothing written.  And a shard
# that is a symbolic link elsewhere (the Hugging Face cache) is read.
"$PYTHON" "$T2M_TOP/tests/cli/shards/fixture.py" --only st || exit 3
bad=0
. "$T2M_TOP/tests/lib/fails.sh"
index() {
	printf '%s' "$1" > st/i.index.json
	fails t2m-unpack st/i.index.json
}
echo secret > secret.safetensors

# Names that are not names of files beside the index.
index '{"weight_map": {"a": "../secret.safetensors"}}'
index '{"weight_map": {"a": "/etc/passwd"}}'
index '{"weight_map": {"a": "st/model-00001-of-00003.safetensors"}}'
index '{"weight_map": {"a": ".."}}'
index '{"weight_map": {"a": "."}}'
index '{"weight_map": {"a": ""}}'
# Not an index, or not a good one.
index '{"model_type": "llama"}'
index '{"weight_map": {}}'
index '{"weight_map": []}'
index '{"weight_map": {"a": 1}}'
index '{"weight_map": {"a": "x", "a": "x"}}'
index '{"weight_map": {}, "weight_map": {}}'
index '{"weight_map": {"a": "x"}} {}'
index '{"weight_map": {"a": "x"}'
index '{"metadata": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}'
index '{"weight_map": {"a": "\u00ff\ud800"}}'
# Shards that are not checkpoints, or not ones a shard can be.
index '{"weight_map": {"a": "i.index.json"}}'
: > st/empty
index '{"weight_map": {"a": "empty"}}'
mkdir st/dir
index '{"weight_map": {"a": "dir"}}'
zstd -q -c st/model-00001-of-00003.safetensors > st/z.safetensors
index '{"weight_map": {"a": "z.safetensors"}}'
t2m-unpack st/model-00001-of-00003.safetensors > st/s.t2m
index '{"weight_map": {"a": "s.t2m"}}'
"$PYTHON" -c '
import torch
torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), "st/ts.pt")' || exit 3
index '{"weight_map": {"weight": "ts.pt", "bias": "ts.pt"}}'
# An index read from standard input or a pipe has nothing beside it.
fails t2m-unpack < st/model.safetensors.index.json
cat st/model.safetensors.index.json | fails t2m-unpack -
mkfifo st/fifo.index.json
cat st/model.safetensors.index.json > st/fifo.index.json &
fails t2m-unpack st/fifo.index.json
wait
rm st/fifo.index.json
# -k and -m choose inside one file.
fails t2m-unpack -k layers st
fails t2m-unpack -m x st

# Shards as symbolic links into another directory, as the Hugging Face
# cache keeps them: read, and the index's directory is still the source.
mkdir blobs snap
for f in st/*; do
	[ -f "$f" ] || continue
	mv "$f" blobs/
	ln -s "../blobs/${f#st/}" "snap/${f#st/}"
done
t2m-unpack snap | t2m-pack snap.safetensors
"$PYTHON" "$T2M_TOP/tests/cli/shards/same.py" full.safetensors \
    snap.safetensors || bad=1
exit $bad
