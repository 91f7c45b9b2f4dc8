# A file that is not there, a directory: one line each, exit 1.
t2m-ls no-such
[ $? -eq 1 ] || exit 3
mkdir d
t2m-ls d
