# A 3 MiB tensor crosses the default record size (1 MiB) and every
# buffer; the stream carries it in records of exactly 1 MiB, and a record
# size that does not divide it (-C 1048575) makes the same file.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }

$PYTHON -m gen_st big in.st 3 || exit 1
t2m-unpack in.st > s || fail "exit status $?"
t2m-pack out.st < s || fail "t2m-pack exit status $?"
$PYTHON -m gen_st same in.st out.st || fail "tensors differ"
$PYTHON -m streamtool records s | awk '$3 == "DATA" && $4 == 0 { print $6 }' > sizes
printf '1048576\n1048576\n1048576\n' | cmp - sizes || fail "records: $(cat sizes)"
t2m-unpack -C 1048575 in.st | t2m-pack odd.st || fail "-C 1048575: exit $?"
cmp out.st odd.st || fail "-C 1048575: output differs"
exit $status
