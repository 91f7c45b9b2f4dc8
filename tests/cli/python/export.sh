# torch2mlx.export(model, path) on the three validation models (small
# CNN, TransformerEncoder classifier, ResNet-style CNN of
# tests/mlx/t2mref.py): the file is byte for byte the command line's,
# from the pickled model (t2m-unpack full.pt | t2m-transpose | t2m-pack)
# and from the state dict with a type map (-m); the report comes with
# it; the file loads strictly into the MLX mirror (tests/mlx/t2mmirror.py)
# and computes PyTorch's outputs within 1e-5.  Real torch, real MLX.
"$MLX_PYTHON" -c 'import mlx.core' 2>/dev/null || {
	echo "MLX is missing in $MLX_PYTHON: run scripts/install-deps" >&2
	exit 1
}
PYTHONPATH=$T2M_TOP/scripts/python:$T2M_TOP/tests/mlx:$PYTHONPATH
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE
exec "$MLX_PYTHON" - <<'EOF'
import json, subprocess, sys
import mlx.core as mx
import numpy as np
import torch
import t2mmirror, t2mref, torch2mlx

def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)

def same(a, b):
    with open(a, "rb") as f, open(b, "rb") as g:
        if f.read() != g.read():
            sys.exit(f"FAIL: {a} and {b} differ")

# The stream's source is "<python>": no file, so no config.json beside
# it is read -- not even a broken one in the current directory.
import os
for name in ("cnn", "transformer", "resnet"):
    spec = t2mref.MODELS[name]
    model = spec["build"]()
    with open("config.json", "w") as f:
        f.write("{ not json")
    r = torch2mlx.export(model, f"{name}.safetensors")
    os.unlink("config.json")    # the command line's checkpoints are here
    assert r.path == f"{name}.safetensors", r.path
    assert r.report["schema"] == 1 and r.report.source.format == \
        "torch-module" and r.report.source.path == "<python>", r.report.source
    assert r.coverage == {"layers": 1, "parameters": 1}, r.coverage
    assert r.warnings == [], r.warnings

    torch.save(model, f"{name}.full.pt")
    torch.save(model.state_dict(), f"{name}.sd.pt")
    with open(f"{name}.map.json", "w") as f:
        json.dump({n: type(m).__module__ + "." + type(m).__name__
                   for n, m in model.named_modules()}, f)
    sh(f"t2m-unpack {name}.full.pt | t2m-transpose | "
       f"t2m-pack {name}.full.safetensors")
    sh(f"t2m-unpack {name}.sd.pt | t2m-transpose -m {name}.map.json | "
       f"t2m-pack {name}.map.safetensors")
    same(r.path, f"{name}.full.safetensors")
    same(r.path, f"{name}.map.safetensors")

    make, forward = t2mmirror.MIRRORS[name]
    mirror = make()
    mirror.load_weights(r.path, strict=True)
    mirror.eval()
    xs = spec["inputs"]()
    with torch.no_grad():
        want = model(*xs).numpy()
    got = forward(mirror, [x.numpy() for x in xs], mx.float32)
    diff = float(np.max(np.abs(got - want)))
    if not diff <= 1e-5:
        sys.exit(f"FAIL: {name}: MLX differs from PyTorch by {diff}")
    print(f"ok {name}: identical to the CLI's, MLX within {diff:.2g}")
EOF
