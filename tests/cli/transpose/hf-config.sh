# A Hugging Face checkpoint with its config.json beside it: GPT-2's
# model_type says c_attn, c_proj and c_fc are Conv1D, whose weight
# (in, out) MLX's Linear holds as (out, in).  The config is found beside
# the file t2m-unpack read, or given with -c; without it the 2-D weights
# stay as they are (a Linear's layout).
set -eu
mkdir hub
$PYTHON - <<'PY'
import json, torch
torch.manual_seed(3)
sd = {
    "wte.weight": torch.randn(50, 8), "wpe.weight": torch.randn(16, 8),
    "h.0.ln_1.weight": torch.ones(8), "h.0.ln_1.bias": torch.zeros(8),
    "h.0.attn.c_attn.weight": torch.randn(8, 24),
    "h.0.attn.c_attn.bias": torch.randn(24),
    "h.0.attn.c_proj.weight": torch.randn(8, 8),
    "h.0.attn.c_proj.bias": torch.randn(8),
    "h.0.mlp.c_fc.weight": torch.randn(8, 32), "h.0.mlp.c_fc.bias": torch.randn(32),
    "h.0.mlp.c_proj.weight": torch.randn(32, 8),
    "h.0.mlp.c_proj.bias": torch.randn(8),
}
torch.save(sd, "hub/pytorch_model.bin")
json.dump({"model_type": "gpt2", "n_embd": 8}, open("hub/config.json", "w"))
json.dump({"model_type": "bert"}, open("other.json", "w"))
PY
t2m-unpack hub/pytorch_model.bin | t2m-transpose | t2m-pack beside.st
cat hub/pytorch_model.bin | t2m-unpack | t2m-transpose -c hub/config.json |
    t2m-pack given.st
cmp beside.st given.st
cat hub/pytorch_model.bin | t2m-unpack | t2m-transpose | t2m-pack none.st
t2m-unpack hub/pytorch_model.bin | t2m-transpose -c other.json |
    t2m-pack bert.st
$PYTHON - <<'PY'
import numpy as np, torch, st
sd = torch.load("hub/pytorch_model.bin")
def get(f, k):
    d, shape, raw = st.read(f)[1][k]
    return torch.from_numpy(np.frombuffer(raw, "<f4").reshape(shape).copy())
for k in ["h.0.attn.c_attn.weight", "h.0.attn.c_proj.weight",
          "h.0.mlp.c_fc.weight", "h.0.mlp.c_proj.weight"]:
    assert torch.equal(get("beside.st", k), sd[k].t()), k
    assert torch.equal(get("none.st", k), sd[k]), k
    assert torch.equal(get("bert.st", k), sd[k]), k
for k in ["wte.weight", "h.0.attn.c_attn.bias"]:
    assert torch.equal(get("beside.st", k), sd[k]), k
PY
# Each Conv1D says where its class came from.
t2m-unpack hub/pytorch_model.bin | t2m-transpose | t2m-ls -l > ls.txt
grep -A4 '^module h.0.attn.c_attn$' ls.txt | grep -q 'provenance=config'
grep -A4 '^module h.0.attn.c_attn$' ls.txt |
    grep -q 'class=transformers.pytorch_utils.Conv1D'
