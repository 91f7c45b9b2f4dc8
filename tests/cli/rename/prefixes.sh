# The prefixes training wrappers add - _orig_mod. (torch.compile),
# module. (DataParallel, DDP), model. (Lightning) - stripped with -p give
# the very safetensors file the plain model gives; -u finds _orig_mod.
# and module. by itself, nested either way, and leaves model. and a
# prefix only some tensors carry alone.
set -eu
$PYTHON - <<'PY'
import torch, torch.nn as nn
torch.manual_seed(4)
m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(),
                  nn.Linear(16, 5))
sd = m.state_dict()
torch.save(sd, "plain.pt")
def wrap(prefix, path):
    torch.save({prefix + k: v for k, v in sd.items()}, path)
wrap("_orig_mod.", "compiled.pt")
wrap("module.", "ddp.pt")
wrap("module._orig_mod.", "ddp-compiled.pt")
wrap("_orig_mod.module.", "compiled-ddp.pt")
wrap("model.", "hf.pt")
torch.save({"epoch": 1, "state_dict": {"model." + k: v for k, v in sd.items()}},
           "lightning.ckpt")
part = {("module." + k if k.startswith("0.") else k): v for k, v in sd.items()}
torch.save(part, "part.pt")
PY
t2m-unpack plain.pt | t2m-pack plain.st
# The wrapped files really differ, or the comparisons below prove nothing.
t2m-unpack ddp.pt | t2m-pack ddp-as-is.st
! cmp -s plain.st ddp-as-is.st

same() {	# same FILE OPTIONS...: FILE renamed packs to plain.st
	f=$1
	shift
	t2m-unpack "$f" | t2m-rename "$@" | t2m-pack out.st
	cmp plain.st out.st || { echo "$f $*: differs"; exit 1; }
}
same compiled.pt -p _orig_mod.
same compiled.pt -p _orig_mod
same ddp.pt -p module.
same ddp-compiled.pt -p module. -p _orig_mod.
same compiled-ddp.pt -p _orig_mod. -p module.
same hf.pt -p model.
same lightning.ckpt -p model.
same compiled.pt -u
same ddp.pt -u
same ddp-compiled.pt -u
same compiled-ddp.pt -u
same plain.pt -u
same plain.pt

# -p strips once, in the order given: the wrong order leaves one.
t2m-unpack ddp-compiled.pt | t2m-rename -p _orig_mod. -p module. | t2m-ls |
    head -1 | grep -q ' _orig_mod\.0\.weight$'
# -u leaves model. and a prefix not every tensor has.
t2m-unpack hf.pt | t2m-rename -u | t2m-pack hf-u.st
t2m-unpack hf.pt | t2m-pack hf-as-is.st
cmp hf-u.st hf-as-is.st
t2m-unpack part.pt | t2m-rename -u | t2m-ls > part.txt
grep -q ' module\.0\.weight$' part.txt
grep -q ' 3\.weight$' part.txt
# -p strips only from the names that have the prefix.
t2m-unpack part.pt | t2m-rename -p module | t2m-pack out.st
cmp plain.st out.st
