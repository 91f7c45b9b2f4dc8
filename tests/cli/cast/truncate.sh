# A stream cut short at every record boundary and inside every record
# (first, middle and last byte of its header; first, middle and last
# byte of its payload), and inside the stream header: t2m-cast exits 1
# with one line naming the record where the stream broke off, and what it
# wrote has no end record.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
mkdir p
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack -C 16 in.st > s && $PYTHON -m streamtool cuts s p || exit 3

while IFS='	' read -r n where; do
	t2m-cast -t f32 -i i16 < p/$n > out 2> err
	rc=$?
	[ $rc -eq 1 ] || fail "$n: exit status $rc"
	case $where in -) want="t2m-cast: <stdin>: " ;; *) want="t2m-cast: <stdin>: $where: " ;; esac
	{ IFS= read -r line && ! IFS= read -r more && [ -z "$more" ]; } < err &&
	    case $line in "$want"*) true ;; *) false ;; esac ||
	    fail "$n: stderr: $(cat err) (expected '$want...')"
	[ -s out ] && t2m-ls out > /dev/null 2>&1 &&
	    fail "$n: its output was accepted"
done < p/LIST
[ "$(wc -l < p/LIST)" -gt 80 ] || fail "only $(wc -l < p/LIST) cuts"
# The whole stream is fine.
t2m-cast -t f32 -i i16 < s > out && t2m-ls out > /dev/null || fail "whole"
exit $status
