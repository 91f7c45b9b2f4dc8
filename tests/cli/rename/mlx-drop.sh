# In MLX layout, dropping and selecting keep the t2m.reverse recipes in
# step: a recipe whose sources are all dropped goes with them, the way
# back gives the rest bit for bit; dropping part of what a recipe needs
# is refused, naming the recipe and both tensors.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
$PYTHON - <<'PY' || exit 3
import torch, torch.nn as nn
torch.manual_seed(8)
m = nn.Sequential()
m.add_module("conv", nn.Conv2d(3, 4, 3))
m.add_module("lstm", nn.LSTM(4, 8))
m.add_module("mha", nn.MultiheadAttention(8, 2))
torch.save(m, "m.pt")
torch.save(m.state_dict(), "sd.pt")
PY
t2m-unpack m.pt | t2m-transpose > mlx || exit 3
back() {	# back OUT OPTIONS...: rename, then the way back, to OUT
	out=$1
	shift
	t2m-rename "$@" < mlx | t2m-transpose -r | t2m-pack "$out"
}
holds() {	# holds FILE NAME...: exactly these of sd.pt, bit for bit
	$PYTHON - "$@" <<'PY'
import sys, torch, st
sd = torch.load("sd.pt")
meta, out, _ = st.read(sys.argv[1])
want = sys.argv[2:]
if sorted(out) != sorted(want):
    sys.exit(f"{sys.argv[1]}: holds {sorted(out)}, expected {sorted(want)}")
for k in want:
    assert out[k][2] == sd[k].contiguous().numpy().tobytes(), k
PY
}
back all.st || fail "no options"
holds all.st conv.weight conv.bias lstm.weight_ih_l0 lstm.weight_hh_l0 \
    lstm.bias_ih_l0 lstm.bias_hh_l0 mha.in_proj_weight mha.in_proj_bias \
    mha.out_proj.weight mha.out_proj.bias || fail "no options: tensors"
# The whole attention: its recipes go too.
back nomha.st -d 'mha.*' || fail "-d mha.*"
holds nomha.st conv.weight conv.bias lstm.weight_ih_l0 lstm.weight_hh_l0 \
    lstm.bias_ih_l0 lstm.bias_hh_l0 || fail "-d mha.*: tensors"
# A permuted weight, and the three parts of in_proj_weight.
back some.st -d conv.weight -d 'mha.*_proj.weight' || fail "-d parts"
holds some.st conv.bias lstm.weight_ih_l0 lstm.weight_hh_l0 \
    lstm.bias_ih_l0 lstm.bias_hh_l0 mha.in_proj_bias \
    mha.out_proj.bias || fail "-d parts: tensors"
# Selection, and a rename with it.
back lstm.st -k 'lstm.*' || fail "-k lstm.*"
holds lstm.st lstm.weight_ih_l0 lstm.weight_hh_l0 lstm.bias_ih_l0 \
    lstm.bias_hh_l0 || fail "-k lstm.*: tensors"
# Part of a recipe's sources: refused, nothing written.
t2m-rename -d mha.key_proj.weight < mlx > out 2> err
[ $? -eq 1 ] || fail "part: exit status"
[ -s out ] && fail "part: wrote a stream"
[ "$(cat err)" = "t2m-rename: <stdin>: dropping 'mha.key_proj.weight' breaks the t2m.reverse recipe for 'mha.in_proj_weight', which also needs 'mha.value_proj.weight': drop all of its parts or none" ] ||
    fail "part: stderr: $(cat err)"
# Damaged recipes are reported when they must be rewritten.
$PYTHON - <<'PY' || exit 3
import streamtool
head, recs = streamtool.parse(open("mlx", "rb").read())
m = streamtool.decode_manifest(recs[0].payload)
m["meta"] = [(k, v[:-5] if k == b"t2m.reverse" else v) for k, v in m["meta"]]
recs[0] = streamtool.Record(b"MANI", payload=streamtool.encode_manifest(m))
open("damaged", "wb").write(streamtool.build(recs, head))
PY
t2m-ls damaged > /dev/null || exit 3
t2m-rename -s =x < damaged > out 2> err
[ $? -eq 1 ] || fail "damaged: exit status"
[ "$(cat err)" = "t2m-rename: <stdin>: the t2m.reverse metadata is damaged" ] ||
    fail "damaged: stderr: $(cat err)"
exit $status
