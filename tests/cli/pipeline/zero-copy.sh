# Tensor bytes travel by splice(2) between pipes and files where Linux
# allows and through buffers where it does not (file to file, a
# decompressor).  Every way gives the same file, and its values are the
# checkpoint's: a big tensor over many records, a tied pair sharing one
# storage, a slice at a storage offset, a strided view (gathered, not
# moved), a conv weight that t2m-transpose permutes.  Storage bytes are
# checked against their CRC-32 a piece at a time as they are sent (from a
# file spliced, from a pipe teed), so a damaged byte late in a big
# storage, or a checkpoint cut off inside one, still leaves no output.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }

$PYTHON - <<'PY' || exit 1
import torch
torch.manual_seed(7)
m = torch.nn.Module()
m.big = torch.nn.Linear(1024, 1100)             # 4.5 MB: five records
m.conv = torch.nn.Conv2d(3, 8, 3)
m.emb = torch.nn.Embedding(300, 64)
m.head = torch.nn.Linear(64, 300, bias=False)
m.head.weight = m.emb.weight                    # tied: one storage
base = torch.randn(4000)
m.register_buffer("part", base[1000:3000])      # at a storage offset
big = torch.randn(300000)                        # sent from the file
m.register_buffer("late", big[100003:290001])   # two views, overlapping,
m.register_buffer("early", big[7:150000])       # at unaligned offsets
mid = torch.randn(200000)                        # one view with bytes
m.register_buffer("mid", mid[20001:170000])     # unviewed on both sides
m.register_buffer("tr", torch.randn(70, 50).t())  # strided view
torch.save(m, "m.pt")
torch.save(m.state_dict(), "sd.pt")
PY

t2m-unpack m.pt | t2m-transpose | t2m-pack pipes.st || fail "pipes: exit $?"
t2m-unpack m.pt > s1 && t2m-transpose < s1 > s2 && t2m-pack files.st < s2 ||
    fail "files: exit $?"
cat m.pt | t2m-unpack | cat | t2m-transpose | cat | t2m-pack cat.st ||
    fail "cat: exit $?"
t2m-unpack -c m.pt | t2m-transpose | t2m-pack nocrc.st || fail "-c: exit $?"
gzip -c m.pt > m.pt.gz || exit 1
t2m-unpack m.pt.gz | t2m-transpose | t2m-pack gz.st || fail "gzip: exit $?"
for f in files cat nocrc gz; do
	cmp pipes.st $f.st || fail "$f.st differs from pipes.st"
done

$PYTHON - <<'PY' || fail "values"
import sys, torch
import st
meta, t, _ = st.read("pipes.st")
m = torch.load("m.pt")
# The tied pair is written once, head.weight named in the metadata.
if "head.weight" in t or meta.get("t2m.tie.head.weight") != "emb.weight":
    sys.exit(f"tie: {sorted(t)}, {meta}")
t = st.untie(meta, t)
def get(name):
    d, shape, raw = t[name]
    return torch.from_numpy(st.values(d, shape, raw).copy())
want = {"big.weight": m.big.weight, "big.bias": m.big.bias,
        "emb.weight": m.emb.weight, "head.weight": m.emb.weight,
        "part": m.part, "tr": m.tr.contiguous(),
        "late": m.late, "early": m.early, "mid": m.mid,
        "conv.weight": m.conv.weight.permute(0, 2, 3, 1)}
for k, v in want.items():
    if not torch.equal(get(k), v.detach()):
        sys.exit(f"{k}: values differ")
PY

# One byte changed three quarters into the biggest storage.
$PYTHON - <<'PY' || exit 1
import struct, zipfile
z = zipfile.ZipFile("m.pt")
e = max(z.infolist(), key=lambda i: i.file_size)
b = bytearray(open("m.pt", "rb").read())
n, x = struct.unpack_from("<HH", b, e.header_offset + 26)
b[e.header_offset + 30 + n + x + e.file_size * 3 // 4] ^= 0x10
open("bad.pt", "wb").write(b)
PY
head -c $(($(wc -c < m.pt) * 2 / 3)) m.pt > cut.pt
for how in file pipe; do
	for f in bad cut; do
		if [ $how = file ]; then
			t2m-unpack $f.pt 2>err | t2m-transpose 2>/dev/null |
			    t2m-pack $f.st 2>/dev/null
		else
			cat $f.pt | t2m-unpack 2>err | cat |
			    t2m-transpose 2>/dev/null | t2m-pack $f.st 2>/dev/null
		fi
		[ $? -ne 0 ] || fail "$f.pt from a $how converted"
		case $f in
		bad) grep -q "CRC-32 mismatch" err ;;
		cut) grep -q "truncated\|ends early\|end of central" err ;;
		esac || fail "$f.pt from a $how: $(cat err)"
		[ ! -e $f.st ] || fail "$f.pt from a $how left $f.st"
	done
done
exit $status
