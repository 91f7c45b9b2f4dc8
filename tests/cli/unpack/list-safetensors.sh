# -l of a safetensors file lists what the stream would hold, as a pickle's
# listing does: each tensor with its type and shape, the tie t2m-pack wrote
# once and the tensor it kept hidden among them.
set -e
$PYTHON - <<'PY'
import torch
torch.manual_seed(0)
m = torch.nn.Module()
m.emb = torch.nn.Embedding(5, 3)
m.head = torch.nn.Linear(3, 5, bias=False)
m.head.weight = m.emb.weight
m.bn = torch.nn.BatchNorm1d(2)
torch.save(m.state_dict(), "m.pt")
PY
t2m-unpack -l m.pt
t2m-unpack m.pt | t2m-transpose | t2m-pack m.safetensors
t2m-unpack -l m.safetensors
t2m-unpack m.safetensors | t2m-pack -s 60 shards
t2m-unpack -l shards
