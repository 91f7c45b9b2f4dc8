# Odd but valid streams (a newer minor version, ancillary records before
# the manifest and between records, tensors interleaved, records of one
# byte): t2m-pack makes from each the file it makes from the plain stream.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
mkdir good
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack -C 16 in.st > s && $PYTHON -m streamtool good s good || exit 3
t2m-pack want.st < s || exit 3

while read -r name; do
	t2m-pack out.st < good/$name 2> err || fail "$name: exit status $?: $(cat err)"
	cmp want.st out.st || fail "$name: output differs"
	rm -f out.st
done < good/LIST
exit $status
