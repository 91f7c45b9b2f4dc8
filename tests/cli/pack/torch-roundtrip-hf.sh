# The round trip PyTorch -> MLX layout -> PyTorch on the 36 Hugging Face
# models of tests/fixtures/hf, where t2m-transpose really changes the
# layout (convolutions permuted, attention split, norms, embeddings):
#     t2m-unpack x | t2m-transpose | t2m-pack y.safetensors
#     t2m-unpack y.safetensors | t2m-transpose -r | t2m-pack z.pt
# For the Hub's pytorch_model.bin, torch.load(z.pt, weights_only=True)
# equals torch.load of the original bit for bit.  For the pickled model
# (model.pt, whose classes need transformers to load) it equals what
# t2m-unpack reads from it, packed without transposing.
set -eu
PYTHONDONTWRITEBYTECODE=1
PYTHONPATH=$T2M_TOP/tests/cli/pack:$PYTHONPATH
export PYTHONDONTWRITEBYTECODE PYTHONPATH
$PYTHON - "$T2M_TOP/tests/fixtures/hf" <<'PY'
import os, subprocess, sys
import torch
import ptcheck, st

hf = sys.argv[1]
bad = n = 0


def run(cmd):
    r = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    return r.returncode, r.stdout.decode(errors="replace").strip()


for model in sorted(os.listdir(hf)):
    d = os.path.join(hf, model)
    if not os.path.isdir(d):
        continue
    for src in ("pytorch_model.bin", "model.pt"):
        x = os.path.join(d, src)
        if src == "model.pt":
            rc, out = run(f"t2m-unpack '{x}' | t2m-pack -d "
                          "ref.safetensors")
            want = st.read("ref.safetensors")[1] if rc == 0 else {}
        else:
            want = ptcheck.table(torch.load(x, weights_only=True))
            rc = 0
        if rc == 0:
            rc, out = run(f"t2m-unpack '{x}' | t2m-transpose | "
                          "t2m-pack y.safetensors && "
                          "t2m-unpack y.safetensors | t2m-transpose -r | "
                          "t2m-pack z.pt")
        if rc:
            print(f"FAIL {model}/{src}: {out}")
            bad += 1
            continue
        if not want:
            print(f"FAIL {model}/{src}: no tensors")
            bad += 1
        problems = ptcheck.compare(want, ptcheck.load("z.pt")[0])
        for p in problems[:3]:
            print(f"FAIL {model}/{src}: {p}")
        bad += bool(problems)
        n += 1
print(f"{n} checkpoints round-tripped, {bad} failures")
sys.exit(1 if bad or n < 72 else 0)
PY
