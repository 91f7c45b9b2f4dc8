# A stream cut short at every record boundary and inside every record:
# t2m-rename exits 1 with one line naming the record where the stream
# broke off, and what it wrote has no end record - the tensor it drops and
# the ones it renames alike.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
mkdir p
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack -C 16 in.st > s && $PYTHON -m streamtool cuts s p || exit 3
# The whole stream goes through, or the cuts prove nothing; d.bias
# (dropped) and a.weight (renamed) have data records.
t2m-rename -d 'd.*' -s a=x < s | t2m-ls > whole.txt || fail "the whole stream"
grep -q ' x\.weight$' whole.txt && ! grep -q 'd\.bias' whole.txt ||
    fail "the whole stream: $(cat whole.txt)"

while IFS='	' read -r n where; do
	t2m-rename -d 'd.*' -s a=x < p/$n > out 2> err
	rc=$?
	[ $rc -eq 1 ] || fail "$n: exit status $rc"
	case $where in -) want="t2m-rename: <stdin>: " ;;
	*) want="t2m-rename: <stdin>: $where: " ;; esac
	{ IFS= read -r line && ! IFS= read -r more && [ -z "$more" ]; } < err &&
	    case $line in "$want"*) true ;; *) false ;; esac ||
	    fail "$n: stderr: $(cat err) (expected '$want...')"
	t2m-ls out > /dev/null 2>&1 && fail "$n: the output has an end record"
	cat p/$n | t2m-rename -p a -k '[ad]*' > out 2> /dev/null
	rc=$?
	[ $rc -eq 1 ] || fail "$n from a pipe: exit status $rc"
	t2m-ls out > /dev/null 2>&1 && fail "$n from a pipe: end record"
done < p/LIST
exit $status
