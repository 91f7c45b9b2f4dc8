# Inputs that are no checkpoint t2m knows: text, a t2m stream (already
# unpacked).  One line each, naming the input; exit 1; nothing on stdout.
printf 'hello, world\n' > text
t2m-unpack text
[ $? -eq 1 ] || exit 3
printf '\002\000\000\000\000\000\000\000{}' > in.st
t2m-unpack in.st > s 2>/dev/null || exit 3
t2m-unpack s
