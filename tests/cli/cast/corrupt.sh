# Damaged streams (streamtool.damaged): t2m-cast exits 1 with one line
# naming the record at fault and what is wrong, and what it wrote has no
# end record.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
mkdir bad
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack -C 16 in.st > s && $PYTHON -m streamtool bad s bad || exit 3

while IFS='	' read -r name where what; do
	t2m-cast -t f32 -i i16 < bad/$name > out 2> err
	rc=$?
	[ $rc -eq 1 ] || fail "$name: exit status $rc"
	case $where in -) want="t2m-cast: <stdin>: " ;; *) want="t2m-cast: <stdin>: $where: " ;; esac
	{ IFS= read -r line && ! IFS= read -r more && [ -z "$more" ]; } < err &&
	    case $line in "$want"*"$what"*) true ;; *) false ;; esac ||
	    fail "$name: stderr: $(cat err) (expected '$want...$what...')"
	[ -s out ] && t2m-ls out > /dev/null 2>&1 &&
	    fail "$name: its output was accepted"
done < bad/LIST
exit $status
