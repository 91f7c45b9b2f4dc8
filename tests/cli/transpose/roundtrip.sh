# PyTorch -> MLX layout -> PyTorch is bit-identical, whatever told
# t2m-transpose the layer classes (the module tree of a pickled model, a
# type map, the heuristics), through a stream and through a safetensors
# file; converting a converted file again changes nothing.
set -eu
$PYTHON - <<'PY'
import json, torch, torch.nn as nn
torch.manual_seed(1)
m = nn.Sequential()
m.add_module("conv", nn.Conv2d(3, 8, 3))
m.add_module("convt", nn.ConvTranspose2d(8, 4, 3, stride=2))
m.add_module("c1", nn.Conv1d(4, 6, 5, groups=2))
m.add_module("c3", nn.Conv3d(2, 3, (2, 3, 4)))
m.add_module("bn", nn.BatchNorm2d(8))
m.add_module("lstm", nn.LSTM(10, 16, num_layers=2))
m.add_module("gru", nn.GRU(10, 12, bidirectional=True))
m.add_module("rnn", nn.RNN(10, 7, nonlinearity="relu", bias=False))
m.add_module("mha", nn.MultiheadAttention(16, 4))
m.add_module("mha2", nn.MultiheadAttention(16, 2, kdim=10, vdim=12))
m.add_module("bil", nn.Bilinear(5, 6, 7))
m.add_module("wn", nn.utils.weight_norm(nn.Conv1d(4, 5, 3)))
m.add_module("inorm", nn.InstanceNorm1d(4, affine=True,
                                        track_running_stats=True))
m.add_module("emb", nn.Embedding(20, 16))
m.add_module("head", nn.Linear(16, 3).double())
torch.save(m, "full.pt")
torch.save(m.state_dict(), "sd.pt")
json.dump({n: type(x).__module__ + "." + type(x).__name__
           for n, x in m.named_modules()}, open("map.json", "w"))
PY
check() {	# check FILE.safetensors: exactly sd.pt's tensors, bit for bit
	$PYTHON - "$1" <<'PY'
import sys, torch, st
sd = torch.load("sd.pt")
meta, out, _ = st.read(sys.argv[1])
bad = [k for k in sd if k not in out or out[k][1] != tuple(sd[k].shape) or
       out[k][2] != sd[k].contiguous().numpy().tobytes()]
extra = sorted(set(out) - set(sd))
if bad or extra:
    sys.exit(f"{sys.argv[1]}: differs {bad}, extra {extra}")
PY
}
t2m-unpack full.pt | t2m-transpose | t2m-pack a.st
t2m-unpack sd.pt | t2m-transpose -m map.json | t2m-pack b.st
t2m-unpack sd.pt | t2m-transpose 2> warnings | t2m-pack c.st
# The module tree and the type map give the same file.
cmp a.st b.st
# Heuristics take the ConvTranspose for a Conv, and say so.
grep -q "'convt.weight': a 4-D weight, taken as Conv2d" warnings
# There and back, in a pipeline and through the file.
t2m-unpack sd.pt | t2m-transpose -m map.json | t2m-transpose -r |
    t2m-pack back1.st
check back1.st
t2m-unpack b.st | t2m-transpose -r | t2m-pack back2.st
check back2.st
t2m-unpack c.st | t2m-transpose -r | t2m-pack back3.st
# Float64 comes back as float32 widened: all but head.* bit for bit.
$PYTHON - <<'PY'
import sys, torch, st
sd = torch.load("sd.pt")
meta, out, _ = st.read("back3.st")
for k, v in sd.items():
    want = v.contiguous().numpy().tobytes()
    if k.startswith("head."):
        assert out[k][0] == "F64", k
        want = v.float().double().numpy().tobytes()
    assert out[k][2] == want, k
PY
# Converting a converted file changes nothing.
t2m-unpack b.st | t2m-transpose | t2m-pack again.st
cmp b.st again.st
