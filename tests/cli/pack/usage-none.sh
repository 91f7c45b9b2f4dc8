# No operand: the usage line, exit 2, nothing on stdout; stdin unread.
printf '\002\000\000\000\000\000\000\000{}' > in.st
t2m-unpack in.st > s || exit 3
t2m-pack < s
