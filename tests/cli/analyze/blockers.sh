# Blockers found without Python: a TorchScript model's in-place ops, out=
# argument and .item() with file and line; an LSTM's proj_size and
# attention's bias_k/add_zero_attn naming the module; a torchvision-style
# ResNet (pickled whole) has coverage 1.0 and no blockers.
set -eu
cat > models.py <<'PY'
import torch, torch.nn as nn
class InPlace(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.register_buffer("scale", torch.ones(2))
    def forward(self, x):
        y = self.fc(x)
        y.mul_(self.scale)
        z = torch.zeros(2)
        torch.add(y, y, out=z)
        n = int(y.sum().item())
        return torch.clamp_(y, 0.0) + n + z
class Block(nn.Module):
    def __init__(self, c, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(c // stride, c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.downsample = None if stride == 1 else nn.Sequential(
            nn.Conv2d(c // stride, c, 1, stride, bias=False), nn.BatchNorm2d(c))
    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + idt)
class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(Block(8), Block(8))
        self.layer2 = nn.Sequential(Block(16, 2), Block(16))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16, 10)
PY
$PYTHON - <<'PY'
import torch, torch.nn as nn, models
torch.jit.save(torch.jit.script(models.InPlace()), "inplace.pt")
torch.save(nn.Sequential(nn.Linear(4, 4), nn.LSTM(4, 8, proj_size=3)), "proj.pt")
torch.save(nn.Sequential(nn.MultiheadAttention(8, 2, add_bias_kv=True,
                                               add_zero_attn=True)), "attn.pt")
torch.save(models.ResNet(), "resnet.pt")
PY
t2m-analyze inplace.pt > inplace.json
t2m-analyze proj.pt > proj.json
t2m-analyze attn.pt > attn.json
t2m-analyze resnet.pt > resnet.json
$PYTHON - <<'PY'
import json
b = json.load(open("inplace.json"))["blockers"]
got = sorted((x["kind"], x["where"]) for x in b)
kinds = sorted(k for k, _ in got)
assert kinds == ["inplace", "inplace", "item", "out"], got
for k, w in got:
    assert w.startswith("code/__torch__/models.py:"), w
p = json.load(open("proj.json"))
assert [(x["kind"], x["where"]) for x in p["blockers"]] == [("proj_size", "1")], p["blockers"]
l = [x for x in p["layers"] if x["path"] == "1"][0]
assert l["status"] == "unsupported" and "proj_size" in l["reason"], l
a = json.load(open("attn.json"))
assert sorted(x["kind"] for x in a["blockers"]) == ["add_zero_attn", "bias_kv"], a["blockers"]
r = json.load(open("resnet.json"))
assert r["coverage"] == {"layers": 1, "parameters": 1}, r["coverage"]
assert r["blockers"] == [], r["blockers"]
assert [x["status"] for x in r["layers"] if x["path"] == "avgpool"] == ["attention"]
PY
# Each in-place finding points at a line of the archive's code holding it.
$PYTHON - <<'PY'
import json, zipfile
z = zipfile.ZipFile("inplace.pt")
code = {n.split("/", 1)[1]: z.read(n).decode() for n in z.namelist()
        if n.endswith(".py")}
for b in json.load(open("inplace.json"))["blockers"]:
    f, line = b["where"].rsplit(":", 1)
    text = code[f].split("\n")[int(line) - 1]
    op = {"inplace": ("mul_", "clamp_"), "item": ("item",), "out": ("out=",)}[b["kind"]]
    assert any(o in text for o in op), (b, text)
PY
