# A safetensors file cut short anywhere, read from a pipe (size unknown):
# exit 1 with one line naming <stdin> and the fault.  Whatever reached
# stdout before the fault is no valid stream: it has no end record, and
# t2m-ls refuses it.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
mkdir p
$PYTHON -m gen_st small in.st && $PYTHON -m gen_st cuts in.st p || exit 3

while IFS='	' read -r n region; do
	cat p/$n | t2m-unpack > out 2> err
	rc=$?
	[ $rc -eq 1 ] || fail "$n: exit status $rc"
	case $region in
	len) what="not a checkpoint format" ;;
	header) what="truncated header" ;;
	data) what="is truncated" ;;
	esac
	{ IFS= read -r line && ! IFS= read -r more && [ -z "$more" ]; } < err &&
	    case $line in "t2m-unpack: <stdin>: "*"$what"*) true ;; *) false ;; esac ||
	    fail "$n ($region): stderr: $(cat err)"
	if [ -s out ]; then
		[ $region = data ] || fail "$n: $region fault, yet output written"
		t2m-ls out > /dev/null 2>&1 && fail "$n: partial output is valid"
	fi
done < p/LIST
exit $status
