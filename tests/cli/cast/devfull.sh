# Writing to a full device: the write error, naming the output, exit 1.
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack in.st > s || exit 3
t2m-cast -t bf16 < s > /dev/full
