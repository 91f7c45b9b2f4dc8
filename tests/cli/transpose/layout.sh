# The layouts themselves, against values computed here with torch: conv
# weights channels last, ConvTranspose's (I,O,k) to (O,k,I), Bilinear,
# attention split, LSTM and GRU biases merged, weight norm folded.
set -eu
$PYTHON - <<'PY'
import json, torch, torch.nn as nn
torch.manual_seed(2)
m = nn.Sequential()
m.add_module("conv", nn.Conv2d(3, 8, 3))
m.add_module("convt", nn.ConvTranspose1d(4, 6, 5))
m.add_module("bil", nn.Bilinear(5, 6, 7))
m.add_module("mha", nn.MultiheadAttention(16, 4))
m.add_module("lstm", nn.LSTM(10, 16))
m.add_module("gru", nn.GRU(10, 12))
m.add_module("wn", nn.utils.weight_norm(nn.Conv1d(4, 5, 3)))
torch.save(m, "full.pt")
PY
t2m-unpack full.pt | t2m-transpose | t2m-pack mlx.st
$PYTHON - <<'PY'
import sys, numpy as np, torch, st
m = torch.load("full.pt")
meta, out, _ = st.read("mlx.st")
def got(k):
    d, shape, raw = out[k]
    return torch.from_numpy(np.frombuffer(raw, "<f4").reshape(shape).copy())
def same(k, want, exact=True):
    g = got(k)
    assert tuple(g.shape) == tuple(want.shape), (k, g.shape, want.shape)
    if exact:
        assert torch.equal(g, want.contiguous()), k
    else:
        assert torch.allclose(g, want, atol=1e-6), (k, (g - want).abs().max())
same("conv.weight", m.conv.weight.permute(0, 2, 3, 1))
same("convt.weight", m.convt.weight.permute(1, 2, 0))
same("bil.weight", m.bil.weight.permute(0, 2, 1))
E = 16
for i, p in enumerate(["query_proj", "key_proj", "value_proj"]):
    same(f"mha.{p}.weight", m.mha.in_proj_weight[i * E:(i + 1) * E])
    same(f"mha.{p}.bias", m.mha.in_proj_bias[i * E:(i + 1) * E])
same("lstm.0.Wx", m.lstm.weight_ih_l0)
same("lstm.0.Wh", m.lstm.weight_hh_l0)
same("lstm.0.bias", m.lstm.bias_ih_l0 + m.lstm.bias_hh_l0)
H = 12
same("gru.0.b", torch.cat([m.gru.bias_ih_l0[:2 * H] + m.gru.bias_hh_l0[:2 * H],
                           m.gru.bias_ih_l0[2 * H:]]))
same("gru.0.bhn", m.gru.bias_hh_l0[2 * H:])
w = torch._weight_norm(m.wn.weight_v, m.wn.weight_g, 0)
same("wn.weight", w.permute(0, 2, 1), exact=False)
for k in ["lstm.bias_ih_l0", "wn.weight_g", "mha.in_proj_weight"]:
    assert k not in out, k
PY
