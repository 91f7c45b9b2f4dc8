# The table (-t) says what the JSON report says: made here from the JSON
# as the table is laid out, it must match byte for byte - from a
# checkpoint, from a stream, from a converted stream and with -p - for
# models with every status, blockers, warnings, non-ASCII and long paths.
set -eu
$PYTHON - <<'PY'
import collections
import torch, torch.nn as nn

class Own(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(3))
        self.inner = nn.Linear(3, 3)

class Odd(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(2))

class Zoo(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.lstm = nn.LSTM(4, 6, proj_size=2)
        self.attn = nn.MultiheadAttention(8, 2, add_bias_kv=True,
                                          add_zero_attn=True)
        self.up = nn.ConvTranspose2d(4, 4, 3, groups=2)
        self.bn3 = nn.BatchNorm3d(2)
        self.ln = nn.LayerNorm([3, 4])
        self.own = Own()
        self.odd = Odd()
        self.d = nn.ModuleDict({"\u00e9t\u00e9": nn.Linear(2, 2),
                                "a_rather_long_module_name_for_the_layer_column_x":
                                nn.Sequential(nn.Linear(2, 2))})
        self.z = nn.Parameter(torch.zeros(2, dtype=torch.complex64))

torch.save(Zoo(), "zoo.pt")
# Its state dict alone, sorted as safetensors files are (a module's own
# tensors apart), without the LSTM no heuristic names.
sd = Zoo().state_dict()
torch.save(collections.OrderedDict((k, sd[k]) for k in sorted(sd)
                                   if not k.startswith("lstm.")), "sd.pt")
# One t2m-transpose converts.
torch.save(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.LSTM(4, 4),
                         nn.MultiheadAttention(4, 2), Own(), nn.LayerNorm(4)),
           "net.pt")
# 3-D and 4-D weights of no known class: the heuristics warn.
torch.save({"enc.weight": torch.ones(4, 3, 2), "dec.weight": torch.ones(2, 2, 1, 1)},
           "guess.pt")
PY
cat > table.py <<'PY'
# The table, made from the JSON report as t2m-analyze(1) lays it out:
# columns as wide as their longest entry (at least the heading, at most
# 48 bytes), widths and padding in bytes.
import json, sys

r = json.load(open(sys.argv[1]))
out = []
def p(s):
    out.append(s.encode() if isinstance(s, str) else s)
def b(s):
    return s.encode()
def short(q):
    return "-" if q is None else q.rsplit(".", 1)[-1]
def mlx(q):
    return "-" if q is None else q[7:] if q.startswith("mlx.nn.") else q
src, ts, cov = r["source"], r["tensors"], r["coverage"]
p("source    %s (%s, %s layout)\n" % (src["path"] or "?", src["format"] or "?",
                                      src["layout"]))
p("tensors   %.0f (%.0f parameters, %.0f bytes:" % (ts["count"], ts["parameters"],
                                                    ts["bytes"]))
for k, d in ts["dtypes"].items():
    p(" %s %.0f" % (k, d["count"]))
p(")\ncoverage  %.1f%% of layers, %.1f%% of parameters\n" %
  (100 * cov["layers"], 100 * cov["parameters"]))
rows = [[b(l["path"]), b(short(l["torch"])), b(mlx(l["mlx"])), b(l["rule"] or "-"),
         b(l["status"]), b(l["provenance"]), l.get("reason")] for l in r["layers"]]
w = [5, 5, 3, 4, 6]
for row in rows:
    for i in range(5):
        if len(row[i]) > w[i]:
            w[i] = min(len(row[i]), 48)
heads = [b"LAYER", b"TORCH", b"MLX", b"RULE", b"STATUS"]
p(b"\n" + b"  ".join(h.ljust(w[i]) for i, h in enumerate(heads)) + b"  FROM\n")
for row in rows:
    p(b"  ".join(row[i].ljust(w[i]) for i in range(5)) + b"  " + row[5] + b"\n")
    if row[6] is not None and row[4] != b"convertible":
        p(b" " * w[0] + b"  " + b(row[6]) + b"\n")
n = len(r["blockers"])
p("\n%d blocker%s\n" % (n, "" if n == 1 else "s"))
for x in r["blockers"]:
    p(b"  " + b(x["kind"]).ljust(14) + b" " + b(x["message"]) + b"\n")
n = len(r["warnings"])
if n:
    p("\n%d warning%s\n" % (n, "" if n == 1 else "s"))
    for x in r["warnings"]:
        p(b"  " + b(x) + b"\n")
sys.stdout.buffer.write(b"".join(out))
PY
same() {
	$PYTHON table.py "$1" > want
	cmp want "$2" || { echo "$2: the table is not the JSON's"; diff want "$2" | head; exit 1; }
}
for f in zoo.pt sd.pt net.pt guess.pt; do
	t2m-analyze "$f" > a.json
	t2m-analyze -t "$f" > a.txt
	same a.json a.txt
	t2m-unpack "$f" > s.t2m
	t2m-analyze -t < s.t2m > s.txt
	cmp a.txt s.txt
	t2m-analyze -t -p p.txt < s.t2m | cmp - s.t2m
	cmp a.txt p.txt
	cp a.txt "$f.txt"
	# Converted: MLX layout, the module tree and tensors' attributes as
	# t2m-transpose leaves them (the models with blockers do not convert).
	t2m-transpose < s.t2m 2> /dev/null > x.t2m || continue
	t2m-analyze x.t2m > x.json
	t2m-analyze -t x.t2m > x.txt
	same x.json x.txt
	grep -q '^source .* mlx layout)$' x.txt
done
# The models show what they were made to.
grep -q '^  layernorm_shape module .ln. ' zoo.pt.txt
grep -q '^  complex ' zoo.pt.txt
grep -q '^d\.été  ' zoo.pt.txt
grep -q ' unknown ' zoo.pt.txt
grep -q ' attention ' zoo.pt.txt
grep -q '^2 warnings$' guess.pt.txt
