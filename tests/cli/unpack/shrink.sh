# A checkpoint that shrinks while t2m-unpack reads it (another process
# truncates it) fails with one message, exit 1: the storage is checked
# through a mapping, and the pages the file lost must not kill the
# process with SIGBUS.  The reader here holds the stream back until
# t2m-unpack waits on the pipe, then cuts the file 3 MiB into the
# storage, past what has been checked.
set -u
$PYTHON - <<'PY' || exit 3
import torch, zipfile, struct
torch.save({"w": torch.ones(16 << 20, dtype=torch.uint8)}, "big.pt")
with zipfile.ZipFile("big.pt") as z:
    i = next(i for i in z.infolist() if i.filename.endswith("/data/0"))
with open("big.pt", "rb") as f:
    f.seek(i.header_offset + 26)
    n, m = struct.unpack("<HH", f.read(4))
open("cut", "w").write("%d\n" % (i.header_offset + 30 + n + m + (3 << 20)))
PY
cut=$(cat cut)
(t2m-unpack big.pt 2> err; echo $? > status) | $PYTHON -c '
import os, sys, time
time.sleep(1)
os.truncate("big.pt", int(sys.argv[1]))
while sys.stdin.buffer.read(1 << 20):
    pass
' "$cut"
want="t2m-unpack: big.pt: offset $cut: the file shrank while it was read"
if [ "$(cat status)" != 1 ] || [ "$(cat err)" != "$want" ]; then
	echo "FAIL: exit $(cat status): $(cat err)"
	echo "want: $want"
	exit 1
fi
