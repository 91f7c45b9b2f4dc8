# The output format: PyTorch for names ending in .pt, .pth or .bin in
# any case, safetensors for any other; -f says which whatever the name.
# The archive name inside a PyTorch checkpoint is torch.save's: the last
# component of the path without its last extension, or "archive" when
# that is empty, not printable ASCII, or the output is standard output.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack in.st > s || exit 3
mkdir d
# kind FILE: zip or st
kind() {
	$PYTHON - "$1" <<'PY'
import sys, zipfile, st
p = sys.argv[1]
if zipfile.is_zipfile(p):
    names = zipfile.ZipFile(p).namelist()
    print("zip", names[0].split("/")[0])
else:
    st.read(p)
    print("st")
PY
}
for c in "a.pt:zip a" "a.pth:zip a" "a.bin:zip a" "b.PT:zip b" \
    "b.Pth:zip b" "c.BIN:zip c" "my.model.v2.pth:zip my.model.v2" \
    "d/sub.pt:zip sub" ".pt:zip archive" "café.pt:zip archive" \
    "tab	x.pt:zip archive" "a.safetensors:st" "a.st:st" "plain:st" \
    "a.pt.st:st" "a.ckpt:st" "a.ptx:st" "pt:st" "x.bin.safetensors:st"; do
	name=${c%%:*} want=${c#*:}
	t2m-pack "$name" < s || { fail "$name: exit status $?"; continue; }
	got=$(kind "$name")
	[ "$got" = "$want" ] || fail "$name: '$got', expected '$want'"
done
for c in "torch x.st:zip x" "torch noext:zip noext" \
    "safetensors y.pt:st" "safetensors y.bin:st"; do
	args=${c%%:*} want=${c#*:}
	name=${args#* }
	t2m-pack -f $args < s || { fail "-f $args: exit status $?"; continue; }
	got=$(kind "$name")
	[ "$got" = "$want" ] || fail "-f $args: '$got', expected '$want'"
done
# Standard output, a file: the archive is called "archive".
t2m-pack -f torch - < s > stdout.zip || fail "-f torch -: exit status $?"
[ "$(kind stdout.zip)" = "zip archive" ] || fail "stdout: $(kind stdout.zip)"
t2m-pack -f torch /dev/null < s || fail "/dev/null: exit status $?"
# All of them hold the tensors (a checkpoint drops the metadata).
for f in a.pt my.model.v2.pth stdout.zip x.st; do
	t2m-unpack "$f" | t2m-pack got.st || fail "$f: does not read back"
	$PYTHON -c 'import st; assert st.read("in.st")[1] == st.read("got.st")[1]' ||
	    fail "$f: not in.st's tensors"
done
left=$(ls -A | grep '^\.' | grep -v -e '^\.pt$' -e '^\.std...$')
[ -z "$left" ] || fail "temporaries left: $left"
exit $status
