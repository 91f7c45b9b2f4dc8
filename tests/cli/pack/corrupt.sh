# Damaged streams (streamtool.damaged: bad magic, a flipped bit in each
# header and checksum, unknown tags, bad versions and flags, manifest
# faults, out-of-order or overrunning data, wrong end counts, data after
# the end): t2m-pack exits 1 with one line naming the record at fault and
# what is wrong, and leaves no file.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
mkdir bad w
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack -C 16 in.st > s && $PYTHON -m streamtool bad s bad || exit 3

while IFS='	' read -r name where what; do
	t2m-pack w/out.st < bad/$name > out 2> err
	rc=$?
	[ $rc -eq 1 ] || fail "$name: exit status $rc"
	[ -s out ] && fail "$name: wrote to stdout"
	case $where in -) want="t2m-pack: <stdin>: " ;; *) want="t2m-pack: <stdin>: $where: " ;; esac
	{ IFS= read -r line && ! IFS= read -r more && [ -z "$more" ]; } < err &&
	    case $line in "$want"*"$what"*) true ;; *) false ;; esac ||
	    fail "$name: stderr: $(cat err) (expected '$want...$what...')"
	for f in w/* w/.[!.]*; do
		[ -e "$f" ] && fail "$name: left $f" && rm -f "$f"
	done
done < bad/LIST
exit $status
