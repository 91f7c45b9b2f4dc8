# A TorchScript archive keeps its storages before data.pkl, so it cannot
# be read front to back: from a pipe t2m-unpack refuses with a message
# that says so, and writes nothing a consumer would accept.
set -e
$PYTHON - <<'PY'
import torch
m = torch.jit.script(torch.nn.Linear(3, 2))
torch.jit.save(m, "ts.pt")
PY
if cat ts.pt | t2m-unpack > out.t2m 2> err; then
	echo "FAIL: TorchScript from a pipe was accepted"; exit 1
fi
grep -q "TorchScript.*read it from a file, not a pipe" err ||
    { cat err; exit 1; }
[ "$(wc -l < err)" -eq 1 ] || { cat err; exit 1; }
if t2m-ls out.t2m > /dev/null 2>&1; then
	echo "FAIL: the partial stream was accepted"; exit 1
fi
# From the file it converts.
t2m-unpack ts.pt | t2m-ls > ls.txt
grep -q " weight$" ls.txt && grep -q " bias$" ls.txt
