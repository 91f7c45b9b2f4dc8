# The shards' metadata, made one: the union, the first shard's value kept
# where two disagree (with a warning naming the later shard).  The
# recipes for the way back (t2m.reverse, possibly cut in pieces .2, .3)
# are merged: two shards' recipes for one tensor must agree, and a
# recipe that is not JSON is refused.
"$PYTHON" "$T2M_TOP/tests/cli/shards/fixture.py" --only st || exit 3
bad=0
"$PYTHON" - <<'PY' || exit 3
import json
import shutil

import st

S = "model-%05d-of-00003.safetensors"


def meta(d, k, m):
    _, t, _ = st.read("st/" + S % k)
    st.write("%s/%s" % (d, S % k), t, metadata=m)


def recipes(r, consumed):
    return json.dumps({"recipes": r, "consumed": consumed})


for d in ("notes", "merged", "clash", "damaged"):
    shutil.copytree("st", d)
meta("notes", 1, {"format": "pt", "note": "one"})
meta("notes", 2, {"format": "pt", "note": "two", "only": "here"})
# Shard 1's recipe in two pieces; shard 3 repeats one of shard 2's.
one = recipes({"a": {"from": "x"}}, ["x"])
meta("merged", 1, {"t2m.reverse": one[:10], "t2m.reverse.2": one[10:]})
meta("merged", 2, {"t2m.reverse": recipes({"b": {"from": "y"}}, ["y"])})
meta("merged", 3, {"t2m.reverse": recipes({"b": {"from": "y"},
                                           "c": {"from": "z"}}, ["y", "z"])})
meta("clash", 1, {"t2m.reverse": recipes({"a": {"from": "x"}}, ["x"])})
meta("clash", 2, {"t2m.reverse": recipes({"a": {"from": "w"}}, ["w"])})
meta("damaged", 1, {"t2m.reverse": recipes({"a": {"from": "x"}}, ["x"])})
meta("damaged", 3, {"t2m.reverse": "{\"recipes\": "})
PY
t2m-unpack notes | t2m-ls -l | grep '^metadata'
t2m-unpack merged | t2m-ls -j | "$PYTHON" -c '
import json, sys
print(json.loads(json.load(sys.stdin)["metadata"]["t2m.reverse"]))'
for d in clash damaged; do
	t2m-unpack $d > out.t2m
	[ $? -eq 1 ] && [ ! -s out.t2m ] || bad=1
done
exit $bad
