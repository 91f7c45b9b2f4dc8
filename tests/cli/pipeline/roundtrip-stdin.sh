# The input may come as a file operand, as '-', or as plain stdin, from a
# file or a pipe; the packed result is the same.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }

$PYTHON -m gen_st corpus in.st || exit 1
t2m-unpack in.st | t2m-pack file.st || fail "file: exit status $?"
$PYTHON -m gen_st same in.st file.st || fail "file: tensors differ"

t2m-unpack - < in.st | t2m-pack dash.st || fail "- < file: exit status $?"
cmp file.st dash.st || fail "- < file differs"
t2m-unpack < in.st | t2m-pack redir.st || fail "< file: exit status $?"
cmp file.st redir.st || fail "< file differs"
cat in.st | t2m-unpack | t2m-pack pipe.st || fail "cat |: exit status $?"
cmp file.st pipe.st || fail "cat | differs"
cat in.st | t2m-unpack - | t2m-pack pipedash.st || fail "cat | -: exit $?"
cmp file.st pipedash.st || fail "cat | - differs"

# The manifest names its source: the operand, or <stdin>.
t2m-unpack in.st | t2m-ls -l | grep '^info source=' > src1
t2m-unpack < in.st | t2m-ls -l | grep '^info source=' > src2
printf 'info source=in.st\n' | cmp - src1 || fail "source of a file: $(cat src1)"
printf 'info source=<stdin>\n' | cmp - src2 || fail "source of stdin: $(cat src2)"
exit $status
