# Wide memo bombs, made by real torch: a list of 60 references to one
# list of 60 references, five deep, is 60^5 integers from a 1 KB file.
# As a module's attribute its JSON text would be 2.3 GB: the attribute is
# left out of the module tree (longer than 4096 bytes) and the model
# converts at once.  Listed (-l), the lists are no longer rendered whole
# before their length is known: the listing stops at its cap with one
# line, within seconds.  Before, each took 30 s and 2.3 GB of memory.
set -u
failed=0
fail() { echo "FAIL: $*"; failed=1; }
$PYTHON - <<'PY' || exit 1
import torch
x = [7] * 60
for _ in range(4):
    x = [x] * 60
m = torch.nn.Linear(2, 3)
m.wide = x
m.short = [1, [2, 3]]
torch.save(m, "module.pt")
torch.save({"w": torch.ones(2), "wide": x}, "dict.pt")
PY
timeout 10 t2m-unpack module.pt > module.t2m 2> err ||
    fail "module.pt: exit $?: $(cat err)"
[ ! -s err ] || fail "module.pt: $(cat err)"
t2m-ls -l module.t2m > listing || fail "t2m-ls: exit $?"
grep -q "^	in_features=2$" listing || fail "no in_features: $(cat listing)"
grep -q "^	short=\[1, \[2, 3\]\]$" listing || fail "no short: $(cat listing)"
grep -q "wide" listing && fail "the wide attribute is in the module tree"
grep -q "^F32     \[3, 2\]" listing || fail "no weight: $(cat listing)"
timeout 10 t2m-unpack -l dict.pt > out 2> err
[ $? -eq 1 ] || fail "dict.pt -l: not exit 1"
[ "$(cat err)" = "t2m-unpack: dict.pt: the listing passes 64 MiB (shared references multiply it); stopped" ] ||
    fail "dict.pt -l: $(cat err)"
exit $failed
