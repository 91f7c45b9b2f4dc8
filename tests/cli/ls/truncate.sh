# A stream cut short at every record boundary and inside every record,
# and inside the stream header, read as a file and from a pipe: t2m-ls
# exits 1 with one line naming the record where the stream broke off, and
# prints nothing on stdout (it checks the whole stream first).
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
mkdir p
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack -C 16 in.st > s && $PYTHON -m streamtool cuts s p || exit 3

check() {	# WHAT PREFIX
	[ $rc -eq 1 ] || fail "$1: exit status $rc"
	[ -s out ] && fail "$1: wrote to stdout"
	case $where in -) want="$2" ;; *) want="$2$where: " ;; esac
	{ IFS= read -r line && ! IFS= read -r more && [ -z "$more" ]; } < err &&
	    case $line in "$want"*) true ;; *) false ;; esac ||
	    fail "$1: stderr: $(cat err) (expected '$want...')"
}
while IFS='	' read -r n where; do
	t2m-ls p/$n > out 2> err
	rc=$?
	check "$n" "t2m-ls: p/$n: "
	cat p/$n | t2m-ls -j > out 2> err
	rc=$?
	check "$n from a pipe" "t2m-ls: <stdin>: "
done < p/LIST
exit $status
