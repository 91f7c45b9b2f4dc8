# Types of fewer than 8 bits (F4, F6_E2M3, F6_E3M2; st.py does not read
# them): their bytes pass unchanged and the layout orders them by bits,
# 6 before 4, after the 8-bit types.
set -u
$PYTHON - <<'PY' || exit 1
import gen_st
# F4 x4 = 2 bytes, F6_E2M3 x4 = 3 bytes, F6_E3M2 x8 = 6 bytes, U8 x1.
gen_st.write_variant("in.st", {
    "f4": ("F4", (2, 2), bytes.fromhex("1234")),
    "e2m3": ("F6_E2M3", (4,), bytes.fromhex("abcdef")),
    "e3m2": ("F6_E3M2", (8,), bytes.fromhex("010203040506")),
    "u8": ("U8", (1,), bytes.fromhex("ff")),
}, None, "plain")
PY
t2m-unpack in.st | t2m-pack out.st || exit 1
t2m-unpack out.st | t2m-ls || exit 1
$PYTHON -c '
import struct, sys
b = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", b[:8])
print(b[8:8 + n].decode() + "|")
print(b[8 + n:].hex())' out.st
