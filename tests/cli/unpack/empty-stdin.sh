# Empty stdin, from a pipe and from /dev/null: one line each, exit 1.
t2m-unpack < /dev/null
[ $? -eq 1 ] || exit 3
: | t2m-unpack -
