# -l adds the source information and the metadata.
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack in.st | t2m-ls -l
