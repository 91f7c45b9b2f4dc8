# PyTorch output of every dtype PyTorch 1.13 has a storage class for,
# read back by torch.load(weights_only=True): the same names, dtypes,
# shapes and bits.  Special float patterns (NaN payloads, infinities,
# subnormals, -0), 0-d scalars, empty tensors (one with a 2^40-long
# dimension), 64 dimensions, names that are not ASCII or need escapes;
# tensors in many records (-C 16), with the records of different tensors
# interleaved, so each tensor's CRC-32 runs alongside the others'.  The
# zip is checked on its own: torch.save's entry order, stored, CRCs
# (zipfile.testzip), 64-byte alignment, byteorder and version.
set -eu
PYTHONDONTWRITEBYTECODE=1
PYTHONPATH=$T2M_TOP/tests/cli/pack:$PYTHONPATH
export PYTHONDONTWRITEBYTECODE PYTHONPATH
$PYTHON - <<'PY'
import gen_st, st, torch
legacy = ["BOOL", "U8", "I8", "I16", "F16", "BF16", "I32", "F32", "F64",
          "I64", "C64"]
t = {}
for k, dt in enumerate(legacy):
    key = dt.lower()
    vec = (256,) if st.DTYPES[dt][1] == 8 else (40 + k,)
    t[f"{key}.vec"] = (dt, vec, gen_st.fill(dt, vec, f"{dt}.vec"))
    t[f"{key}.mat"] = (dt, (2, 3, 4), gen_st.fill(dt, (2, 3, 4), dt))
    t[f"{key}.scalar"] = (dt, (), gen_st.fill(dt, (), f"{dt}.s"))
    t[f"{key}.empty"] = (dt, (0,) if k % 2 else (3, 0, 2), b"")
for k, name in enumerate(gen_st.ODD_NAMES):
    dt = legacy[k % len(legacy)]
    t[name] = (dt, (k % 3 + 1,), gen_st.fill(dt, (k % 3 + 1,), f"odd{k}"))
t["dims64"] = ("U8", (1,) * 64, b"\x2a")
t["wide.empty"] = ("F32", (0, 1 << 40), b"")
st.write("src.st", t, metadata={"format": "pt", "k": "v"})
# complex128, which safetensors lacks, from torch itself.
z = torch.tensor([1 + 2j, float("nan") - 0j, complex(float("inf"), -1e-310)],
                 dtype=torch.complex128)
torch.save({"z": z, "z.mat": torch.randn(2, 3, dtype=torch.complex128)},
           "c128.pt")
PY
t2m-unpack -C 16 src.st > s
$PYTHON - <<'PY'
# s2: s with the data records of different tensors interleaved.
import streamtool as t
blob = open("s", "rb").read()
_, recs = t.parse(blob)
per = {}
for r in recs[1:-1]:
    per.setdefault(r.index, []).append(r)
order, queues = [], list(per.values())
while any(queues):
    for q in queues:
        if q:
            order.append(q.pop(0))
assert len(order) > 3 * len(per), "too few records to interleave"
open("s2", "wb").write(t.build([recs[0]] + order + [recs[-1]]))
PY
t2m-pack out.pt < s2
t2m-pack -f torch out.other < s
t2m-unpack c128.pt | t2m-pack c128-out.pth
$PYTHON - <<'PY'
import sys
import ptcheck, st, streamtool, torch
_, want, _ = st.read("src.st")
_, recs = streamtool.parse(open("s", "rb").read())
order = [t["name"].decode() for t in
         streamtool.decode_manifest(recs[0].payload)["tensors"]]
bad = []
for path, arch in (("out.pt", "out"), ("out.other", "out")):
    bad += [f"{path}: {p}" for p in ptcheck.zip_problems(path, arch,
                                                         len(want))]
    got, sd = ptcheck.load(path)
    bad += [f"{path}: {p}" for p in ptcheck.compare(want, got)]
    if list(sd) != order:
        bad.append(f"{path}: keys not in the manifest's order")
if open("out.pt", "rb").read() != open("out.other", "rb").read():
    bad.append("interleaved records give another file")
ref = torch.load("c128.pt")
bad += ptcheck.zip_problems("c128-out.pth", "c128-out", 2)
sd = torch.load("c128-out.pth", weights_only=True)
for k, v in ref.items():
    w = sd[k]
    if w.dtype != torch.complex128 or w.shape != v.shape or \
            w.numpy().tobytes() != v.numpy().tobytes():
        bad.append(f"c128: {k}: {w.dtype} {tuple(w.shape)} differs")
for b in bad:
    print("FAIL:", b)
print(f"{len(want) + len(ref)} tensors checked")
sys.exit(1 if bad else 0)
PY
