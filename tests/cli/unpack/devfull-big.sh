# stdout on a full device, with records larger than the output buffer
# (written straight through) and from a pipe: the write error, exit 1.
$PYTHON -m gen_st big in.st 1 || exit 3
t2m-unpack -C 1M in.st > /dev/full
[ $? -eq 1 ] || exit 3
cat in.st | t2m-unpack -C 300K > /dev/full
