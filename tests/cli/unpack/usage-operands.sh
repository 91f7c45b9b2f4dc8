# Two operands: the usage line, exit 2, nothing on stdout.
printf 'x' > a
t2m-unpack a a
