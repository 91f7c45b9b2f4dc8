# Odd but valid streams (a newer minor version, ancillary records, tensors
# interleaved, records of one byte): t2m-ls accepts each and lists what
# it lists for the plain stream.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
mkdir good
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack -C 16 in.st > s && $PYTHON -m streamtool good s good || exit 3
t2m-ls -l s > want || exit 3

while read -r name; do
	t2m-ls -l good/$name > out 2> err || fail "$name: exit status $?: $(cat err)"
	cmp want out || fail "$name: listing differs"
done < good/LIST
exit $status
