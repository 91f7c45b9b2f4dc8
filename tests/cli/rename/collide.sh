# Renames that would give two tensors one name, a tensor the empty name,
# or two modules one path are refused before anything is written: exit 1,
# one line naming both, no stream (so no end record) on stdout.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
$PYTHON - <<'PY' || exit 3
import torch, torch.nn as nn
torch.save({"a.w": torch.zeros(1), "b.w": torch.ones(1), "model": torch.ones(2)},
           "sd.pt")
m = nn.Sequential()
m.add_module("a", nn.Sequential(nn.ReLU()))
m.add_module("b", nn.Sequential(nn.Tanh()))
torch.save(m, "mods.pt")
PY
# In MLX layout the way back's names count too: lstm.weight_ih_l0 is
# what t2m-transpose -r makes of lstm.0.Wx.
$PYTHON - <<'PY' || exit 3
import json, torch
sd = {"lstm." + k: v for k, v in torch.nn.LSTM(2, 3).state_dict().items()}
sd["x.weight_ih_l0"] = torch.zeros(4, 2)
torch.save(sd, "wb.pt")
json.dump({"lstm": "torch.nn.modules.rnn.LSTM",
           "x": "torch.nn.modules.linear.Linear"}, open("wb.json", "w"))
PY
t2m-unpack sd.pt > s || exit 3
t2m-unpack mods.pt > mods || exit 3
t2m-unpack wb.pt | t2m-transpose -m wb.json > wb || exit 3
refused() {	# refused MESSAGE INPUT OPTIONS...
	msg=$1 in=$2
	shift 2
	t2m-rename "$@" < "$in" > out 2> err
	rc=$?
	[ $rc -eq 1 ] || fail "$*: exit status $rc"
	[ -s out ] && fail "$*: wrote a stream"
	[ "$(cat err)" = "t2m-rename: <stdin>: $msg" ] ||
	    fail "$*: stderr: $(cat err)"
}
refused "'a.w' and 'b.w' would both be named 'b.w'" s -s a=b
refused "'a.w' and 'b.w' would both be named 'a.w'" s -s b=a
refused "'a.w' and 'b.w' would both be named 'w'" s -p a -p b
refused "'a.w' and 'b.w' would both be named 'x.w'" s -s a=x -s b=x
refused "'model' would be renamed to an empty name" s -p model
refused "'model' would be renamed to an empty name" s -s model=
refused "modules 'a' and 'b' would both be at 'b'" mods -s a=b
refused "'lstm.weight_ih_l0' and 'x.weight_ih_l0' would both be named 'lstm.weight_ih_l0' by t2m-transpose -r" \
    wb -s x.weight_ih_l0=lstm.weight_ih_l0
refused "modules 'lstm' and 'x' would both be at 'lstm'" wb -s x=lstm
# What the renames leave distinct passes.
t2m-rename -s a=b -d b.w < s | t2m-ls > ok.txt 2>&1 || fail "a=b without b.w"
grep -q ' b\.w$' ok.txt || fail "a=b without b.w: $(cat ok.txt)"
t2m-rename -s b=c -s a=b < s | t2m-ls > /dev/null || fail "b=c, a=b"
exit $status
