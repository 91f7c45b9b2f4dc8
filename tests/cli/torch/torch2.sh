# Fixtures saved by real torch 2.x (tests/fixtures/torch2, made by
# scripts/gen-torch2-fixtures.py): float8 and uint16/32/64 through
# _rebuild_tensor_v3, the byteorder record, numeric storage order,
# checkpoints without CRCs, protocols 4 and 5, a full model, TorchScript.
# Each converts, from the file and from a pipe, to exactly the tensors
# MANIFEST.json lists (names, dtypes, shapes, SHA-256 of the bytes).
set -e
fx=$T2M_TOP/tests/fixtures/torch2
$PYTHON - "$fx" <<'PY'
import hashlib, json, os, subprocess, sys
import st
fx = sys.argv[1]
man = json.load(open(os.path.join(fx, "MANIFEST.json")))
bad = 0
for name, f in sorted(man["fixtures"].items()):
    path = os.path.join(fx, name)
    for how in ("file", "pipe"):
        if how == "pipe" and name == "model_script.pt":
            continue    # TorchScript needs a file: tested in ts-pipe.sh
        out = f"out-{name}-{how}.st"
        cmd = ["t2m-unpack"] + f["options"] + [path if how == "file" else "-"]
        src = None if how == "file" else open(path, "rb")
        unpack = subprocess.Popen(cmd, stdin=src, stdout=subprocess.PIPE)
        pack = subprocess.run(["t2m-pack", out], stdin=unpack.stdout)
        unpack.stdout.close()
        if unpack.wait() != 0 or pack.returncode != 0:
            print(f"FAIL {name} ({how}): pipeline failed"); bad += 1
            continue
        meta, got, _ = st.read(out)
        want = f["tensors"]
        if set(got) != set(want):
            print(f"FAIL {name} ({how}): names differ: "
                  f"{sorted(set(got) ^ set(want))}"); bad += 1
            continue
        for k, w in want.items():
            dt, shape, raw = got[k]
            if (dt, list(shape), hashlib.sha256(raw).hexdigest()) != \
                    (w["dtype"], w["shape"], w["sha256"]):
                print(f"FAIL {name} ({how}): {k}: {dt} {list(shape)} "
                      f"differs from {w['dtype']} {w['shape']}"); bad += 1
print(f"{len(man['fixtures'])} fixtures checked, {bad} failures")
sys.exit(1 if bad else 0)
PY
# Saved without CRCs: refused unless -c says not to check.
if t2m-unpack "$fx/nocrc.pt" > /dev/null 2> err; then
	echo "FAIL: nocrc.pt converted without -c"; exit 1
fi
grep -q "CRC-32 mismatch (stored 00000000" err || { cat err; exit 1; }
