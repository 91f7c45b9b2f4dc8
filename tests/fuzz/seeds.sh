#!/bin/sh
# tests/fuzz/seeds.sh DIR - seed corpora for the fuzz targets, made from
# the PyTorch corpus (real torch): DIR/unpack holds small checkpoints of
# every format, DIR/pickle their data.pkl pickles (a mode byte first),
# DIR/stream (and DIR/cast, DIR/pack, DIR/rename) their t2m streams.
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
# DIR/stream: the streams of those checkpoints, as they are and converted,
# in small records (t2m-unpack and t2m-transpose from $T2M_BIN).
mkdir -p "$dir/stream"
bin=${T2M_BIN:-$top/build/bin}
for f in "$dir"/unpack/*; do
	s="$dir/stream/$(basename "$f")"
	"$bin/t2m-unpack" -C 64 "$f" > "$s" 2> /dev/null || rm -f "$s"
	[ -s "$s" ] || { rm -f "$s"; continue; }
	"$bin/t2m-transpose" < "$s" > "$s.mlx" 2> /dev/null || rm -f "$s.mlx"
	# Records of 7 bytes cut elements in two, as a pipe's reads can.
	"$bin/t2m-unpack" -C 7 "$f" > "$s.c7" 2> /dev/null || rm -f "$s.c7"
done
# DIR/cast, DIR/pack and DIR/rename: the same streams, for those filters.
ln -s stream "$dir/cast"
ln -s stream "$dir/pack"
ln -s stream "$dir/rename"
