# A 3-shard checkpoint made by real torch (fixture.py), as torch .bin
# shards and as safetensors shards, read through its index or its
# directory: the same tensors, byte for byte, as the unsharded state dict,
# converted (t2m-transpose, which here permutes, cuts and sums) and not.
# The comparisons are tests/lib/st.py's, not t2m's.
"$PYTHON" "$T2M_TOP/tests/cli/shards/fixture.py" || exit 3
same() {
	"$PYTHON" "$T2M_TOP/tests/cli/shards/same.py" "$@" || bad=1
}
bad=0

t2m-unpack full.pt | t2m-transpose 2>/dev/null | t2m-pack ref.safetensors
for src in bin bin/pytorch_model.bin.index.json st \
    st/model.safetensors.index.json st/; do
	rm -f one.safetensors raw.safetensors
	t2m-unpack "$src" | t2m-transpose 2>/dev/null |
	    t2m-pack one.safetensors
	same ref.safetensors one.safetensors
	t2m-unpack "$src" | t2m-pack raw.safetensors
	same full.safetensors raw.safetensors
done

# The directory is its index: the same stream, byte for byte, whatever
# the record size.
t2m-unpack st > a.t2m
t2m-unpack st/model.safetensors.index.json > b.t2m
cmp -s a.t2m b.t2m || { echo "st and its index differ" >&2; bad=1; }
t2m-unpack -C 100 -c bin > c.t2m
t2m-pack c.safetensors < c.t2m
same full.safetensors c.safetensors
t2m-unpack -C 100 bin/ > d.t2m
cmp -s c.t2m d.t2m || { echo "-c changed the stream" >&2; bad=1; }

# The info: format and number of shards; the index as the source, so
# t2m-transpose finds config.json beside it.
t2m-unpack bin | t2m-ls -l | sed -n '/^info /p'
t2m-unpack st | t2m-ls -l | sed -n '/^info /p'
t2m-unpack st | t2m-ls | tail -1
exit $bad
