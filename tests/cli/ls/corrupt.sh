# Damaged streams (streamtool.damaged): t2m-ls exits 1 with one line
# naming the record at fault and what is wrong, and prints nothing on
# stdout.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
mkdir bad
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack -C 16 in.st > s && $PYTHON -m streamtool bad s bad || exit 3

while IFS='	' read -r name where what; do
	t2m-ls bad/$name > out 2> err
	rc=$?
	[ $rc -eq 1 ] || fail "$name: exit status $rc"
	[ -s out ] && fail "$name: wrote to stdout"
	case $where in -) want="t2m-ls: bad/$name: " ;; *) want="t2m-ls: bad/$name: $where: " ;; esac
	{ IFS= read -r line && ! IFS= read -r more && [ -z "$more" ]; } < err &&
	    case $line in "$want"*"$what"*) true ;; *) false ;; esac ||
	    fail "$name: stderr: $(cat err) (expected '$want...$what...')"
done < bad/LIST
exit $status
