# A FIFO as the target is refused (it is not opened: nothing would read
# it), and no temporary is left beside it.
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack in.st > s || exit 3
mkdir d
mkfifo d/f
t2m-pack d/f < s
rc=$?
[ "$(ls -A d)" = f ] || { echo "FAIL: files left: $(ls -A d)"; exit 3; }
exit $rc
