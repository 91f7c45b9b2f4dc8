# Huge sizes: element counts of 2^62 and 2^63, shapes and strides whose
# products overflow, 65 dimensions, string and integer lengths of up to
# 2^64-1 in the pickle, safetensors headers promising 2^60 bytes; each
# ends in one line saying what is wrong, with nothing allocated for what
# is only claimed.  100000 storages and 20000 tensors convert within 2 s
# (lookups by key must not be quadratic).  A stride-0 tensor of 2^40
# elements (what torch saves for an expanded tensor) is listed, but not
# converted: 4 TiB written out is past the 1 GiB that such views may
# take.
# The cases and their expectations: tests/lib/hostile.py, fam_sizes.
set -u
status=0
$PYTHON -m hostile sizes sizes || exit 3
$PYTHON -m hostile check sizes || status=1
# 4 TiB of output from a 4-byte storage: refused at once, before any
# stream is written.
timeout 20 t2m-unpack 'sizes/expand-2^40.pt' > out 2> err
rc=$?
[ $rc -eq 1 ] && [ ! -s out ] && [ "$(cat err)" = "t2m-unpack: sizes/expand-2^40.pt: tensor 'x' repeats elements of its storage (stride 0, as expand() makes): with those before it, more than 1024 MiB to write out" ] ||
    { echo "FAIL: the expanded tensor: exit $rc, $(cat err)"; status=1; }
exit $status
