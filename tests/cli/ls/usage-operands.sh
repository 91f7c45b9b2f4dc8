# Two operands: the usage line, exit 2, nothing on stdout.
t2m-ls a b
