# The PyTorch corpus: scripts/gen-torch-fixtures.py makes every kind of
# checkpoint the issue lists with real torch (Debian's python3-torch);
# expect.py loads each with torch.load and checks that
# t2m-unpack F | t2m-pack out.safetensors holds exactly the same names,
# dtypes, shapes and bytes - from the file and from stdin.  The checker
# first proves it rejects wrong outputs (selftest).
set -e
$PYTHON "$T2M_TOP/scripts/gen-torch-fixtures.py" corpus > gen.log 2>&1 ||
    { cat gen.log; exit 1; }
$PYTHON "$T2M_TOP/tests/torch/expect.py" selftest corpus > selftest.log 2>&1 ||
    { tail -20 selftest.log; exit 1; }
$PYTHON "$T2M_TOP/tests/torch/expect.py" run -b "$T2M_BUILD/bin" \
    corpus/*.json > file.log 2>&1 || { grep -v '^ok' file.log; exit 1; }
$PYTHON "$T2M_TOP/tests/torch/expect.py" run -b "$T2M_BUILD/bin" --stdin \
    corpus/*.json > stdin.log 2>&1 || { grep -v '^ok' stdin.log; exit 1; }
tail -1 file.log
tail -1 stdin.log
