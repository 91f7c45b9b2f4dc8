# A safetensors file cut short anywhere (inside the length, the header,
# at and inside every tensor's data) and read as a file: exit 1, one line
# naming the file and the fault, nothing on stdout (the size is checked
# against the header before anything is written).
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
mkdir p
$PYTHON -m gen_st small in.st && $PYTHON -m gen_st cuts in.st p || exit 3

while IFS='	' read -r n region; do
	t2m-unpack p/$n > out 2> err
	rc=$?
	[ $rc -eq 1 ] || fail "$n: exit status $rc"
	[ -s out ] && fail "$n: wrote to stdout"
	case $region in
	len) what="not a checkpoint format" ;;
	header) what="runs past the end of the $n-byte file" ;;
	data) what="truncated: the header promises" ;;
	esac
	{ IFS= read -r line && ! IFS= read -r more && [ -z "$more" ]; } < err &&
	    case $line in "t2m-unpack: p/$n: "*"$what"*) true ;; *) false ;; esac ||
	    fail "$n ($region): stderr: $(cat err)"
done < p/LIST
exit $status
