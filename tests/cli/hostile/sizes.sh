# Huge sizes: element counts of 2^62 and 2^63, shapes and strides whose
# products overflow, 65 dimensions, string and integer lengths of up to
# 2^64-1 in the pickle, safetensors headers promising 2^60 bytes; each
# ends in one line saying what is wrong, with nothing allocated for what
# is only claimed.  100000 storages and 20000 tensors convert within 2 s
# (lookups by key must not be quadratic).  A stride-0 tensor of 2^40
# elements (what torch saves for an expanded tensor) is listed, and its
# stream starts at once.
# The cases and their expectations: tests/lib/hostile.py, fam_sizes.
set -u
status=0
$PYTHON -m hostile sizes sizes || exit 3
$PYTHON -m hostile check sizes || status=1
# 4 TiB of output from a 4-byte storage: written as it is made, so the
# first MiB comes at once and SIGPIPE ends the rest.
timeout 20 sh -c "t2m-unpack 'sizes/expand-2^40.pt' | head -c 1048576 > head"
[ "$(wc -c < head)" -eq 1048576 ] ||
    { echo "FAIL: the expanded tensor's stream did not start"; status=1; }
exit $status
