# The corrupt corpus (gen_st.BAD): one file per rule of the safetensors
# reader, each read as a file and from a pipe.  Exit 1, one line naming
# the input and the fault.  From a file every fault is found before
# anything is written; from a pipe only the size faults (trailing bytes,
# short data) come after the manifest went out.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
mkdir bad
$PYTHON -m gen_st bad bad || exit 3

one_line() {	# FILE PREFIX WHAT
	{ IFS= read -r line && ! IFS= read -r more && [ -z "$more" ]; } < "$1" &&
	    case $line in "$2"*"$3"*) true ;; *) false ;; esac
}

while IFS='	' read -r name late what; do
	t2m-unpack bad/$name > out 2> err
	rc=$?
	[ $rc -eq 1 ] || fail "$name: exit status $rc"
	[ -s out ] && fail "$name: wrote to stdout"
	one_line err "t2m-unpack: bad/$name: " "$what" ||
	    fail "$name: stderr: $(cat err)"

	cat bad/$name | t2m-unpack > out 2> err
	rc=$?
	[ $rc -eq 1 ] || fail "$name from a pipe: exit status $rc"
	[ -s out ] && [ $late = 0 ] && fail "$name from a pipe: wrote to stdout"
	case $name in
	len-past-end) what="truncated header" ;;
	data-truncated) what="is truncated" ;;
	data-trailing) what="data after the last tensor" ;;
	esac
	one_line err "t2m-unpack: <stdin>: " "$what" ||
	    fail "$name from a pipe: stderr: $(cat err)"
done < bad/LIST
exit $status
