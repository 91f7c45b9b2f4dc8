# 70,000 tensors: more entries than a zip's 16-bit count holds, so the
# end records are zip64's; zipfile and torch.load read every tensor.
set -eu
PYTHONDONTWRITEBYTECODE=1
PYTHONPATH=$T2M_TOP/tests/cli/pack:$PYTHONPATH
export PYTHONDONTWRITEBYTECODE PYTHONPATH
$PYTHON -m gen_st many in.st 70000
t2m-unpack in.st | t2m-pack many.pt
$PYTHON - <<'PY'
import struct, sys
import ptcheck, st
_, want, _ = st.read("in.st")
bad = ptcheck.zip_problems("many.pt", "many", len(want))
with open("many.pt", "rb") as f:
    f.seek(-22, 2)
    eocd = f.read(22)
    f.seek(-22 - 20 - 56, 2)
    z64 = f.read(56)
if eocd[8:12] != b"\xff\xff\xff\xff" or z64[:4] != b"PK\x06\x06" or \
        struct.unpack("<QQ", z64[24:40]) != (70003, 70003):
    bad.append(f"end records: {z64[:40].hex()} {eocd.hex()}")
got, _ = ptcheck.load("many.pt")
bad += ptcheck.compare(want, got)
for b in bad[:10]:
    print("FAIL:", b)
print(f"{len(got)} tensors")
sys.exit(1 if bad else 0)
PY
