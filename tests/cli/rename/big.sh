# Data passes through unchanged whatever its record sizes: a tensor of
# 3 MiB in records of 64 KiB and of 1 MiB, renamed, packs to the file the
# plain stream packs to; and recipes longer than one metadata value
# (t2m-transpose cuts them at 512 KiB) are rewritten whole.
set -eu
$PYTHON -m gen_st big big.st 3
t2m-unpack -C 64K big.st | t2m-pack plain.st
t2m-unpack -C 64K big.st | t2m-rename -s =x | t2m-rename -p x | t2m-pack a.st
t2m-unpack big.st | t2m-rename -s =x -p x | t2m-pack b.st
cmp plain.st a.st
cmp plain.st b.st

$PYTHON - <<'PY'
import json, torch, torch.nn as nn
m = nn.Module()
for i in range(8000):
    m.add_module(f"a_layer_with_a_long_name_{i:05d}", nn.Conv1d(1, 1, 1))
torch.save(m, "many.pt")
torch.save(m.state_dict(), "sd.pt")
PY
t2m-unpack many.pt | t2m-transpose > mlx
t2m-ls -j mlx > mlx.json
$PYTHON - <<'PY'
import json
meta = json.load(open("mlx.json"))["metadata"]
assert "t2m.reverse.2" in meta, sorted(meta)
PY
t2m-rename -s =a_longer_root < mlx > renamed
t2m-ls -j renamed > renamed.json
$PYTHON - <<'PY'
import json
meta = json.load(open("renamed.json"))["metadata"]
keys = [k for k in meta if k.startswith("t2m.reverse")]
assert len(keys) >= 3, keys
assert keys == ["t2m.reverse"] + [f"t2m.reverse.{k}" for k in range(2, len(keys) + 1)], keys
r = json.loads("".join(meta[k] for k in keys))
assert len(r["recipes"]) == 8000, len(r["recipes"])
assert all(k.startswith("a_longer_root.") for k in r["recipes"])
PY
t2m-transpose -r < renamed | t2m-pack back.st
t2m-unpack sd.pt | t2m-rename -s =a_longer_root | t2m-pack want.st
cmp back.st want.st
