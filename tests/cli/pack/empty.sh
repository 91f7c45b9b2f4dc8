# Empty stdin, from /dev/null and from a pipe: one line each, exit 1, no
# output file.
mkdir w && cd w || exit 3
t2m-pack out.st < /dev/null
[ $? -eq 1 ] || exit 3
[ -z "$(ls -A)" ] || { echo "FAIL: files left: $(ls -A)"; exit 3; }
: | t2m-pack out.st
rc=$?
[ -z "$(ls -A)" ] || { echo "FAIL: files left: $(ls -A)"; exit 3; }
exit $rc
