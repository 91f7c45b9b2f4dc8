# The round trip PyTorch -> MLX layout -> PyTorch on the PyTorch fixture
# corpus (scripts/gen-torch-fixtures.py, real torch 1.13): for every
# fixture t2m converts,
#     t2m-unpack [opts] x | t2m-transpose | t2m-pack y.safetensors
#     t2m-unpack y.safetensors | t2m-transpose -r | t2m-pack z.pt
# and torch.load(z.pt, weights_only=True) holds what torch.load(x) holds
# (its state_dict() for a model; expect.py's naming rules): the same
# names, dtypes, shapes and bits.  The one exception is t2m-transpose's
# documented one: float64 comes back as its float32 value widened.
set -eu
PYTHONDONTWRITEBYTECODE=1
PYTHONPATH=$T2M_TOP/tests/cli/pack:$PYTHONPATH
export PYTHONDONTWRITEBYTECODE PYTHONPATH
$PYTHON "$T2M_TOP/scripts/gen-torch-fixtures.py" corpus > gen.log 2>&1 ||
    { cat gen.log; exit 1; }
$PYTHON - corpus/*.json <<'PY'
import os, subprocess, sys
import numpy as np
import torch
import ptcheck
import expect


def widened(tab):
    """float64 as t2m-transpose brings it back: through float32."""
    out = {}
    for k, (d, s, b) in tab.items():
        if d == "F64":
            b = torch.from_numpy(np.frombuffer(b, "<f8").copy()).float() \
                .double().numpy().tobytes()
        out[k] = (d, s, b)
    return out


bad = done = 0
for j in sys.argv[1:]:
    fx = expect.read_fixture(j)
    if fx["expect"] != "ok":
        continue
    name = os.path.basename(j)[:-5]
    src = os.path.join(fx["_dir"], fx["file"])
    opts = " ".join(fx["options"])
    for cmd in (f"t2m-unpack {opts} '{src}' | t2m-transpose | "
                "t2m-pack y.safetensors",
                "t2m-unpack y.safetensors | t2m-transpose -r | "
                "t2m-pack z.pt"):
        r = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if r.returncode:
            break
    if r.returncode:
        print(f"FAIL {name}: {cmd}: {r.stdout.decode().strip()}")
        bad += 1
        continue
    want = widened(expect.expected(fx)[0])
    got, _ = ptcheck.load("z.pt")
    problems = ptcheck.compare(want, got)
    for p in problems[:5]:
        print(f"FAIL {name}: {p}")
    bad += bool(problems)
    done += 1
    os.remove("z.pt")
print(f"{done} fixtures round-tripped, {bad} failures")
if done < 50:
    print("FAIL: fewer fixtures than the corpus holds")
    bad += 1
sys.exit(1 if bad else 0)
PY
