# A file in MLX layout already, with no module tree to name its layers -
# t2m's own output once packed, or a quantized model as mlx-lm saves it -
# has its layers named from their tensors as MLX calls them: every layer
# found, nothing to convert, full coverage; parameters of no layer t2m
# can name are "Parameters", as in a PyTorch file.  The module tree, when
# there is one, still wins.
set -u
failed=0
fail() { echo "FAIL: $*"; failed=1; }
$PYTHON - <<'PY' || exit 1
import torch, torch.nn as nn
torch.manual_seed(0)
class M(nn.Module):
    def __init__(s):
        super().__init__()
        s.emb = nn.Embedding(10, 8)
        s.conv = nn.Conv1d(8, 8, 3)
        s.bn = nn.BatchNorm1d(8)
        s.lstm = nn.LSTM(8, 6, num_layers=2)
        s.gru = nn.GRU(8, 5)
        s.rnn = nn.RNN(8, 4, bidirectional=True)
        s.attn = nn.MultiheadAttention(8, 2)
        s.norm = nn.LayerNorm(8)
        s.head = nn.Linear(8, 3)
torch.save(M().state_dict(), "sd.pt")
torch.save(M(), "m.pt")
PY
t2m-unpack sd.pt | t2m-transpose 2> /dev/null | t2m-pack sd.st ||
    fail "sd.st: exit $?"
t2m-unpack m.pt | t2m-transpose | t2m-pack m.st || fail "m.st: exit $?"
# mlx-lm's 4-bit layout: packed weights, scales and biases.
$PYTHON - <<'PY' || fail "mlx-lm file"
import st
t = {}
def q(name, rows, cols):
    t[name + ".weight"] = ("U32", [rows, cols // 8], bytes(rows * cols // 2))
    t[name + ".scales"] = ("F16", [rows, cols // 64], bytes(rows * cols // 32))
    t[name + ".biases"] = ("F16", [rows, cols // 64], bytes(rows * cols // 32))
q("model.embed_tokens", 256, 128)
for p in ("q_proj", "k_proj", "v_proj", "o_proj"):
    q("model.layers.0.self_attn." + p, 128, 128)
t["model.layers.0.input_layernorm.weight"] = ("BF16", [128], bytes(256))
t["model.norm.weight"] = ("BF16", [128], bytes(256))
t["model.rope.inv_freq"] = ("F32", [8], bytes(32))
st.write("lm.st", t, metadata={"format": "mlx"})
PY
for f in sd m lm; do
    t2m-unpack $f.st | t2m-analyze -j > $f.json || fail "analyze $f.st: exit $?"
done
t2m-unpack m.pt | t2m-transpose | t2m-analyze -j > tree.json ||
    fail "analyze of the converted stream: exit $?"
$PYTHON - <<'PY' || fail "reports"
import json, sys
bad = []
def layers(f):
    r = json.load(open(f))
    if r["source"]["layout"] != "mlx":
        bad.append(f"{f}: layout {r['source']['layout']}")
    if r["coverage"]["layers"] != 1 or r["coverage"]["parameters"] != 1:
        bad.append(f"{f}: coverage {r['coverage']}")
    if r["blockers"]:
        bad.append(f"{f}: blockers {r['blockers']}")
    return {l["path"]: (l["torch"] or "").rsplit(".", 1)[-1]
            for l in r["layers"]}, {l["path"]: l["provenance"]
            for l in r["layers"]}
want = {"emb": "Embedding", "conv": "Conv1d", "bn": "BatchNorm",
        "lstm.0": "LSTM", "lstm.1": "LSTM", "gru.0": "GRU",
        "rnn.0": "RNN", "rnn.0_reverse": "RNN",
        "attn.query_proj": "Linear", "attn.key_proj": "Linear",
        "attn.value_proj": "Linear", "attn.out_proj": "Linear",
        "norm": "LayerNorm", "head": "Linear"}
cls, prov = layers("sd.json")
for k, v in want.items():
    if cls.get(k) != v or prov.get(k) != "inferred":
        bad.append(f"sd.st: {k} is {cls.get(k)!r} ({prov.get(k)}), not {v}")
# Layers of tensors kept only for the way back are none of their own.
for k in ("lstm", "gru", "rnn", "attn"):
    if cls.get(k):
        bad.append(f"sd.st: {k} has class {cls[k]!r}")
cls, prov = layers("m.json")
if cls.get("conv") != "Conv1d":
    bad.append(f"m.st: conv is {cls.get('conv')!r}")
cls, prov = layers("lm.json")
for k, v in {"model.embed_tokens": "Embedding",
             "model.layers.0.self_attn.q_proj": "Linear",
             "model.layers.0.self_attn.o_proj": "Linear",
             "model.layers.0.input_layernorm": "LayerNorm",
             "model.norm": "LayerNorm", "model.rope": "Parameters"}.items():
    if cls.get(k) != v:
        bad.append(f"lm.st: {k} is {cls.get(k)!r}, not {v}")
# The stream straight from t2m-transpose has the module tree's classes.
cls, prov = layers("tree.json")
for k, v in {"lstm": "LSTM", "attn": "MultiheadAttention",
             "conv": "Conv1d"}.items():
    if cls.get(k) != v or prov.get(k) != "file":
        bad.append(f"tree: {k} is {cls.get(k)!r} ({prov.get(k)})")
if bad:
    sys.exit("\n".join(bad))
PY
exit $failed
