# Two operands: the usage line, exit 2, nothing written anywhere.
printf '\002\000\000\000\000\000\000\000{}' > in.st
t2m-unpack in.st > s || exit 3
mkdir w
cd w && t2m-pack a.st b.st < ../s
rc=$?
[ -z "$(ls -A)" ] || { echo "FAIL: files left: $(ls -A)"; exit 3; }
exit $rc
