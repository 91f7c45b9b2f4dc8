# -j: the manifest as one line of JSON; -l changes nothing then.
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack in.st > s || exit 3
t2m-ls -j s
t2m-ls -lj - < s
