# Layers MLX cannot hold end in one message naming the module, exit 1,
# and no end record: an LSTM with proj_size, attention with bias_k/bias_v.
set -u
$PYTHON - <<'PY'
import torch, torch.nn as nn
torch.save(nn.Sequential(nn.LSTM(4, 8, proj_size=3)), "proj.pt")
torch.save(nn.Sequential(nn.MultiheadAttention(8, 2, add_bias_kv=True)),
           "biaskv.pt")
PY
status=0
for f in proj biaskv; do
	t2m-unpack $f.pt | t2m-transpose > out.t2m 2> err
	rc=$?
	[ $rc -eq 1 ] || { echo "$f: exit $rc"; status=1; }
	[ "$(wc -l < err)" -eq 1 ] || { echo "$f: stderr:"; cat err; status=1; }
	if t2m-ls out.t2m > /dev/null 2>&1; then
		echo "$f: a partial stream was accepted"; status=1
	fi
done
t2m-unpack proj.pt | t2m-transpose 2>&1 >/dev/null |
    grep -q "^t2m-transpose: <stdin>: module '0' (torch.nn.modules.rnn.LSTM): proj_size has no MLX equivalent$" ||
    { echo "proj_size message"; status=1; }
t2m-unpack biaskv.pt | t2m-transpose 2>&1 >/dev/null |
    grep -q "bias_k and bias_v (add_bias_kv) have no MLX equivalent$" ||
    { echo "bias_kv message"; status=1; }
exit $status
