# A target in a directory that does not exist: the reason, exit 1.
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack in.st > s || exit 3
t2m-pack no-such/out.st < s
