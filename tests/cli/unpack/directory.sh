# A directory is not read: one line, exit 1, nothing on stdout.
mkdir d
t2m-unpack d
