# stdout on a full device: the write error, exit 1.
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack in.st > /dev/full
