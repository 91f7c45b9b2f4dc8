# A character device is written directly, not replaced: /dev/null takes
# the file and stays what it is.
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack in.st > s || exit 3
t2m-pack /dev/null < s || exit 1
[ -c /dev/null ] || { echo "FAIL: /dev/null is no longer a device"; exit 1; }
