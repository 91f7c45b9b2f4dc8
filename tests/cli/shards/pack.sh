# What t2m-pack -s writes, t2m-unpack reads as one: a converted model in
# shards of at most 20K, its hidden tensors (what t2m-transpose consumed,
# kept in the first shard's metadata and in no index) and its metadata
# repeated in every shard.  The same tensors come back, and t2m-transpose
# -r restores the PyTorch original bit for bit.
"$PYTHON" "$T2M_TOP/tests/cli/shards/fixture.py" --only bin || exit 3
same() {
	"$PYTHON" "$T2M_TOP/tests/cli/shards/same.py" "$@" || bad=1
}
bad=0
t2m-unpack full.pt | t2m-transpose 2>/dev/null | t2m-pack ref.safetensors
t2m-unpack bin | t2m-transpose 2>/dev/null | t2m-pack -s 20K sp
ls sp
same ref.safetensors sp/model.safetensors.index.json
t2m-unpack sp | t2m-pack again.safetensors
same ref.safetensors again.safetensors
t2m-unpack sp | t2m-transpose -r | t2m-pack back.safetensors
same full.safetensors back.safetensors
exit $bad
