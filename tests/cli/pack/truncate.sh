# A stream cut short at every record boundary and inside every record
# (first, middle and last byte of its header; first, middle and last
# byte of its payload), and inside the stream header: t2m-pack exits 1
# with one line naming the record where the stream broke off, and leaves
# neither the output file nor a temporary.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
mkdir p w
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack -C 16 in.st > s && $PYTHON -m streamtool cuts s p || exit 3

while IFS='	' read -r n where; do
	t2m-pack w/out.st < p/$n > out 2> err
	rc=$?
	[ $rc -eq 1 ] || fail "$n: exit status $rc"
	[ -s out ] && fail "$n: wrote to stdout"
	case $where in -) want="t2m-pack: <stdin>: " ;; *) want="t2m-pack: <stdin>: $where: " ;; esac
	{ IFS= read -r line && ! IFS= read -r more && [ -z "$more" ]; } < err &&
	    case $line in "$want"*) true ;; *) false ;; esac ||
	    fail "$n: stderr: $(cat err) (expected '$want...')"
	for f in w/* w/.[!.]*; do
		[ -e "$f" ] && fail "$n: left $f" && rm -f "$f"
	done
done < p/LIST
[ "$(wc -l < p/LIST)" -gt 80 ] || fail "only $(wc -l < p/LIST) cuts"
exit $status
