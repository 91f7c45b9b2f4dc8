# Tied and viewed tensors: torch.save keeps one storage for tensors that
# share it.  The stream carries each as a tensor of its own, the second
# name of a tied pair marked t2m.tie; the checkpoint t2m-pack writes
# gives the tied pair one storage again, as torch.save does, and each
# other tensor a storage of its own (a view is written as its values).
# With -d, every tensor has a storage of its own.
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
t2m-unpack tied.pt | t2m-pack -d apart.pt
$PYTHON - <<'PY'
import sys
import torch
import ptcheck
src = torch.load("tied.pt")
flat = {f"model.{k}": v for k, v in src.pop("model").items()}
flat.update(src)
want = ptcheck.table(flat)
bad = []
for path, keys in (("out.pt", [0, 2, 3, 4]), ("apart.pt", 5)):
    got, sd = ptcheck.load(path)
    bad += [f"{path}: {b}" for b in ptcheck.compare(want, got)]
    ptr = {k: t.storage().data_ptr() for k, t in sd.items()}
    shared = ptr["model.0.weight"] == ptr["model.1.weight"]
    if shared != (path == "out.pt") or len(set(ptr.values())) != \
            len(ptr) - shared:
        bad.append(f"{path}: storages {ptr}")
    bad += [f"{path}: {b}" for b in ptcheck.zip_problems(
        path, path[:-3], keys)]
    if len(sd) != 5:
        bad.append(f"{path}: {len(sd)} tensors")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
