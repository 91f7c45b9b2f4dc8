# Empty input (/dev/null, an empty pipe): one line each, exit 1, nothing
# on stdout.
t2m-cast -t f16 < /dev/null
[ $? -eq 1 ] || exit 3
: | t2m-cast -t f16
