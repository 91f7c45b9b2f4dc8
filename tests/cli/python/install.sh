# pip installs scripts/python (offline: no index, no build isolation,
# into a directory), with the t2m programs copied into torch2mlx/bin/
# first, as README.md says; the installed package works with only torch
# (numpy hidden) and finds the programs in its bin/ when they are on
# neither $PATH nor $T2M_BIN.  With bin/ taken away, the missing filter
# is an error naming where it was looked for.  The build happens in a
# copy: nothing is written into the source tree.
set -e
cp -R "$T2M_TOP/scripts/python" pkg
rm -rf pkg/build pkg/*.egg-info pkg/torch2mlx/bin
mkdir pkg/torch2mlx/bin
cp "$T2M_BUILD"/bin/t2m-* pkg/torch2mlx/bin/
"$PYTHON" -m pip install -q --no-index --no-build-isolation --no-deps \
    --target site ./pkg > pip.log 2>&1 || { cat pip.log; exit 1; }
mkdir -p nonumpy/numpy
echo 'raise ModuleNotFoundError("numpy hidden by the test", name="numpy")' \
    > nonumpy/numpy/__init__.py

# Neither the build directory on PATH nor T2M_BIN.
PATH=$(echo "$PATH" | tr : '\n' | grep -vx "$T2M_BUILD/bin" | paste -sd: -)
PYTHONPATH=$PWD/nonumpy:$PWD/site
unset T2M_BIN
export PATH PYTHONPATH
exec "$PYTHON" -W ignore - <<'EOF'
import os, sys
import torch, torch2mlx
here = os.path.join(os.getcwd(), "site", "torch2mlx")
assert torch2mlx.__file__.startswith(here), torch2mlx.__file__
assert "numpy" not in sys.modules
r = torch2mlx.export(torch.nn.Conv2d(2, 3, 3), "w.safetensors")
assert torch2mlx.find("t2m-pack") == os.path.join(here, "bin", "t2m-pack")
assert r.coverage.layers == 1 and r.report.tensors.count == 2
print("ok installed: converted with", torch2mlx.find("t2m-pack"))
os.rename(os.path.join(here, "bin"), "away")
try:
    torch2mlx.export(torch.nn.Conv2d(2, 3, 3), "w.safetensors")
    sys.exit("FAIL: converted without the programs")
except torch2mlx.FilterNotFoundError as e:
    assert os.path.join(here, "bin") in str(e), e
    print("ok without bin/:", e)
EOF
