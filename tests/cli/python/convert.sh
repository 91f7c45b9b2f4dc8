# torch2mlx.convert(src, dst): a checkpoint file to an MLX safetensors
# file, as t2m-unpack src | t2m-transpose | t2m-pack dst makes it, with
# the report; typemap= (a module, a dict or a JSON file) for a state
# dict, which then gives export()'s file; key= for a part of a
# checkpoint (t2m-unpack -k); os.fspath(result) is the path.
PYTHONPATH=$T2M_TOP/scripts/python:$T2M_TOP/tests/mlx:$PYTHONPATH
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE
exec "$PYTHON" - <<'EOF'
import json, os, subprocess, sys
import torch
import t2mref, torch2mlx

def fail(msg):
    sys.exit("FAIL: " + msg)

def read(p):
    with open(p, "rb") as f:
        return f.read()

model = t2mref.MODELS["resnet"]["build"]()
torch.save(model, "full.pt")
torch.save({"epoch": 3, "model": model.state_dict()}, "ckpt.pt")
with open("map.json", "w") as f:
    json.dump(torch2mlx.typemap(model), f)
subprocess.run("t2m-unpack full.pt | t2m-transpose | t2m-pack cli.safetensors",
               shell=True, check=True)
r = torch2mlx.convert("full.pt", "a.safetensors")
if read("a.safetensors") != read("cli.safetensors") or \
        os.fspath(r) != "a.safetensors" or r.coverage.layers != 1 or \
        r.report.source.path != "full.pt" or r.warnings:
    fail(f"convert: {r!r} {r.report.source} {r.warnings}")
for tm in (model, torch2mlx.typemap(model), "map.json"):
    r = torch2mlx.convert("ckpt.pt", "b.safetensors", key="model",
                          typemap=tm)
    if read("b.safetensors") != read("cli.safetensors"):
        fail(f"convert with typemap {type(tm).__name__} and key")
if torch2mlx.export(model, "c.safetensors").report.plan != r.report.plan:
    fail("convert()'s plan is not export()'s")
print("ok convert: the CLI's file, from a pickled model and from a state "
      "dict with a type map")

# Without the type map, the heuristics' guesses are warnings.
torch.save(torch.nn.ConvTranspose2d(2, 3, 2).state_dict(), "ct.pt")
import warnings
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    r = torch2mlx.convert("ct.pt", "ct.safetensors")
if not r.warnings or "taken as Conv2d" not in r.warnings[0] or \
        [str(x.message) for x in w] != r.warnings or \
        w[0].category is not torch2mlx.ConversionWarning:
    fail(f"warnings: {r.warnings} {[str(x.message) for x in w]}")
print("ok warning:", r.warnings[0])
EOF
