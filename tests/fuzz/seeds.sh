#!/bin/sh
# tests/fuzz/seeds.sh DIR - seed corpora for the fuzz targets, made from
# the PyTorch corpus (real torch): DIR/unpack holds small checkpoints of
# every format, DIR/pickle their data.pkl pickles (a mode byte first).
set -eu
dir=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-/usr/bin/python3}
rm -rf "$dir"
mkdir -p "$dir/corpus" "$dir/unpack" "$dir/pickle"
"$python" "$top/scripts/gen-torch-fixtures.py" "$dir/corpus" > /dev/null
"$python" - "$dir" <<'PY'
import os, shutil, sys, zipfile
d = sys.argv[1]
for name in sorted(os.listdir(f"{d}/corpus")):
    path = f"{d}/corpus/{name}"
    if name.endswith(".json") or os.path.getsize(path) > 16384:
        continue
    shutil.copy(path, f"{d}/unpack/{name}")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                for entry in z.namelist():
                    if entry.endswith("data.pkl"):
                        with open(f"{d}/pickle/{name}", "wb") as f:
                            f.write(b"\0" + z.read(entry))
        except zipfile.BadZipFile:
            pass    # the fixtures with damaged CRCs
PY
rm -rf "$dir/corpus"
