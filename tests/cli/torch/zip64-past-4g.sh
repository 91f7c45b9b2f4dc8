# Past 4 GiB, torch gives every record a zip64 extra field (for small
# records, only its own header offset) and a 24-byte data descriptor with
# 64-bit sizes.  A small record laid out so must be read from a pipe as
# from a file.  (A real >4 GiB archive is too big for the suite; this
# rewrites a small one the way torch writes records past that mark.)
set -eu
$PYTHON - <<'PY'
import struct, torch, zlib
torch.save({"w": torch.arange(6.0).reshape(2, 3)}, "src.pt", )
import zipfile
src = zipfile.ZipFile("src.pt")
out = bytearray()
cd = bytearray()
for info in src.infolist():
    data = src.read(info.filename)
    name = info.filename.encode()
    off = len(out)
    crc = zlib.crc32(data)
    # zip64 extra holding only the header offset, as miniz writes it for
    # records whose header lies past 4 GiB; then torch's 64-byte padding.
    z64 = struct.pack("<HHQ", 1, 8, off)
    pad = (-(off + 30 + len(name) + len(z64) + 4)) % 64
    extra = z64 + struct.pack("<HH", 0x4246, pad) + b"Z" * pad
    out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 45, 0x0808, 0, 0, 0,
                       0, 0, 0, len(name), len(extra)) + name + extra
    out += data
    out += struct.pack("<IIQQ", 0x08074b50, crc, len(data), len(data))
    cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 45, 45, 0x0808, 0,
                      0, 0, crc, len(data), len(data), len(name), 0, 0, 0,
                      0, 0, off) + name
cdoff = len(out)
out += cd
out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, len(src.infolist()),
                   len(src.infolist()), len(cd), cdoff, 0)
open("z64.pt", "wb").write(out)
PY
t2m-unpack z64.pt | t2m-pack file.st
cat z64.pt | t2m-unpack | t2m-pack pipe.st
cmp file.st pipe.st
t2m-unpack src.pt | t2m-pack want.st
cmp file.st want.st
