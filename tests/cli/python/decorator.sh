# @torch2mlx.export(path) on the classes of the three validation models:
# each instance converts when its first forward() returns, to the file
# the command line makes, which computes PyTorch's outputs in MLX; and
# again on model.export(), which cancels the pending conversion.  The
# model is untouched: outputs equal to the undecorated class's, nothing
# registered on the instance (its __dict__, hooks, deep copies and
# TorchScript are the plain class's), the global hook gone once no
# instance waits.  Real torch, real MLX.
"$MLX_PYTHON" -c 'import mlx.core' 2>/dev/null || {
	echo "MLX is missing in $MLX_PYTHON: run scripts/install-deps" >&2
	exit 1
}
PYTHONPATH=$T2M_TOP/scripts/python:$T2M_TOP/tests/mlx:$PYTHONPATH
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE
exec "$MLX_PYTHON" - <<'EOF'
import copy, os, subprocess, sys, warnings
import mlx.core as mx
import numpy as np
import torch
from torch.nn.modules import module as tmodule
import t2mmirror, t2mref, torch2mlx

warnings.filterwarnings("ignore", category=UserWarning, module="torch.jit")

def fail(msg):
    sys.exit("FAIL: " + msg)

def same(a, b):
    with open(a, "rb") as f, open(b, "rb") as g:
        if f.read() != g.read():
            fail(f"{a} and {b} differ")

CLASSES = {"cnn": t2mref.SmallCNN, "transformer":
           t2mref.TransformerClassifier, "resnet": t2mref.ResNet}
for name, cls in CLASSES.items():
    spec = t2mref.MODELS[name]
    plain = spec["build"]()                 # before decorating
    torch.save(plain, f"{name}.full.pt")
    subprocess.run(f"t2m-unpack {name}.full.pt | t2m-transpose | "
                   f"t2m-pack {name}.cli.safetensors", shell=True,
                   check=True)

    assert torch2mlx.export(f"{name}.safetensors")(cls) is cls
    torch.manual_seed(0)
    armed = cls()
    if armed.exported is not None or os.path.exists(f"{name}.safetensors"):
        fail(f"{name}: converted before its first forward")
    if set(vars(armed)) != set(vars(plain)) or armed._forward_hooks or \
            armed._forward_pre_hooks:
        fail(f"{name}: something was registered on the instance")
    if not tmodule._global_forward_hooks:
        fail(f"{name}: no global hook while an instance waits")
    if spec["ts"] == "script":
        torch.jit.script(armed)             # TorchScript still works
    copy.deepcopy(armed)                    # and copies

    # build() runs the model (resnet's first forward is in training
    # mode, warming BatchNorm up): it has converted.
    model = spec["build"]()
    if model.exported is None:
        fail(f"{name}: build()'s forward did not convert")

    # Given the weights with load_state_dict, in eval mode: its first
    # forward converts to the CLI's file, and returns the plain model's
    # outputs, bit for bit.
    xs = spec["inputs"]()
    fresh = cls()
    fresh.load_state_dict(plain.state_dict())
    fresh.eval()
    with torch.no_grad():
        first = fresh(*xs)                  # converts
        want = plain(*xs)
        again = fresh(*xs)
    r = fresh.exported
    if r is None or r.path != f"{name}.safetensors":
        fail(f"{name}: the first forward did not convert: {r}")
    same(r.path, f"{name}.cli.safetensors")
    if r.coverage != {"layers": 1, "parameters": 1}:
        fail(f"{name}: coverage {r.coverage}")
    if not torch.equal(first, want) or not torch.equal(again, want):
        fail(f"{name}: outputs differ from the undecorated model's")

    # In MLX.
    make, forward = t2mmirror.MIRRORS[name]
    mirror = make()
    mirror.load_weights(r.path, strict=True)
    mirror.eval()
    got = forward(mirror, [x.numpy() for x in xs], mx.float32)
    diff = float(np.max(np.abs(got - want.numpy())))
    if not diff <= 1e-5:
        fail(f"{name}: MLX differs from PyTorch by {diff}")

    # model.export(): now, to its path or another; no second conversion
    # on the first forward after it.
    m = cls()
    m.load_state_dict(plain.state_dict())
    m.eval()
    e = m.export(f"{name}.explicit.safetensors")
    same(e.path, f"{name}.cli.safetensors")
    os.remove(e.path)
    with torch.no_grad():
        m(*xs)
    if os.path.exists(e.path) or m.exported is not e:
        fail(f"{name}: converted again after model.export()")
    if m.export().path != f"{name}.safetensors":
        fail(f"{name}: model.export() did not default to the decorator's")
    print(f"ok {name}: converted on the first forward and on export(), "
          f"identical to the CLI's, MLX within {diff:.2g}")

# Every instance made above has converted or been collected: no hook.
del armed
import gc; gc.collect()
torch.manual_seed(0)
t2mref.SmallCNN()(torch.randn(1, 1, 16, 16))   # converts the last one
if tmodule._global_forward_hooks:
    fail("the global hook stays registered when no instance waits")

# A subclass of a decorated class, decorated again: its own path, once.
@torch2mlx.export("sub.safetensors")
class Sub(t2mref.SmallCNN):
    pass
os.remove("cnn.safetensors")
s = Sub()
s(torch.randn(1, 1, 16, 16))
if s.exported.path != "sub.safetensors" or os.path.exists("cnn.safetensors"):
    fail(f"subclass: {s.exported}")

# What the decorator refuses.
for bad, what in ((lambda: torch2mlx.export(t2mref.SmallCNN),
                   "no path"),
                  (lambda: torch2mlx.export("x.safetensors")(int),
                   "not a module class")):
    try:
        bad()
        fail(f"decorator accepted {what}")
    except TypeError:
        pass
class Own(torch.nn.Module):
    def export(self):
        return "mine"
try:
    torch2mlx.export("own.safetensors")(Own)
    fail("decorator replaced a class's own export()")
except TypeError as e:
    assert "already has 'export'" in str(e), e
print("ok subclass, refusals, hook removed")
EOF
