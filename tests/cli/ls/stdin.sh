# The stream as a file operand, as '-', as stdin from a file and from a
# pipe: the same listing.
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack in.st > s || exit 3
t2m-ls -l s > a || exit 1
t2m-ls -l - < s > b || exit 1
t2m-ls -l < s > c || exit 1
cat s | t2m-ls -l > d || exit 1
cmp a b && cmp a c && cmp a d
