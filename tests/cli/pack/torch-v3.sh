# The dtypes PyTorch 1.13 has no storage class for (U16, U32, U64 and the
# float8 types) are written as PyTorch 2 writes them: checked against
# checkpoints real torch 2.15 saved (tests/fixtures/torch2), whose
# pickles must say, tensor for tensor, what ours says - the rebuild
# function, storage type, location, size, shape, stride, requires_grad,
# hooks and dtype - for every tensor that is a whole contiguous storage
# there; the storage keys alone may differ.  The standard dtypes are
# checked against torch 2's pickle the same way.  t2m-unpack reads the
# output back to the same tensors.  Where a PyTorch 2 is at hand
# ($TORCH2_PYTHON, or the venv scripts/gen-torch2-fixtures.py makes), it
# loads each output with weights_only=True, bits compared with what the
# fixture's MANIFEST.json records.
set -eu
PYTHONDONTWRITEBYTECODE=1
PYTHONPATH=$T2M_TOP/tests/cli/pack:$PYTHONPATH
export PYTHONDONTWRITEBYTECODE PYTHONPATH
fx=$T2M_TOP/tests/fixtures/torch2
for f in float8 float8_e8m0 unsigned standard; do
	t2m-unpack "$fx/$f.pt" | t2m-pack "$f.pt"
	t2m-unpack "$fx/$f.pt" | t2m-pack "$f-want.st"
	t2m-unpack "$f.pt" | t2m-pack "$f-got.st"
	cmp "$f-want.st" "$f-got.st"
done
$PYTHON - "$fx" <<'PY'
import collections, json, sys
import ptcheck, st
fx = sys.argv[1]
man = json.load(open(f"{fx}/MANIFEST.json"))["fixtures"]
bad, n = [], 0


def key_dropped(c):
    kind, func, args = c
    pid = args[0][1]
    return (kind, func, (("pid", pid[:2] + pid[3:]),) + args[1:])


for f in ("float8", "float8_e8m0", "unsigned", "standard"):
    theirs, ours = ptcheck.symbolic(f"{fx}/{f}.pt"), ptcheck.symbolic(f"{f}.pt")
    if type(ours) is not collections.OrderedDict:
        bad.append(f"{f}: data.pkl holds a {type(ours).__name__}")
        continue
    for name, call in theirs.items():
        _, func, args = call
        size, stride, numel = args[2], args[3], args[0][1][4]
        elems = 1
        for d in size:
            elems *= d
        if func.endswith("_v3"):     # an untyped storage counts bytes
            elems = st.nbytes(man[f"{f}.pt"]["tensors"][name]["dtype"], size)
        want = [1] * len(size)
        for i in range(len(size) - 2, -1, -1):
            want[i] = want[i + 1] * max(size[i + 1], 1)
        if args[1] != 0 or numel != elems or list(stride) != want:
            continue            # a view: ours is always a whole storage
        n += 1
        if name not in ours:
            bad.append(f"{f}: {name} missing")
        elif key_dropped(ours[name]) != key_dropped(call):
            bad.append(f"{f}: {name}: ours {key_dropped(ours[name])}, "
                       f"torch's {key_dropped(call)}")
for b in bad:
    print("FAIL:", b)
print(f"{n} tensors compared with torch 2's pickles")
if n < 15:
    print("FAIL: too few tensors compared")
    bad.append(n)
sys.exit(1 if bad else 0)
PY
torch2=${TORCH2_PYTHON:-/work/venv-torch2/bin/python}
if ! "$torch2" -c 'import torch; assert torch.__version__ >= "2.7"' \
    2>/dev/null; then
	echo "# no PyTorch 2.7 or later at $torch2: pickles compared only"
	exit 0
fi
"$torch2" - "$fx" <<'PY'
import hashlib, json, sys
import torch
fx = sys.argv[1]
man = json.load(open(f"{fx}/MANIFEST.json"))["fixtures"]
bad = n = 0
for f in ("float8", "float8_e8m0", "unsigned", "standard"):
    for mmap in (False, True):
        sd = torch.load(f"{f}.pt", weights_only=True, mmap=mmap)
        want = man[f"{f}.pt"]["tensors"]
        if set(sd) != set(want):
            print(f"FAIL: {f}: names differ"); bad += 1
        for k, w in want.items():
            t = sd[k].contiguous()
            raw = t.view(torch.uint8).numpy().tobytes() if t.dim() else \
                t.reshape(1).view(torch.uint8).numpy().tobytes()
            if list(t.shape) != w["shape"] or \
                    hashlib.sha256(raw).hexdigest() != w["sha256"]:
                print(f"FAIL: {f}: {k}: {t.dtype} {list(t.shape)} differs")
                bad += 1
            n += 1
print(f"torch {torch.__version__}: {n} tensors loaded and compared")
sys.exit(1 if bad else 0)
PY
