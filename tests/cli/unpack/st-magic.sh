# A safetensors file is read as one though its first bytes are gzip's
# magic (a header of 101151 bytes: length 1f 8b 01 00 ...) or its JSON
# holds "ustar" where tar keeps its magic (offset 257): both were taken
# for compressed or tar archives.
set -u
failed=0
fail() { echo "FAIL: $*"; failed=1; }
$PYTHON - <<'PY' || exit 3
import json, struct
data = struct.pack("<2f", 1.5, -2.0)
def write(path, meta, size=None):
    text = json.dumps({"__metadata__": meta, "w": {"dtype": "F32",
        "shape": [2], "data_offsets": [0, 8]}}).encode()
    if size is not None:
        text += b" " * (size - len(text))
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
write("gzip.safetensors", {"format": "pt"}, size=0x18B1F)
head = '{"__metadata__": {"x": "'
write("tar.safetensors", {"x": "a" * (257 - 8 - len(head)) + "ustar"})
for p in ("gzip.safetensors", "tar.safetensors"):
    b = open(p, "rb").read()
    assert b[:2] == b"\x1f\x8b" or b[257:262] == b"ustar", p
PY
for f in gzip tar; do
	t2m-unpack $f.safetensors | t2m-ls > ls 2> err ||
	    fail "$f: $(cat err)"
	grep -q "^F32 *\[2\] *8  w$" ls || fail "$f: $(cat ls)"
done
exit $failed
