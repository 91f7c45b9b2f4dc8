# t2m-pack's layout, exactly: tensors by element size, largest first, then
# by name bytewise; offsets contiguous from 0; compact JSON with
# __metadata__ first (keys sorted, format "pt" as the input says: nothing
# converted it); spaces to a multiple of 8.  Prints the header length,
# the header text up to a '|' and the data in hex.
set -u
$PYTHON - <<'PY' || exit 1
import st
st.write("in.st", {
    "w": ("F32", (2,), bytes.fromhex("0000803f000000c0")),
    "b": ("U8", (3,), bytes.fromhex("010203")),
    "a": ("I16", (), bytes.fromhex("ff7f")),
    'q"\\\n\x01\u00e9': ("I8", (), bytes.fromhex("80")),
    "e": ("F64", (0,), b""),
    "s": ("BF16", (1, 2), bytes.fromhex("803f0040")),
}, metadata={"b": "2", "a": "1", "format": "pt"})
PY
t2m-unpack in.st | t2m-pack out.st || exit 1
$PYTHON -c '
import struct, sys
b = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", b[:8])
print(n)
print(b[8:8 + n].decode() + "|")
print(b[8 + n:].hex())' out.st
