# scripts/t2m-shards converts the 3-shard checkpoint one process per
# shard: the same tensors, byte for byte, as converting the unsharded
# state dict in one process; an index naming each tensor's shard with the
# right total_size; the same files whatever the number of jobs.  The
# output reads back as one checkpoint, and back to PyTorch's layout bit
# for bit (its shards' recipes merged by t2m-unpack).
"$PYTHON" "$T2M_TOP/tests/cli/shards/fixture.py" || exit 3
shards=$T2M_TOP/scripts/t2m-shards
same() {
	"$PYTHON" "$T2M_TOP/tests/cli/shards/same.py" "$@" || bad=1
}
bad=0

t2m-unpack full.pt | t2m-transpose 2>/dev/null | t2m-pack ref.safetensors
"$shards" -j 3 bin out.bin 2>/dev/null || bad=1
"$shards" -j 1 st/model.safetensors.index.json out.st 2>/dev/null || bad=1
mkdir out.empty
"$shards" st out.empty 2>/dev/null || bad=1
ls out.bin
for d in out.bin out.st out.empty; do
	same ref.safetensors $d/model.safetensors.index.json
done
for f in out.bin/*; do
	cmp -s "$f" "out.st/${f#out.bin/}" || {
		echo "$f: differs with -j 1" >&2
		bad=1
	}
done

# Read back as one (t2m-unpack merges the shards' t2m.reverse), and back.
t2m-unpack out.st | t2m-pack again.safetensors
same ref.safetensors again.safetensors
t2m-unpack out.bin | t2m-transpose -r | t2m-pack back.safetensors
same full.safetensors back.safetensors

# -t shows the pipelines; warnings come with their shard.
"$shards" -t -j 1 bin out.t 2>&1 | sed "s|$PWD/\.out\.t\.[^/]*|TMP|"
ls -A | grep '^\.out\.' && bad=1
exit $bad
