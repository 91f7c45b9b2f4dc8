# torch2mlx.analyze(model) on the three validation models: the report
# t2m-analyze makes of the state dict with the type map, but for its
# source (<python>, torch-module); the same report export() returns;
# reachable as report.coverage and report["coverage"].  analyze(path)
# is t2m-analyze's report of the file.  A blocker is reported, not
# raised.
PYTHONPATH=$T2M_TOP/scripts/python:$T2M_TOP/tests/mlx:$PYTHONPATH
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE
exec "$PYTHON" - <<'EOF'
import json, subprocess, sys
import torch
import t2mref, torch2mlx

def fail(msg):
    sys.exit("FAIL: " + msg)

def cli(cmd):
    return json.loads(subprocess.run(cmd, shell=True, check=True,
                                     stdout=subprocess.PIPE).stdout)

for name in ("cnn", "transformer", "resnet"):
    model = t2mref.MODELS[name]["build"]()
    report = torch2mlx.analyze(model)
    if not isinstance(report, dict) or report.coverage is not \
            report["coverage"] or report.coverage.layers != 1 or \
            report.coverage["parameters"] != 1:
        fail(f"{name}: coverage not reachable: {report.get('coverage')}")
    if report.source != {"path": "<python>", "format": "torch-module",
                         "torch_version": None, "layout": "pytorch"}:
        fail(f"{name}: source {report.source}")

    torch.save(model.state_dict(), "sd.pt")
    torch.save(model, "full.pt")
    with open("map.json", "w") as f:
        json.dump({n: type(m).__module__ + "." + type(m).__name__
                   for n, m in model.named_modules()}, f)
    want = cli("t2m-unpack sd.pt | t2m-analyze -m map.json")
    mine = dict(report)
    del mine["source"], want["source"]
    if json.dumps(mine, sort_keys=True) != json.dumps(want, sort_keys=True):
        fail(f"{name}: report differs from t2m-analyze's")
    if torch2mlx.export(model, "out.safetensors").report != report:
        fail(f"{name}: export()'s report is not analyze()'s")
    if torch2mlx.analyze("full.pt") != cli("t2m-analyze full.pt"):
        fail(f"{name}: analyze(path) is not t2m-analyze's report")
    print(f"ok {name}: {len(report.layers)} layers, coverage "
          f"{report.coverage.layers}")

class Projected(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(4, 8, proj_size=3)
r = torch2mlx.analyze(Projected())
status = {l.path: l.status for l in r.layers}
if [b.kind for b in r.blockers] != ["proj_size"] or \
        status.get("lstm") != "unsupported":
    fail(f"LSTM proj_size: {r.blockers}, {status}")
print("ok blocker reported:", r.blockers[0].message)
EOF
