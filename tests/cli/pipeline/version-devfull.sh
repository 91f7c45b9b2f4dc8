# --version to a full device fails like any other output (a filter never
# reports success for output it lost).
set -u
status=0
for p in t2m-unpack t2m-pack t2m-ls; do
	$p --version > /dev/full 2> /dev/null
	rc=$?
	[ $rc -eq 1 ] || { echo "FAIL: $p --version > /dev/full: exit status $rc"; status=1; }
done
exit $status
