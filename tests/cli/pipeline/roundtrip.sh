# Round trip: every dtype as a vector, a matrix, a scalar and an empty
# tensor, non-ASCII names, names JSON must escape, metadata; the source
# written four ways (plain; data reversed with keys shuffled; \u escapes;
# white space without padding).  `t2m-unpack a | t2m-pack b` keeps every
# tensor bit for bit and value for value (st.py reads both files, no t2m
# code), lays b out as t2m-pack promises, makes one same file from all
# four sources, and gives a byte-identical file when run on its own output.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }

pairs=
for v in plain reversed ascii spaced; do
	$PYTHON -m gen_st corpus in-$v.st --$v || exit 1
	t2m-unpack in-$v.st | t2m-pack out-$v.st || fail "$v: exit status $?"
	cmp out-plain.st out-$v.st || fail "$v: output differs from plain's"
	pairs="$pairs in-$v.st out-$v.st"
done
$PYTHON -m gen_st same $pairs || fail "tensors differ"
$PYTHON -m gen_st layout out-plain.st || fail "layout"
t2m-unpack out-plain.st | t2m-pack again.st || fail "second pass: exit $?"
cmp out-plain.st again.st || fail "second pass changed the file"
exit $status
