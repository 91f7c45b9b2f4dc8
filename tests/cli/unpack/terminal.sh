# A program whose input would be a terminal refuses it, pointing at -h,
# rather than waiting for binary data typed by hand; exit 1.  script(1)
# gives each a terminal for its standard input.
set -u
status=0
for p in t2m-analyze "t2m-cast -t f16" t2m-ls "t2m-pack out.st" t2m-rename \
    t2m-transpose t2m-unpack; do
	script -qec "$p" /dev/null < /dev/null > out 2>&1
	rc=$?
	msg="${p%% *}: <stdin>: refusing to read binary data from a terminal (-h for help)"
	if [ $rc -ne 1 ] || ! tr -d '\r' < out | grep -qxF "$msg"; then
		echo "FAIL: $p: exit $rc: $(cat out)"
		status=1
	fi
	[ ! -e out.st ] || { echo "FAIL: $p: wrote out.st"; status=1; }
done
exit $status
