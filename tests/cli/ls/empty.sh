# Empty input (an empty file, /dev/null, empty stdin from a pipe): one
# line each, exit 1, nothing on stdout.
: > empty
t2m-ls empty
[ $? -eq 1 ] || exit 3
t2m-ls /dev/null
[ $? -eq 1 ] || exit 3
: | t2m-ls
