# Wrappers that only prefix the state dict's names give the same file as
# the plain model, for the three validation models: torch.compile's
# OptimizedModule ("_orig_mod."; torch 1.13 has no torch.compile, so a
# module built as torch 2's is: an nn.Module holding the model as
# _orig_mod), nn.DataParallel on the CPU and DistributedDataParallel
# (gloo, one process) ("module."), and the two nested.  A decorated
# model run through DataParallel converts itself.  A module of the
# user's own with one child called "module" is not unwrapped.
PYTHONPATH=$T2M_TOP/scripts/python:$T2M_TOP/tests/mlx:$PYTHONPATH
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE
exec "$PYTHON" - <<'EOF'
import os, subprocess, sys, tempfile
import torch
import torch.distributed as dist
from torch import nn
import t2mref, torch2mlx

def fail(msg):
    sys.exit("FAIL: " + msg)

def same(a, b):
    with open(a, "rb") as f, open(b, "rb") as g:
        if f.read() != g.read():
            fail(f"{a} and {b} differ")

class OptimizedModule(nn.Module):
    """torch._dynamo.eval_frame.OptimizedModule's shape, as torch 2.x
    builds it: the model as the child _orig_mod, the compiled forward
    an attribute."""
    def __init__(self, mod, dynamo_ctx=None):
        super().__init__()
        self._orig_mod = mod
        self.dynamo_ctx = dynamo_ctx
        self.forward = mod.forward

dist.init_process_group("gloo", rank=0, world_size=1, init_method="file://"
                        + os.path.join(os.getcwd(), "rendezvous"))
for name in ("cnn", "transformer", "resnet"):
    model = t2mref.MODELS[name]["build"]()
    plain = torch2mlx.export(model, "plain.safetensors").path
    wraps = {"compiled": OptimizedModule(model),
             "dataparallel": nn.DataParallel(model),
             "ddp": nn.parallel.DistributedDataParallel(model),
             "compiled-dataparallel": OptimizedModule(nn.DataParallel(model)),
             "dataparallel-compiled": nn.DataParallel(OptimizedModule(model))}
    for what, w in wraps.items():
        first = next(iter(w.state_dict()))
        if not first.startswith(("_orig_mod.", "module.")):
            fail(f"{name} {what}: the wrapper adds no prefix: {first}")
        if torch2mlx.unwrap(w) is not model:
            fail(f"{name} {what}: unwrap() did not find the model")
        same(torch2mlx.export(w, f"{what}.safetensors").path, plain)
        if torch2mlx.analyze(w) != torch2mlx.analyze(model):
            fail(f"{name} {what}: analyze() differs")
    print(f"ok {name}: {', '.join(wraps)} give the plain model's file")
dist.destroy_process_group()

# A decorated model run through DataParallel converts itself, unprefixed.
torch2mlx.export("dec.safetensors")(t2mref.SmallCNN)
model = t2mref.MODELS["cnn"]["build"]()     # converts on its forward
os.remove("dec.safetensors")
torch.manual_seed(0)
fresh = t2mref.SmallCNN()
fresh.load_state_dict(model.state_dict())
with torch.no_grad():
    nn.DataParallel(fresh)(torch.randn(2, 1, 16, 16))
torch2mlx.export(model, "plain.safetensors")
same("dec.safetensors", "plain.safetensors")
print("ok a decorated model under DataParallel")

# Not a wrapper: a module of the user's with a child called "module".
class Holder(nn.Module):
    def __init__(self):
        super().__init__()
        self.module = nn.Linear(3, 2)
torch2mlx.export(Holder(), "holder.safetensors")
names = subprocess.run("t2m-unpack holder.safetensors | t2m-ls",
                       shell=True, check=True, stdout=subprocess.PIPE,
                       text=True).stdout
if "module.weight" not in names:
    fail(f"a user's module was unwrapped: {names}")
print("ok a module's own child called module is kept")
EOF
