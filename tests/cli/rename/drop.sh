# -d drops the tensors a pattern matches (fnmatch without flags: * and ?
# cross dots), the others pass bit for bit; patterns may repeat, and
# dropping everything leaves a valid empty stream.
set -eu
$PYTHON - <<'PY'
import torch
torch.manual_seed(5)
sd = {
    "embed.weight": torch.randn(10, 4),
    "layers.0.attn.rotary_emb.inv_freq": torch.randn(2),
    "layers.0.attn.q.weight": torch.randn(4, 4),
    "layers.0.norm.weight": torch.randn(4),
    "layers.0.bn.running_mean": torch.randn(4),
    "layers.0.bn.num_batches_tracked": torch.tensor(7),
    "layers.1.attn.rotary_emb.inv_freq": torch.randn(2),
    "layers.1.attn.q.weight": torch.randn(4, 4),
    "layers.1.bn.num_batches_tracked": torch.tensor(9),
    "head.weight": torch.randn(3, 4).half(),
}
torch.save(sd, "sd.pt")
PY
check() {	# check FILE NAME...: FILE holds exactly these of sd.pt, bit for bit
	$PYTHON - "$@" <<'PY'
import sys, torch, st
sd = torch.load("sd.pt")
meta, out, _ = st.read(sys.argv[1])
want = sys.argv[2:]
if sorted(out) != sorted(want):
    sys.exit(f"{sys.argv[1]}: holds {sorted(out)}, expected {sorted(want)}")
for k in want:
    assert out[k][1] == tuple(sd[k].shape), k
    assert out[k][2] == sd[k].contiguous().numpy().tobytes(), k
PY
}
t2m-unpack sd.pt | t2m-rename -d '*.num_batches_tracked' \
    -d '*.rotary_emb.inv_freq' | t2m-pack a.st
check a.st embed.weight layers.0.attn.q.weight layers.0.norm.weight \
    layers.0.bn.running_mean layers.1.attn.q.weight head.weight
t2m-unpack sd.pt | t2m-rename -d 'layers.?.attn.*' -d '*[hd].weight' |
    t2m-pack b.st
check b.st layers.0.norm.weight layers.0.bn.running_mean \
    layers.0.bn.num_batches_tracked layers.1.bn.num_batches_tracked
# A pattern is matched against the whole name.
t2m-unpack sd.pt | t2m-rename -d 'layers' -d 'weight' -d '*.0' | t2m-pack c.st
t2m-unpack sd.pt | t2m-pack all.st
cmp all.st c.st
# Dropping everything: a valid stream of no tensors.
t2m-unpack sd.pt | t2m-rename -d '*' > none.t2m
t2m-ls none.t2m > none.txt
[ "$(cat none.txt)" = "0 tensors, 0 bytes" ] || { cat none.txt; exit 1; }
