# Each shard is read twice: for the manifest, then for its data.  A shard
# replaced in between (here while t2m-unpack waits to write a manifest
# larger than a pipe holds) no longer says what the manifest says: exit 1,
# a message naming it, and a stream without an end record, which no
# reader takes - never data under the wrong name or shape.
"$PYTHON" "$T2M_TOP/tests/cli/shards/fixture.py" --only st --many 40000 ||
    exit 3
"$PYTHON" - <<'PY'
import os
import subprocess
import sys

import st

p = subprocess.Popen(["t2m-unpack", "st"], stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE)
# A byte of the stream: the first pass is over, the manifest not all
# written, so the second has not begun.
if len(p.stdout.read(1)) != 1:
    sys.exit("no stream")
shard = "st/model-00001-of-00003.safetensors"
meta, t, _ = st.read(shard)
t["conv.bias"] = ("F32", (8,), bytes(32))
st.write("new.safetensors", t, metadata=meta)
os.rename("new.safetensors", shard)
stream = p.stdout.read()
sys.stderr.write(p.stderr.read().decode())
if p.wait() != 1:
    sys.exit("exit %d" % p.returncode)
with open("out.t2m", "wb") as f:
    f.write(b"\x89" + stream)
PY
[ $? -eq 0 ] || exit 3
t2m-ls out.t2m > /dev/null 2>&1 && exit 3
# And unchanged, the same shards convert.
rm -r st
"$PYTHON" "$T2M_TOP/tests/cli/shards/fixture.py" --only st --many 40000 ||
    exit 3
t2m-unpack st | t2m-pack all.safetensors
"$PYTHON" "$T2M_TOP/tests/cli/shards/same.py" full.safetensors \
    all.safetensors
