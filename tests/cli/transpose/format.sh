# The safetensors "format" says whose layout the tensors are in: "pt" for
# a checkpoint packed as it is, "mlx" once t2m-transpose converted it,
# "pt" again after -r.  A file that says "mlx" itself, as mlx-lm saves
# its models, is MLX's already: t2m-transpose passes it unchanged rather
# than permute its convolutions a second time, t2m-analyze calls it
# mlx, and -r refuses it, having no recipes to follow.
set -u
failed=0
fail() { echo "FAIL: $*"; failed=1; }
$PYTHON - <<'PY' || exit 1
import torch
torch.manual_seed(0)
m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, (2, 5)), torch.nn.Flatten(),
                        torch.nn.Linear(4, 2))
torch.save(m.state_dict(), "sd.pt")
PY
t2m-unpack sd.pt | t2m-pack plain.st || fail "plain: exit $?"
t2m-unpack sd.pt | t2m-transpose 2> /dev/null | t2m-pack mlx.st ||
    fail "mlx: exit $?"
t2m-unpack mlx.st | t2m-transpose -r | t2m-pack back.st || fail "back: exit $?"
$PYTHON - <<'PY' || fail "mlx-lm file"
import st
meta, tensors, _ = st.read("mlx.st")
st.write("mlxlm.st", tensors, metadata={"format": "mlx"})
PY
t2m-unpack mlxlm.st | t2m-transpose | t2m-pack again.st ||
    fail "again: exit $?"
t2m-unpack mlxlm.st | t2m-analyze -j > report.json || fail "analyze: exit $?"
t2m-unpack mlxlm.st | t2m-transpose -r > out 2> err
[ $? -eq 1 ] || fail "-r of the mlx-lm file: not exit 1"
grep -q "^t2m-transpose: <stdin>: the stream is in MLX layout, but t2m-transpose did not convert it" err ||
    fail "-r of the mlx-lm file: $(cat err)"
$PYTHON - <<'PY' || fail "contents"
import json, sys, torch, st
sd = {k: (tuple(v.shape), v.numpy().tobytes())
      for k, v in torch.load("sd.pt").items()}
def get(path):
    meta, t, _ = st.read(path)
    return meta.get("format"), {k: (v[1], v[2]) for k, v in t.items()}
bad = []
fmt, plain = get("plain.st")
if fmt != "pt" or plain != sd:
    bad.append(f"plain.st: format {fmt!r}")
fmt, mlx = get("mlx.st")
if fmt != "mlx" or mlx["0.weight"][0] != (8, 2, 5, 3):
    bad.append(f"mlx.st: format {fmt!r}, 0.weight {mlx['0.weight'][0]}")
fmt, back = get("back.st")
if fmt != "pt" or back != sd:
    bad.append(f"back.st: format {fmt!r}")
fmt, again = get("again.st")
if fmt != "mlx" or again != mlx:
    bad.append(f"again.st: format {fmt!r}, 0.weight {again['0.weight'][0]}")
layout = json.load(open("report.json"))["source"]["layout"]
if layout != "mlx":
    bad.append(f"t2m-analyze of mlxlm.st: layout {layout!r}")
if bad:
    sys.exit("\n".join(bad))
PY
exit $failed
