# A PyTorch checkpoint past 4 GiB: a U8 tensor of 2^32 + 64 bytes, then
# a small one whose entry lies past 4 GiB.  The big entry's local header
# and central directory entry carry zip64 sizes, the entries after it a
# zip64 offset, the end records are zip64's; every CRC-32 is right
# (computed here independently); torch.load reads both tensors.  About
# 4 GiB of disk for a few seconds.
set -eu
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
trap 'rm -f big.pt' EXIT
$PYTHON - <<'PY' | t2m-pack big.pt
# The stream, made here: 4 MiB records of a byte ramp.
import struct, sys
import streamtool as t
N = (1 << 32) + 64
m = {"info": [], "meta": [], "modules": [], "tensors": [
    {"name": "big", "dtype": 2, "ndim": 1, "reserved": b"\0\0",
     "shape": [N], "nbytes": N, "attrs": []},
    {"name": "small", "dtype": 10, "ndim": 1, "reserved": b"\0\0",
     "shape": [4], "nbytes": 16, "attrs": []}]}
out = sys.stdout.buffer
out.write(t.stream_header())
out.write(t.Record(b"MANI", payload=t.encode_manifest(m)).bytes())
pat = bytes(range(256)) * (1 << 14)
n = off = 0
while off < N:
    k = min(len(pat), N - off)
    out.write(t.Record(b"DATA", 0, off, pat[:k]).bytes())
    off += k
    n += 1
out.write(t.Record(b"DATA", 1, 0, struct.pack("<4f", 1, 2, 3, 4)).bytes())
out.write(t.ends(2, n + 1, N + 16).bytes())
PY
$PYTHON - <<'PY'
import struct, sys, zipfile, zlib
N = (1 << 32) + 64
bad = []
z = zipfile.ZipFile("big.pt")
info = {i.filename: i for i in z.infolist()}
names = ["big/data.pkl", "big/byteorder", "big/data/0", "big/data/1",
         "big/version"]
if list(info) != names:
    bad.append(f"entries {list(info)}")
pat = bytes(range(256)) * (1 << 14)
crc = 0
for off in range(0, N, len(pat)):
    crc = zlib.crc32(pat[:min(len(pat), N - off)], crc)
big, small = info["big/data/0"], info["big/data/1"]
if (big.file_size, big.CRC) != (N, crc):
    bad.append(f"big: size {big.file_size}, CRC {big.CRC:08x} != {crc:08x}")
if small.header_offset < 1 << 32 or info["big/version"].header_offset < 1 << 32:
    bad.append("the entries after the big one are not past 4 GiB")
with open("big.pt", "rb") as f:
    f.seek(big.header_offset)
    h = f.read(30)
    _, ver, flags, _, _, _, lcrc, cs, us, nl, xl = struct.unpack(
        "<IHHHHHIIIHH", h)
    x = f.read(nl + xl)[nl:]
    if (cs, us, lcrc) != (0xFFFFFFFF, 0xFFFFFFFF, crc) or ver < 45 or \
            x[:4] != struct.pack("<HH", 1, 16) or \
            struct.unpack("<QQ", x[4:20]) != (N, N):
        bad.append(f"big: local header {h.hex()} {x[:20].hex()}")
    data = big.header_offset + 30 + nl + xl
    if data % 64:
        bad.append(f"big: data at {data}")
    f.seek(data + N - 3)
    if f.read(3) != pat[(N - 3) % len(pat):][:3]:
        bad.append("big: last bytes differ")
    f.seek(-22, 2)
    eocd = f.read(22)
    f.seek(-22 - 20 - 56, 2)
    if f.read(4) != b"PK\x06\x06" or struct.unpack("<I", eocd[16:20])[0] \
            != 0xFFFFFFFF:
        bad.append("no zip64 end record, or a 32-bit directory offset")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
$PYTHON - <<'PY'
import sys, torch
sd = torch.load("big.pt", weights_only=True)
b, s = sd["big"], sd["small"]
ok = (b.shape == ((1 << 32) + 64,) and b[:3].tolist() == [0, 1, 2] and
      b[-1].item() == 63 and b[1 << 32].item() == 0 and
      s.tolist() == [1.0, 2.0, 3.0, 4.0])
print("torch.load:", "ok" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
