# A checkpoint and its stream give the same report; from a file no tensor
# data is read (a legacy file cut after its pickles still analyses); the
# report is JSON to a pipe and a table with -t; -p passes the stream on
# unchanged and writes the report to a file; a broken stream reports
# nothing and exits 1.
set -eu
$PYTHON - <<'PY'
import torch, torch.nn as nn
m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
torch.save(m, "m.pt")
torch.save(m.state_dict(), "legacy.pt", _use_new_zipfile_serialization=False)
data = open("legacy.pt", "rb").read()
# The five pickles end before the storages: keep only them.
import pickletools, io
f = io.BytesIO(data)
for _ in range(5):
    pickletools.dis(f, out=io.StringIO())
open("cut.pt", "wb").write(data[:f.tell()])
PY
t2m-analyze m.pt > a.json
t2m-unpack m.pt | t2m-analyze > b.json
cmp a.json b.json
t2m-analyze - < m.pt > c.json
$PYTHON -c "
import json
a, c = json.load(open('a.json')), json.load(open('c.json'))
a['source'].pop('path'); c['source'].pop('path')
assert a == c
assert sorted(a) == ['blockers', 'coverage', 'layers', 'plan', 'schema', 'source', 'tensors', 'warnings']
assert a['schema'] == 1 and a['tensors']['count'] == 9
assert {l['path']: l['status'] for l in a['layers']} == {'0': 'convertible', '1': 'convertible', '2': 'attention', '3': 'convertible'}
assert [p for p in a['plan'] if p['name'] == '0.weight'][0]['to'][0]['shape'] == [4, 3, 3, 3]
"
# No tensor data read from a file: the storages are not even there.
if t2m-unpack cut.pt > /dev/null 2>&1; then echo "cut.pt unpacked"; exit 1; fi
t2m-analyze cut.pt > cut.json
grep -q '"count":9' cut.json
# A table with -t.
t2m-analyze -t m.pt > table.txt
grep -q '^coverage  100.0% of layers, 100.0% of parameters$' table.txt
grep -q '^0  *Conv2d  *Conv2d  *conv  *convertible  *file$' table.txt
# -p: the stream passes unchanged; the report lands in a file.
t2m-unpack m.pt | t2m-analyze -p report.json | t2m-ls > ls1
t2m-unpack m.pt | t2m-ls > ls2
cmp ls1 ls2
cmp report.json a.json
# A truncated stream: nothing on stdout, no report file, exit 1.
t2m-unpack m.pt > s.t2m
head -c 600 s.t2m > short.t2m
if t2m-analyze short.t2m > out 2> err; then echo "accepted"; exit 1; fi
[ ! -s out ] && [ "$(wc -l < err)" -eq 1 ]
if t2m-analyze -p rep2.json < short.t2m > /dev/null 2>&1; then exit 1; fi
[ ! -e rep2.json ]
ls -A | grep -v '^\.std' | grep -q '^\.' && { echo "temporary left"; exit 1; }
# Bad usage.
set +e
t2m-analyze -x > out 2> err; [ $? -eq 2 ] && [ ! -s out ] || exit 1
t2m-analyze a b > out 2> err; [ $? -eq 2 ] || exit 1
t2m-analyze -p r.json m.pt > out 2> err; [ $? -eq 1 ] || exit 1
grep -q "this is a checkpoint" err || exit 1
exit 0
