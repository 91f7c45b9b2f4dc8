# Ties in shards ("t2m.tie.<name>" in a shard's __metadata__, as t2m-pack
# -s writes them): given back as tensors, whether or not the index lists
# them in their shard; a tie the index puts in another shard, or one two
# shards claim, is refused with one message, exit 1, nothing on stdout.
bad=0
. "$T2M_TOP/tests/lib/fails.sh"
"$PYTHON" - <<'PY' || exit 3
import json, os
import st

a = ("U8", (2,), bytes([1, 2]))
b = ("U8", (3,), bytes([3, 4, 5]))
for d, tie1, tie2, wmap in (
        # The index leaves the tie out (t2m-pack -s), or lists it.
        ("good", {"t2m.tie.c": "a"}, {}, {}),
        ("listed", {"t2m.tie.c": "a"}, {}, {"c": "s1.safetensors"}),
        # The index puts the tie in the other shard.
        ("elsewhere", {"t2m.tie.c": "a"}, {}, {"c": "s2.safetensors"}),
        # Both shards tie c.
        ("twice", {"t2m.tie.c": "a"}, {"t2m.tie.c": "b"}, {})):
    os.mkdir(d)
    st.write(f"{d}/s1.safetensors", {"a": a}, metadata=tie1)
    st.write(f"{d}/s2.safetensors", {"b": b}, metadata=tie2)
    m = {"a": "s1.safetensors", "b": "s2.safetensors"}
    m.update(wmap)
    json.dump({"weight_map": m}, open(f"{d}/model.safetensors.index.json", "w"))
PY
for d in good listed; do
	t2m-unpack $d | t2m-ls || bad=1
done
fails t2m-unpack elsewhere
fails t2m-unpack twice
exit $bad
