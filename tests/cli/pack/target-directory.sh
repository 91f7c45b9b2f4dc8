# A directory as the target is refused, and nothing is left in it.
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack in.st > s || exit 3
mkdir d
t2m-pack d < s
rc=$?
[ -z "$(ls -A d)" ] || { echo "FAIL: files left: $(ls -A d)"; exit 3; }
exit $rc
