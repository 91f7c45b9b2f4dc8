# Tied and viewed tensors: torch.save keeps one storage for tensors that
# share it; the stream carries each as a tensor of its own, and the
# checkpoint t2m-pack writes gives each a storage of its own, with the
# same values.  Also a module's state_dict() with a tied embedding.
set -eu
PYTHONDONTWRITEBYTECODE=1
PYTHONPATH=$T2M_TOP/tests/cli/pack:$PYTHONPATH
export PYTHONDONTWRITEBYTECODE PYTHONPATH
$PYTHON - <<'PY'
import torch
torch.manual_seed(0)
emb = torch.nn.Embedding(7, 4)
head = torch.nn.Linear(4, 7, bias=False)
head.weight = emb.weight
m = torch.nn.Sequential(emb, head)
base = torch.arange(24.0)
torch.save({"model": m.state_dict(), "base": base, "view": base[2:10:2],
            "t": base.reshape(4, 6).t()}, "tied.pt")
PY
t2m-unpack tied.pt | t2m-pack out.pt
$PYTHON - <<'PY'
import sys
import torch
import ptcheck
src = torch.load("tied.pt")
flat = {f"model.{k}": v for k, v in src.pop("model").items()}
flat.update(src)
want = ptcheck.table(flat)
got, sd = ptcheck.load("out.pt")
bad = ptcheck.compare(want, got)
ptrs = {t.storage().data_ptr() for t in sd.values()}
if len(ptrs) != len(sd):
    bad.append(f"{len(sd)} tensors share {len(ptrs)} storages")
bad += ptcheck.zip_problems("out.pt", "out", len(sd))
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad or len(sd) != 5 else 0)
PY
