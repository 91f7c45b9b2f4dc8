# What t2m-unpack says about a few corrupt safetensors files, exactly.
mkdir bad
$PYTHON -m gen_st bad bad || exit 3
cd bad || exit 3
for name in len-past-end not-utf8-name dtype-unknown extent-mismatch \
    offsets-hole offsets-overlap name-twice meta-number-value \
    trailing-garbage data-trailing data-truncated; do
	t2m-unpack $name
	[ $? -eq 1 ] || exit 3
done
exit 1
