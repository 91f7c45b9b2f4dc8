# The table: dtype, shape, bytes, name, in manifest (data) order; a total.
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack in.st | t2m-ls
